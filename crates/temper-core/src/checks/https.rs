//! HTTPS Digest login: the Digest dialogue of [`super::http`] over TLS (1.2 or 1.3), where every connection's
//! served chain is proven against the station CA by the [`super::tls`] Station verifier *during* the handshake.
//! A device that cannot show a certificate the station issued for it gets no request and no credential.

use std::net::SocketAddr;

use rustls::pki_types::{ServerName, UnixTime};

use super::http::{check_request_target, digest_login_over, http_dialect};
use super::tls::{self, Stream, TlsError};
use super::wire::Transport;
use super::{AuthOutcome, CheckError};
use crate::Secret;

/// Logs in to `https://addr{path}` as `user` with HTTP Digest, exactly as [`super::http_digest_login`] does,
/// over TLS whose served chain must lead to the CA in `ca_pem`, be valid at `now` and name `expected_name`
/// (DNS name or IP address in the SAN).
///
/// The chain is proven in the handshake of every connection (reconnects included) before any request is
/// written; a refused chain, a wrong name, an expired certificate or a failed handshake is
/// [`CheckError::Tls`] naming `addr` and why, and nothing (no request, no credential) was sent.
pub async fn https_digest_login(
    addr: SocketAddr,
    path: &str,
    user: &str,
    password: &Secret,
    ca_pem: &str,
    expected_name: ServerName<'static>,
    now: UnixTime,
) -> Result<AuthOutcome, CheckError> {
    check_request_target(addr, path)?;
    let transport = Transport::Tls(StationTls::new(addr, ca_pem, expected_name, now)?);
    digest_login_over(&transport, addr, &http_dialect(addr, path), user, password).await
}

/// [`tls::StationTls`] for the Digest transport: its errors as [`CheckError`]s.
pub(crate) struct StationTls {
    inner: tls::StationTls,
}

impl StationTls {
    fn new(
        addr: SocketAddr,
        ca_pem: &str,
        name: ServerName<'static>,
        now: UnixTime,
    ) -> Result<Self, CheckError> {
        let inner = tls::StationTls::new(ca_pem, name, None, now).map_err(|e| refused(addr, e))?;
        Ok(StationTls { inner })
    }

    /// TCP connect and TLS handshake; only a stream whose chain the verifier accepted comes back.
    pub(crate) async fn connect(&self, addr: SocketAddr) -> Result<Stream, CheckError> {
        match self.inner.connect(addr).await {
            Ok((stream, _)) => Ok(stream),
            Err(e) => Err(refused(addr, e)),
        }
    }
}

/// A TLS failure as a [`CheckError`]: unreachable and silent peers keep their own variants.
fn refused(addr: SocketAddr, e: TlsError) -> CheckError {
    let reason = match e {
        TlsError::Check(e) => return e,
        TlsError::BadCa(why) => format!("the station CA certificate is unusable: {why}"),
        TlsError::Certificate { reason, .. } => {
            format!("the device's certificate is refused: {reason}")
        }
        TlsError::Handshake { reason, .. } => format!("handshake failed: {reason}"),
    };
    CheckError::Tls { addr, reason }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use rustls::pki_types::CertificateDer;
    use std::time::SystemTime;

    use rcgen::{Attribute, CertificateParams, DnType, KeyPair};
    use rustls::pki_types::PrivatePkcs8KeyDer;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;

    use super::*;
    use crate::pki::{check_csr, CaKeyKind, CertPolicy, DeviceIdentity, StationCa};

    const IP: &str = "127.0.87.7";

    /// A station CA and a rustls server config with a leaf it signed for `IP`.
    fn station_and_server() -> (StationCa, Arc<rustls::ServerConfig>) {
        let ca = StationCa::generate(CaKeyKind::EcdsaP256, "Test CA", SystemTime::now()).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, "SN-1");
        let attr = Attribute {
            oid: &[1, 2, 840, 113549, 1, 9, 7],
            values: vec![0x31, 5, 0x0c, 3, b'a', b'b', b'c'],
        };
        let csr = params.serialize_request_with_attributes(&key, vec![attr]);
        let id = DeviceIdentity {
            serial: "SN-1".into(),
            dns: None,
            ip: Some(IP.parse().unwrap()),
        };
        let policy = CertPolicy::default();
        let checked = check_csr(&csr.unwrap().pem().unwrap(), &policy, &id, "abc").unwrap();
        let cert = ca.sign(&checked, &policy, &id, SystemTime::now()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.der.clone())],
                PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            )
            .unwrap();
        (ca, Arc::new(config))
    }

    /// A TLS web server that answers the unauthenticated GET with a Digest 401 and `Connection: close`, and
    /// any answered GET with 200. Returns its address, TLS sessions completed and requests per session.
    async fn closing_server(
        config: Arc<rustls::ServerConfig>,
    ) -> (SocketAddr, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let listener = TcpListener::bind((IP, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (sessions, with_auth) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (s, a) = (sessions.clone(), with_auth.clone());
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                s.fetch_add(1, Ordering::SeqCst);
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = if String::from_utf8_lossy(&head).contains("Authorization: Digest") {
                    a.fetch_add(1, Ordering::SeqCst);
                    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_string()
                } else {
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"t\", qop=\"auth\", \
                     nonce=\"n0nce\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_string()
                };
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            }
        });
        (addr, sessions, with_auth)
    }

    fn ip_name() -> ServerName<'static> {
        ServerName::IpAddress(IP.parse::<std::net::IpAddr>().unwrap().into())
    }

    #[tokio::test]
    async fn a_reconnect_after_connection_close_is_tls_and_proven_again() {
        let (ca, config) = station_and_server();
        let (addr, sessions, with_auth) = closing_server(config).await;
        let pw = Secret::new("pw");
        let got = https_digest_login(
            addr,
            "/",
            "u",
            &pw,
            ca.cert_pem(),
            ip_name(),
            UnixTime::now(),
        );
        assert_eq!(got.await, Ok(AuthOutcome::Accepted));
        assert_eq!(
            sessions.load(Ordering::SeqCst),
            2,
            "two verified TLS sessions"
        );
        assert_eq!(with_auth.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn plain_http_on_the_port_and_a_bad_ca_are_tls_errors() {
        let listener = TcpListener::bind((IP, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        let (ca, _) = station_and_server();
        let pw = Secret::new("pw");
        let got = https_digest_login(
            addr,
            "/",
            "u",
            &pw,
            ca.cert_pem(),
            ip_name(),
            UnixTime::now(),
        );
        assert!(
            matches!(got.await, Err(CheckError::Tls { addr: a, .. }) if a == addr),
            "plain HTTP"
        );
        let got = https_digest_login(addr, "/", "u", &pw, "junk", ip_name(), UnixTime::now()).await;
        let Err(CheckError::Tls { reason, .. }) = got else {
            panic!("{got:?}")
        };
        assert!(
            reason.contains("station CA certificate is unusable"),
            "{reason}"
        );
    }
}
