//! TLS from outside: a real rustls handshake that proves the device's certificate, and a read of the
//! certificate a device serves (to record its factory certificate before hardening).
//!
//! [`tls_handshake`] verifies the served chain with [`crate::pki::verify_served_chain`] through a custom
//! rustls verifier, so the station CA, the expected name, the CSR key and an injected clock all apply;
//! the TLS handshake signatures are still checked by rustls's `ring` provider. Old protocols (TLS 1.0 and
//! 1.1), which rustls cannot speak, are probed by [`super::tls_probe`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::CheckError;
use crate::pki::{
    fingerprint_sha256, verify_served_chain, VerifiedPeer, VerifyError, MAX_CHAIN_LEN,
};

/// Time allowed for the TCP connect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for the whole TLS handshake. Small devices with RSA keys can take seconds.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a successful, verified handshake showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsReport {
    /// The address handshaked with.
    pub addr: SocketAddr,
    /// Negotiated protocol version, e.g. `TLS 1.3`.
    pub protocol: String,
    /// Negotiated cipher suite (IANA name as rustls spells it), e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// Lower-case hex SHA-256 of the served leaf certificate's DER.
    pub leaf_fingerprint_sha256: String,
    /// End of the leaf's validity.
    pub not_after: SystemTime,
}

impl TlsReport {
    /// One line for a [`super::CheckRecord`] detail.
    pub fn summary(&self) -> String {
        format!(
            "{} with {}, leaf SHA-256 {}, valid until {}",
            self.protocol,
            self.cipher_suite,
            self.leaf_fingerprint_sha256,
            humantime::format_rfc3339_seconds(self.not_after)
        )
    }
}

/// The certificate a device serves, read without trusting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedCert {
    /// Lower-case hex SHA-256 of the leaf certificate's DER.
    pub fingerprint_sha256: String,
    /// The leaf's subject, e.g. `CN=ipcam`.
    pub subject: String,
    /// End of the leaf's validity.
    pub not_after: SystemTime,
    /// The served chain, leaf first, DER.
    pub chain_der: Vec<Vec<u8>>,
}

/// Why a TLS check could not prove what it was asked to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The device could not be reached, or went silent.
    #[error(transparent)]
    Check(#[from] CheckError),
    /// The station CA certificate given is unusable (the station's fault, not the device's).
    #[error("station CA certificate is unusable: {0}; export it again with `temper ca export`")]
    BadCa(String),
    /// The device served a certificate that does not prove what was expected.
    #[error("{addr}: the device's certificate is refused: {reason}")]
    Certificate {
        /// The service address.
        addr: SocketAddr,
        /// Why: unknown CA, name mismatch, expired, key mismatch...
        reason: VerifyError,
    },
    /// The TLS handshake failed for another reason (alert, no common version or cipher, closed).
    #[error("{addr}: TLS handshake failed: {reason}. Is TLS 1.2 or 1.3 served on this port?")]
    Handshake {
        /// The service address.
        addr: SocketAddr,
        /// What went wrong, for people.
        reason: String,
    },
}

/// Handshakes with `addr` as a rustls client (TLS 1.2 or 1.3) and proves the served chain: it leads
/// to the CA in `ca_pem`, is valid at `now` for `expected_name` (DNS name or IP address in the SAN)
/// and for server use, and, when given, its leaf's SubjectPublicKeyInfo is `expected_spki` (the key
/// from the device's CSR). The connection is closed with close_notify; no application data is sent.
pub async fn tls_handshake(
    addr: SocketAddr,
    ca_pem: &str,
    expected_name: ServerName<'static>,
    expected_spki: Option<&[u8]>,
    now: UnixTime,
) -> Result<TlsReport, TlsError> {
    let station = StationTls::new(ca_pem, expected_name, expected_spki, now)?;
    let (mut stream, peer) = station.connect(addr).await?;
    let (_, conn) = stream.get_ref();
    let protocol = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_string(),
    };
    let cipher_suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_else(|| "unknown".to_string());
    // Best effort: the proof is complete whether or not the device reads our close_notify.
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
    Ok(TlsReport {
        addr,
        protocol,
        cipher_suite,
        leaf_fingerprint_sha256: peer.leaf_fingerprint_sha256,
        not_after: peer.not_after,
    })
}

/// Opens TLS connections whose served chain the Station verifier proved (CA, name, optionally the key, at an
/// injected time) during the handshake; session resumption is off, so every connection is proven.
pub(crate) struct StationTls {
    config: Arc<ClientConfig>,
    verifier: Arc<Verifier>,
    name: ServerName<'static>,
}

impl StationTls {
    pub(crate) fn new(
        ca_pem: &str,
        name: ServerName<'static>,
        expected_spki: Option<&[u8]>,
        now: UnixTime,
    ) -> Result<Self, TlsError> {
        CertificateDer::from_pem_slice(ca_pem.as_bytes())
            .map_err(|e| TlsError::BadCa(format!("no CERTIFICATE PEM block ({e})")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mode = Mode::Station {
            ca_pem: ca_pem.to_string(),
            expected_spki: expected_spki.map(<[u8]>::to_vec),
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(now.as_secs()),
        };
        let verifier = Arc::new(Verifier::new(mode, provider.clone()));
        let shared = client_config(provider, verifier.clone())?;
        let mut config = ClientConfig::clone(&shared);
        // A resumed session would not consult the verifier.
        config.resumption = rustls::client::Resumption::disabled();
        Ok(StationTls {
            config: Arc::new(config),
            verifier,
            name,
        })
    }

    /// TCP connect and TLS handshake; only a stream whose chain the verifier accepted comes back.
    pub(crate) async fn connect(
        &self,
        addr: SocketAddr,
    ) -> Result<(Stream, VerifiedPeer), TlsError> {
        let handshake = connect(addr, self.config.clone(), self.name.clone()).await;
        match (handshake, self.verifier.take_outcome()) {
            (_, Some(Err(reason))) => Err(TlsError::Certificate { addr, reason }),
            (Err(e), _) => Err(e),
            (Ok(stream), Some(Ok(peer))) => Ok((stream, peer)),
            (Ok(_), None) => Err(TlsError::Handshake {
                addr,
                reason: "the handshake finished without a certificate being verified".into(),
            }),
        }
    }
}

/// Reads the certificate chain `addr` serves, trusting nothing: any chain is accepted, but the
/// handshake's signatures are still checked, so the device is proven to hold the leaf's key. Used to
/// record a factory certificate's fingerprint before hardening. The connection is closed with
/// close_notify right after the handshake; no application data is ever sent.
pub async fn served_certificate(addr: SocketAddr) -> Result<ServedCert, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let reader = Arc::new(Verifier::new(Mode::ReadOnly, provider.clone()));
    let config = client_config(provider, reader.clone())?;
    let mut stream = connect(addr, config, ServerName::IpAddress(addr.ip().into())).await?;
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
    let chain = reader.take_chain().ok_or_else(|| TlsError::Handshake {
        addr,
        reason: "the device served no certificate".into(),
    })?;
    let refused = |reason| TlsError::Certificate { addr, reason };
    let leaf = chain.first().ok_or(refused(VerifyError::EmptyChain))?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| refused(VerifyError::Other(format!("leaf does not parse: {e}"))))?;
    let not_after = u64::try_from(cert.validity().not_after.timestamp()).unwrap_or(0);
    Ok(ServedCert {
        fingerprint_sha256: fingerprint_sha256(leaf),
        subject: cert.subject().to_string(),
        not_after: SystemTime::UNIX_EPOCH + Duration::from_secs(not_after),
        chain_der: chain,
    })
}

/// Factory certificates served by more than one unit: `(device serial, leaf fingerprint)` pairs in,
/// each shared fingerprint out with the serials serving it (sorted). An empty answer means every unit
/// serves its own certificate (check [`super::CheckKind::FactoryCertificateUnique`]).
pub fn shared_certificates<'a>(
    units: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<(String, Vec<String>)> {
    let mut by_print: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (serial, print) in units {
        let serials = by_print.entry(print.to_ascii_lowercase()).or_default();
        if !serials.iter().any(|s| s == serial) {
            serials.push(serial.to_string());
        }
    }
    by_print
        .into_iter()
        .filter(|(_, serials)| serials.len() > 1)
        .map(|(print, mut serials)| {
            serials.sort();
            (print, serials)
        })
        .collect()
}

/// A client config (TLS 1.2 and 1.3, `ring`) with `verifier` deciding about the served chain.
pub(crate) fn client_config(
    provider: Arc<CryptoProvider>,
    verifier: Arc<dyn ServerCertVerifier>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::BadCa(format!("TLS configuration: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

pub(crate) type Stream = tokio_rustls::client::TlsStream<TcpStream>;

/// TCP connect and TLS handshake, each under its timeout.
pub(crate) async fn connect(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
) -> Result<Stream, TlsError> {
    let tcp = super::connect_tcp(addr, CONNECT_TIMEOUT).await?;
    let connector = TlsConnector::from(config);
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, connector.connect(name, tcp)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(TlsError::Handshake {
            addr,
            reason: describe_io(&e),
        }),
        Err(_) => Err(timeout(addr, "TLS handshake", HANDSHAKE_TIMEOUT)),
    }
}

fn timeout(addr: SocketAddr, expected: &str, waited: Duration) -> TlsError {
    CheckError::Timeout {
        addr,
        expected: expected.to_string(),
        waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
    }
    .into()
}

/// A handshake failure in words: the alert the device sent, or how the connection ended.
fn describe_io(e: &std::io::Error) -> String {
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return match tls {
            rustls::Error::AlertReceived(alert) => {
                format!("the device sent TLS alert {alert:?}")
            }
            rustls::Error::PeerIncompatible(why) => {
                format!("no TLS version, cipher suite or group in common ({why:?})")
            }
            other => other.to_string(),
        };
    }
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => {
            "the device closed the connection during the handshake".to_string()
        }
        _ => e.to_string(),
    }
}

/// What [`Verifier`] proves about the served chain.
#[derive(Debug)]
pub(crate) enum Mode {
    /// Delegate to [`verify_served_chain`] with the station's CA, the injected clock and the key.
    Station {
        ca_pem: String,
        expected_spki: Option<Vec<u8>>,
        now: SystemTime,
    },
    /// Accept any chain of at most [`MAX_CHAIN_LEN`] certificates, only to read it.
    ReadOnly,
}

/// A rustls verifier that keeps the served chain and the verdict; TLS signatures are always checked
/// with the provider's algorithms.
#[derive(Debug)]
pub(crate) struct Verifier {
    mode: Mode,
    provider: Arc<CryptoProvider>,
    chain: Mutex<Option<Vec<Vec<u8>>>>,
    outcome: Mutex<Option<Result<VerifiedPeer, VerifyError>>>,
}

impl Verifier {
    pub(crate) fn new(mode: Mode, provider: Arc<CryptoProvider>) -> Self {
        Verifier {
            mode,
            provider,
            chain: Mutex::new(None),
            outcome: Mutex::new(None),
        }
    }

    fn take_chain(&self) -> Option<Vec<Vec<u8>>> {
        self.chain.lock().map(|mut c| c.take()).unwrap_or(None)
    }

    pub(crate) fn take_outcome(&self) -> Option<Result<VerifiedPeer, VerifyError>> {
        self.outcome.lock().map(|mut o| o.take()).unwrap_or(None)
    }

    fn verify(
        &self,
        chain: &[Vec<u8>],
        name: &ServerName<'_>,
    ) -> Result<VerifiedPeer, VerifyError> {
        let Mode::Station {
            ca_pem,
            expected_spki,
            now,
        } = &self.mode
        else {
            return Err(VerifyError::Other("not verifying".into()));
        };
        let spki = match expected_spki {
            Some(spki) => spki.clone(),
            // No key to compare with: the leaf's own key makes that comparison vacuous.
            None => chain
                .first()
                .and_then(|leaf| x509_parser::parse_x509_certificate(leaf).ok())
                .map(|(_, c)| c.public_key().raw.to_vec())
                .unwrap_or_default(),
        };
        verify_served_chain(chain, ca_pem, name, &spki, *now)
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain: Vec<Vec<u8>> = std::iter::once(end_entity)
            .chain(intermediates.iter().take(MAX_CHAIN_LEN))
            .map(|c| c.as_ref().to_vec())
            .collect();
        let refusal = match self.mode {
            Mode::ReadOnly if intermediates.len() >= MAX_CHAIN_LEN => {
                Some(CertificateError::BadEncoding)
            }
            Mode::ReadOnly => None,
            Mode::Station { .. } => {
                let result = self.verify(&chain, server_name);
                let refusal = result.as_ref().err().map(to_rustls);
                if let Ok(mut slot) = self.outcome.lock() {
                    *slot = Some(result);
                }
                refusal
            }
        };
        if let Ok(mut slot) = self.chain.lock() {
            *slot = Some(chain);
        }
        match refusal {
            None => Ok(ServerCertVerified::assertion()),
            Some(e) => Err(rustls::Error::InvalidCertificate(e)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The alert rustls sends for a refused chain.
fn to_rustls(e: &VerifyError) -> CertificateError {
    match e {
        VerifyError::UnknownIssuer | VerifyError::BadCa(_) => CertificateError::UnknownIssuer,
        VerifyError::BadSignature => CertificateError::BadSignature,
        VerifyError::NameMismatch(_) => CertificateError::NotValidForName,
        VerifyError::Expired => CertificateError::Expired,
        VerifyError::NotYetValid => CertificateError::NotValidYet,
        VerifyError::WrongPurpose => CertificateError::InvalidPurpose,
        VerifyError::EmptyChain
        | VerifyError::ChainTooLong { .. }
        | VerifyError::CertTooLarge { .. } => CertificateError::BadEncoding,
        _ => CertificateError::ApplicationVerificationFailure,
    }
}
