//! TLS checks from outside, against real peers: an in-test rustls server with a certificate signed by a
//! station CA, and `openssl s_server` speaking TLS 1.0 as the old-protocol probe's negative control.

use std::net::{IpAddr, SocketAddr, TcpListener as StdListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rcgen::{Attribute, CertificateParams, DnType, KeyPair};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::ServerConfig;
use temper_core::checks::tls_probe::TLS10;
use temper_core::checks::{
    old_protocol_probe, served_certificate, shared_certificates, tls_handshake, CheckError,
    CheckKind, OldAnswer, TlsError,
};
use temper_core::pki::{
    check_csr, CaKeyKind, CertPolicy, DeviceIdentity, SignedCert, StationCa, VerifyError,
};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const SERIAL: &str = "SV2100-0089";
const DNS: &str = "cam-0089.local";
const CHALLENGE: &str = "Zr8-Kq2mWv7xPt4L";
const DEVICE_IP: &str = "127.0.89.1";

/// A device's certificate, signed by a fresh station CA for a key made "on the device".
struct Device {
    ca: StationCa,
    cert: SignedCert,
    spki: Vec<u8>,
    key: KeyPair,
}

fn identity() -> DeviceIdentity {
    DeviceIdentity {
        serial: SERIAL.into(),
        dns: Some(DNS.into()),
        ip: Some(DEVICE_IP.parse().unwrap()),
    }
}

/// A CSR for `key` with the station's challenge in challengePassword (a UTF8String in a SET).
fn csr(key: &KeyPair) -> String {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, SERIAL);
    let mut value = vec![0x0c, CHALLENGE.len() as u8];
    value.extend_from_slice(CHALLENGE.as_bytes());
    let mut set = vec![0x31, value.len() as u8];
    set.extend(value);
    let attr = Attribute {
        oid: &[1, 2, 840, 113549, 1, 9, 7],
        values: set,
    };
    let req = params.serialize_request_with_attributes(key, vec![attr]);
    req.unwrap().pem().unwrap()
}

fn device(ca_name: &str) -> Device {
    let ca = StationCa::generate(CaKeyKind::EcdsaP256, ca_name, SystemTime::now()).unwrap();
    let key = KeyPair::generate().unwrap();
    let policy = CertPolicy::default();
    let checked = check_csr(&csr(&key), &policy, &identity(), CHALLENGE).unwrap();
    let cert = ca
        .sign(&checked, &policy, &identity(), SystemTime::now())
        .unwrap();
    Device {
        spki: checked.spki_der().to_vec(),
        ca,
        cert,
        key,
    }
}

/// Serves `dev`'s certificate over TLS (the given versions) on an ephemeral port of `DEVICE_IP`.
async fn serve(dev: &Device, versions: &[&'static rustls::SupportedProtocolVersion]) -> SocketAddr {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivatePkcs8KeyDer::from(dev.key.serialize_der());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(dev.cert.der.clone())], key.into())
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind((DEVICE_IP, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    addr
}

fn name(s: &str) -> ServerName<'static> {
    ServerName::try_from(s.to_string()).unwrap()
}

fn refusal(result: Result<temper_core::checks::TlsReport, TlsError>) -> VerifyError {
    match result {
        Err(TlsError::Certificate { reason, .. }) => reason,
        other => panic!("expected a certificate refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn handshake_proves_chain_name_and_key_and_reports_version_and_suite() {
    let dev = device("Temper station CA");
    let addr = serve(&dev, rustls::ALL_VERSIONS).await;
    let ca = dev.ca.cert_pem();
    for expected in [name(DNS), ServerName::IpAddress(addr.ip().into())] {
        let report = tls_handshake(addr, ca, expected, Some(&dev.spki), UnixTime::now())
            .await
            .unwrap();
        assert_eq!(report.protocol, "TLS 1.3");
        assert!(report.cipher_suite.starts_with("TLS13_"), "{report:?}");
        assert_eq!(report.leaf_fingerprint_sha256, dev.cert.fingerprint_sha256);
        assert_eq!(report.not_after, dev.cert.not_after);
        assert!(report.summary().contains(&dev.cert.fingerprint_sha256));
    }
    let tls12 = serve(&dev, &[&rustls::version::TLS12]).await;
    let report = tls_handshake(tls12, ca, name(DNS), None, UnixTime::now())
        .await
        .unwrap();
    assert_eq!(report.protocol, "TLS 1.2");
    assert!(
        report.cipher_suite.starts_with("TLS_ECDHE_ECDSA_WITH_"),
        "{report:?}"
    );
}

#[tokio::test]
async fn another_ca_a_wrong_name_an_expired_leaf_and_another_key_are_refused() {
    let dev = device("Temper station CA");
    let addr = serve(&dev, rustls::ALL_VERSIONS).await;
    let ca = dev.ca.cert_pem();
    let now = UnixTime::now;
    let spki = Some(dev.spki.as_slice());

    for other_name in ["Another CA", "Temper station CA"] {
        let other = StationCa::generate(CaKeyKind::EcdsaP256, other_name, SystemTime::now());
        let other = other.unwrap();
        let err = refusal(tls_handshake(addr, other.cert_pem(), name(DNS), spki, now()).await);
        assert!(
            matches!(err, VerifyError::UnknownIssuer | VerifyError::BadSignature),
            "{other_name}: {err}"
        );
    }
    let err = refusal(tls_handshake(addr, ca, name("cam-0090.local"), spki, now()).await);
    assert_eq!(err, VerifyError::NameMismatch("cam-0090.local".into()));
    let wrong_ip = ServerName::IpAddress("127.0.89.2".parse::<IpAddr>().unwrap().into());
    let err = refusal(tls_handshake(addr, ca, wrong_ip, spki, now()).await);
    assert!(matches!(err, VerifyError::NameMismatch(_)), "{err}");

    let later = SystemTime::now() + Duration::from_secs(400 * 86_400);
    let later = UnixTime::since_unix_epoch(later.duration_since(SystemTime::UNIX_EPOCH).unwrap());
    let err = tls_handshake(addr, ca, name(DNS), spki, later).await;
    assert_eq!(refusal(err), VerifyError::Expired);

    let stranger = device("Temper station CA");
    let result = tls_handshake(addr, ca, name(DNS), Some(&stranger.spki), now()).await;
    let err = result.unwrap_err();
    assert!(
        matches!(
            &err,
            TlsError::Certificate {
                reason: VerifyError::KeyMismatch,
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains(&addr.to_string()) && text.contains("key from the device's CSR"));

    let err = tls_handshake(addr, "not a PEM", name(DNS), spki, now()).await;
    assert!(matches!(err, Err(TlsError::BadCa(_))), "{err:?}");
}

#[tokio::test]
async fn served_certificate_reads_the_factory_fingerprint() {
    let dev = device("Factory CA");
    let addr = serve(&dev, rustls::ALL_VERSIONS).await;
    let served = served_certificate(addr).await.unwrap();
    assert_eq!(served.fingerprint_sha256, dev.cert.fingerprint_sha256);
    assert_eq!(served.chain_der, vec![dev.cert.der.clone()]);
    assert_eq!(served.subject, format!("CN={SERIAL}"));
    assert_eq!(served.not_after, dev.cert.not_after);

    let second_unit = serve(&dev, rustls::ALL_VERSIONS).await;
    let again = served_certificate(second_unit).await.unwrap();
    let own = device("Factory CA").cert.fingerprint_sha256;
    let units = [
        ("unit-2", again.fingerprint_sha256.as_str()),
        ("unit-1", served.fingerprint_sha256.as_str()),
        ("unit-3", own.as_str()),
    ];
    let shared = shared_certificates(units);
    assert_eq!(
        shared,
        vec![(
            served.fingerprint_sha256.clone(),
            vec!["unit-1".to_string(), "unit-2".to_string()]
        )]
    );
    let record =
        CheckKind::FactoryCertificateUnique.record("ipcam", false, "shared factory certificate");
    assert_eq!(record.id, "factory-certificate-unique");
    assert!(record
        .guideline
        .contains(&"CERT-MU 4.0 Lack of Transport Encryption".to_string()));
    assert!(record
        .guideline
        .contains(&"ETSI EN 303 645 5.5-1".to_string()));
}

#[tokio::test]
async fn unreachable_service_is_a_check_error() {
    let port = StdListener::bind((DEVICE_IP, 0))
        .unwrap()
        .local_addr()
        .unwrap();
    let dev = device("Temper station CA");
    let err = tls_handshake(port, dev.ca.cert_pem(), name(DNS), None, UnixTime::now()).await;
    assert!(
        matches!(err, Err(TlsError::Check(CheckError::Unreachable { .. }))),
        "{err:?}"
    );
    let err = old_protocol_probe(port).await;
    assert!(
        matches!(err, Err(CheckError::Unreachable { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn rustls_server_refuses_tls10_and_tls11() {
    let dev = device("Temper station CA");
    let addr = serve(&dev, rustls::ALL_VERSIONS).await;
    let old = old_protocol_probe(addr).await.unwrap();
    assert!(
        !old.accepted_tls10 && !old.accepted_tls11,
        "{}",
        old.summary()
    );
    assert!(old.refused_all());
    // rustls refuses with a fatal alert: handshake_failure (no suite in common) or protocol_version.
    for answer in [old.tls10, old.tls11] {
        assert!(
            matches!(
                answer,
                OldAnswer::Alert {
                    level: 2,
                    description: 40 | 70
                }
            ),
            "{}",
            answer.describe()
        );
    }
}

/// `openssl s_server` on a port of 127.0.89.9, killed when dropped.
struct OpensslServer {
    child: Child,
    addr: SocketAddr,
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `openssl s_server` with a throwaway RSA-2048 certificate and `args`, and waits until it listens.
fn openssl_server(dir: &Path, args: &[&str]) -> OpensslServer {
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=negative-control",
            "-keyout",
            "k.pem",
            "-out",
            "c.pem",
        ])
        .current_dir(dir)
        .output()
        .expect("openssl must be installed (Debian package openssl)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let addr = StdListener::bind("127.0.89.9:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let child = Command::new("openssl")
        .arg("s_server")
        .args(args)
        .args([
            "-cert",
            "c.pem",
            "-key",
            "k.pem",
            "-accept",
            &addr.to_string(),
        ])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = OpensslServer { child, addr };
    let start = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "openssl s_server exited"
        );
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "openssl s_server never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// Negative control: a server that does speak TLS 1.0 must be flagged by the probe.
#[tokio::test]
async fn openssl_tls10_server_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let server = openssl_server(dir.path(), &["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    let old = old_protocol_probe(server.addr).await.unwrap();
    assert!(old.accepted_tls10, "{}", old.summary());
    assert!(!old.refused_all());
    // A TLS 1.1 client is answered in TLS 1.0: not TLS 1.1, but not refused either.
    assert!(!old.accepted_tls11);
    assert!(
        matches!(old.tls11, OldAnswer::ServerHello { version: TLS10, .. }),
        "{}",
        old.summary()
    );
    // rustls cannot speak TLS 1.0: the verified handshake fails, with the reason.
    let dev = device("Temper station CA");
    let err = tls_handshake(
        server.addr,
        dev.ca.cert_pem(),
        name(DNS),
        None,
        UnixTime::now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, TlsError::Handshake { .. }), "{err}");
}
