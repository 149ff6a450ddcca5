//! Proving a TLS *client* device from outside: Temper runs a one-connection TLS endpoint that demands a client
//! certificate, the device is made to connect to it, and the handshake proves the chain (to the station CA,
//! for client use, at the station's time) and that the device holds the key of the certificate Temper expects.
//!
//! The endpoint's own certificate is issued by the station CA for the address it listens on, so a device
//! that trusts the station CA accepts it. Inside TLS it can answer the device's application protocol
//! ([`EndpointApplication::Mqtt`]: CONNECT is answered with CONNACK), so the device reports a normal success.
//! Everything read from the device is bounded in size and time.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::tls::TlsError;
use crate::pki::fingerprint_sha256;
use crate::pki::MAX_CHAIN_LEN;

/// Largest MQTT CONNECT accepted from the device (it carries a client id, maybe a user name and a will).
const MAX_CONNECT_BYTES: usize = 1024;

/// What the device speaks inside TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointApplication {
    /// MQTT 3.1.1: read CONNECT, answer CONNACK (accepted), wait for DISCONNECT or the close.
    Mqtt,
    /// Nothing: close after the handshake.
    None,
}

/// What a device proved by connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientProof {
    /// Lower-case hex SHA-256 of the leaf certificate the device presented.
    pub leaf_fingerprint_sha256: String,
    /// Certificates the device presented (leaf included).
    pub chain_len: usize,
    /// Negotiated TLS version, e.g. `TLSv1_3`.
    pub protocol: String,
    /// Negotiated cipher suite.
    pub cipher_suite: String,
    /// MQTT only: the client id the device sent in CONNECT.
    pub mqtt_client_id: Option<String>,
}

impl ClientProof {
    /// One line for reports.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "presented certificate {} ({} in chain) over {} {}",
            self.leaf_fingerprint_sha256, self.chain_len, self.protocol, self.cipher_suite
        );
        if let Some(id) = &self.mqtt_client_id {
            text.push_str(&format!(", MQTT client id {id:?}"));
        }
        text
    }
}

/// A TLS endpoint that accepts one client with a certificate chained to the station CA; see the
/// [module documentation](self).
pub struct ClientEndpoint {
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    verifier: Arc<StationClientVerifier>,
    addr: SocketAddr,
}

impl ClientEndpoint {
    /// Listens on `ip` (an ephemeral port) with the server chain and key given, accepting client chains
    /// that lead to the CA in `ca_pem`, for client use, valid at `now`.
    pub async fn bind(
        ip: IpAddr,
        server_chain: Vec<CertificateDer<'static>>,
        server_key: PrivateKeyDer<'static>,
        ca_pem: &str,
        now: SystemTime,
    ) -> Result<ClientEndpoint, TlsError> {
        let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes())
            .map_err(|e| TlsError::BadCa(format!("no CERTIFICATE PEM block ({e})")))?;
        let mut roots = RootCertStore::empty();
        roots
            .add(ca)
            .map_err(|e| TlsError::BadCa(format!("not a usable trust anchor: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| TlsError::BadCa(e.to_string()))?;
        let verifier = Arc::new(StationClientVerifier {
            inner,
            now: UnixTime::since_unix_epoch(
                now.duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default(),
            ),
            chain: Mutex::new(None),
        });
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::BadCa(e.to_string()))?
            .with_client_cert_verifier(verifier.clone())
            .with_single_cert(server_chain, server_key)
            .map_err(|e| TlsError::BadCa(format!("endpoint certificate: {e}")))?;
        let listener = TcpListener::bind(SocketAddr::new(ip, 0))
            .await
            .map_err(|e| TlsError::Handshake {
                addr: SocketAddr::new(ip, 0),
                reason: format!("cannot listen: {e}"),
            })?;
        let addr = listener.local_addr().map_err(|e| TlsError::Handshake {
            addr: SocketAddr::new(ip, 0),
            reason: e.to_string(),
        })?;
        Ok(ClientEndpoint {
            listener,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            verifier,
            addr,
        })
    }

    /// Where the endpoint listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits up to `timeout` for one client, completes the handshake (the client chain is verified during
    /// it) and answers `application`. Connections that fail the handshake are reported, not retried.
    pub async fn accept(
        &self,
        application: EndpointApplication,
        timeout: Duration,
    ) -> Result<ClientProof, TlsError> {
        let addr = self.addr;
        let waited = |what: &str| TlsError::Handshake {
            addr,
            reason: format!("no {what} within {} s", timeout.as_secs()),
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let (tcp, peer) = tokio::time::timeout_at(deadline, self.listener.accept())
            .await
            .map_err(|_| waited("connection from the device"))?
            .map_err(|e| TlsError::Handshake {
                addr,
                reason: e.to_string(),
            })?;
        tracing::debug!(%peer, "device connected to the verification endpoint");
        let mut stream = tokio::time::timeout_at(deadline, self.acceptor.accept(tcp))
            .await
            .map_err(|_| waited("TLS handshake"))?
            .map_err(|e| TlsError::Handshake {
                addr,
                reason: format!("the device's handshake failed: {e}"),
            })?;
        let chain = self
            .verifier
            .take_chain()
            .ok_or_else(|| TlsError::Handshake {
                addr,
                reason: "the device presented no client certificate".into(),
            })?;
        let (_, conn) = stream.get_ref();
        let protocol = conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_else(|| "unknown".into());
        let cipher_suite = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_else(|| "unknown".into());
        let mqtt_client_id = match application {
            EndpointApplication::Mqtt => {
                let id = tokio::time::timeout_at(deadline, mqtt_connect(&mut stream))
                    .await
                    .map_err(|_| waited("MQTT CONNECT"))?
                    .map_err(|reason| TlsError::Handshake { addr, reason })?;
                Some(id)
            }
            EndpointApplication::None => None,
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
        Ok(ClientProof {
            leaf_fingerprint_sha256: fingerprint_sha256(&chain[0]),
            chain_len: chain.len(),
            protocol,
            cipher_suite,
            mqtt_client_id,
        })
    }
}

/// Reads an MQTT CONNECT (bounded), answers CONNACK "accepted" and returns the client id; then waits briefly
/// for the device's DISCONNECT or close.
async fn mqtt_connect<S>(stream: &mut S) -> Result<String, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut first = [0u8; 1];
    stream
        .read_exact(&mut first)
        .await
        .map_err(|e| format!("no MQTT packet: {e}"))?;
    if first[0] != 0x10 {
        return Err(format!(
            "the device sent MQTT packet type {:#04x}, not CONNECT",
            first[0]
        ));
    }
    let len = remaining_length(stream).await?;
    if len > MAX_CONNECT_BYTES {
        return Err(format!("MQTT CONNECT of {len} bytes is over the limit"));
    }
    let mut body = vec![0u8; len];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|e| format!("MQTT CONNECT cut short: {e}"))?;
    let client_id = parse_connect(&body)?;
    stream
        .write_all(&[0x20, 0x02, 0x00, 0x00])
        .await
        .map_err(|e| format!("CONNACK not sent: {e}"))?;
    let mut rest = [0u8; 2];
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut rest)).await;
    Ok(client_id)
}

/// MQTT's variable-length "remaining length" (at most 4 bytes).
async fn remaining_length<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<usize, String> {
    let mut value = 0usize;
    for i in 0..4 {
        let mut byte = [0u8; 1];
        stream
            .read_exact(&mut byte)
            .await
            .map_err(|e| format!("MQTT length cut short: {e}"))?;
        value |= usize::from(byte[0] & 0x7f) << (7 * i);
        if byte[0] & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("MQTT remaining length longer than 4 bytes".into())
}

/// The client id of a CONNECT body (variable header + payload), MQTT 3.1.1 (protocol "MQTT", level 4).
pub(crate) fn parse_connect(body: &[u8]) -> Result<String, String> {
    let (name, rest) = mqtt_string(body).ok_or("MQTT CONNECT without a protocol name")?;
    if name != "MQTT" {
        return Err(format!("MQTT protocol name {name:?}, not \"MQTT\""));
    }
    // Protocol level (1), connect flags (1), keep alive (2).
    let rest = rest.get(4..).ok_or("MQTT CONNECT header cut short")?;
    let (id, _) = mqtt_string(rest).ok_or("MQTT CONNECT without a client id")?;
    Ok(id)
}

fn mqtt_string(bytes: &[u8]) -> Option<(String, &[u8])> {
    let len = usize::from(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]));
    let text = bytes.get(2..2 + len)?;
    Some((
        String::from_utf8_lossy(text).into_owned(),
        &bytes[2 + len..],
    ))
}

/// webpki's client verification at an injected time, keeping the chain the client presented.
#[derive(Debug)]
struct StationClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    now: UnixTime,
    chain: Mutex<Option<Vec<Vec<u8>>>>,
}

impl StationClientVerifier {
    fn take_chain(&self) -> Option<Vec<Vec<u8>>> {
        self.chain.lock().map(|mut c| c.take()).unwrap_or(None)
    }
}

impl ClientCertVerifier for StationClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if intermediates.len() + 1 > MAX_CHAIN_LEN {
            return Err(rustls::Error::General(format!(
                "client chain of {} certificates is over the limit",
                intermediates.len() + 1
            )));
        }
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, self.now)?;
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.as_ref().to_vec())
            .collect();
        if let Ok(mut slot) = self.chain.lock() {
            *slot = Some(chain);
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::parse_connect;

    #[test]
    fn connect_body_yields_the_client_id() {
        let mut body = vec![0, 4];
        body.extend_from_slice(b"MQTT");
        body.extend_from_slice(&[4, 0x02, 0, 60, 0, 3]);
        body.extend_from_slice(b"abc");
        assert_eq!(parse_connect(&body).as_deref(), Ok("abc"));
        assert!(
            parse_connect(&body[..8]).is_err(),
            "a CONNECT cut inside its header is refused, not read past its end"
        );
        let mut wrong = body.clone();
        wrong[2] = b'X';
        assert!(parse_connect(&wrong).is_err(), "only MQTT 3.1.1 is spoken");
    }
}
