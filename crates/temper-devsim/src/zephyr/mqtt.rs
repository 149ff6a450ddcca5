//! The sensor's MQTT-over-TLS client: `mqtt connect` and `mqtt status`.
//!
//! `mqtt connect` reads `mqtt/broker` (as it is now, commit or not) and resolves its host (an IP literal or
//! `localhost`; any other name → `mqtt: error: cannot resolve <host>`). It connects from the device's address
//! over TLS 1.2/1.3 (rustls, ring), trusting every CA_CERT credential, presenting the PUBLIC_CERT of sectag 42
//! with the device key (none when either is missing), server name = the host, and checks the broker's
//! certificate against the DEVICE clock ([`DeviceTime`]: 1970 after a reboot, so the handshake fails until
//! the clock is set). Then MQTT 3.1.1: CONNECT (client id = serial, clean session, keep-alive 60 s), CONNACK
//! within [`CONNACK_TIMEOUT`] (return code 0), DISCONNECT, TLS close. Prints `mqtt: connected to <host:port>`
//! (ret 0) or `mqtt: error: <reason>` (ret -5); logs `mqtt {outcome, broker, reason?}`.
//!
//! The connection is made without the server lock held ([`connect`]); the shell hands it over as a [`Job`].
//! `mqtt status` → `broker: <setting>` and `last: connected|error: ...|never` (RAM: `never` after a boot).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use super::clock::{Clock, DeviceTime};
use super::cred::{CredType, DEVICE_SECTAG};
use super::settings::{broker_parts, MQTT_BROKER};
use super::shell::{sub_help, Exec, Output, EINVAL, EIO, ENOEXEC};
use super::smp::Server;
use super::{lock, Shared};
use crate::devkey::spki_der;
use crate::ipcam::certfmt::leaf_spki;
use crate::state::DeviceKey;

/// Longest wait for the TCP connection, the TLS handshake and the CONNACK, each.
pub const CONNACK_TIMEOUT: Duration = Duration::from_secs(5);
/// Keep-alive sent in CONNECT (seconds).
const KEEP_ALIVE: u16 = 60;

/// The outcome of the last `mqtt connect` since boot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Last {
    #[default]
    Never,
    Connected,
    Error(String),
}

/// Everything one connection needs, taken from the device under its lock.
pub(crate) struct Job {
    broker: String,
    roots: Vec<Vec<u8>>,
    client: Option<(Vec<u8>, DeviceKey)>,
    client_id: String,
    source: Ipv4Addr,
    clock: Clock,
}

/// `mqtt ARGS`.
pub(crate) fn command(server: &mut Server, args: &[&str]) -> Exec {
    const SUBS: &[(&str, &str)] = &[
        (
            "connect",
            "Connect to the broker of mqtt/broker and disconnect",
        ),
        ("status", "Broker setting and the last outcome"),
    ];
    let broker = server
        .app
        .settings
        .get(MQTT_BROKER)
        .unwrap_or_default()
        .to_string();
    let out = match args {
        ["connect"] => {
            let creds = &server.app.creds;
            let client = creds
                .cert(DEVICE_SECTAG, CredType::PublicCert)
                .zip(creds.key().cloned());
            return Exec::Mqtt(Job {
                broker,
                roots: creds.ca_certs(),
                client,
                client_id: server.state.serial.clone(),
                source: server.app.ip,
                clock: server.app.clock,
            });
        }
        ["status"] => {
            let last = match &server.app.mqtt_last {
                Last::Never => "never".to_string(),
                Last::Connected => "connected".to_string(),
                Last::Error(e) => format!("error: {e}"),
            };
            Output::ok([format!("broker: {broker}"), format!("last: {last}")])
        }
        [] | ["-h" | "--help"] => sub_help("mqtt", SUBS),
        [s @ ("connect" | "status"), ..] => {
            Output::err(format!("{s}: wrong parameter count"), EINVAL)
        }
        [other, ..] => Output::err(format!("mqtt: unknown parameter: {other}"), ENOEXEC),
    };
    Exec::Done(out)
}

/// Runs `job` (no lock held), then records the outcome on the device.
pub(crate) async fn connect(shared: &Shared, job: Job) -> Output {
    let broker = job.broker.clone();
    let result = job.run().await;
    let mut server = lock(shared);
    let (last, out, fields) = match result {
        Ok(()) => (
            Last::Connected,
            Output::ok([format!("mqtt: connected to {broker}")]),
            json!({"outcome": "connected", "broker": broker}),
        ),
        Err(reason) => (
            Last::Error(reason.clone()),
            Output::err(format!("mqtt: error: {reason}"), EIO),
            json!({"outcome": "error", "broker": broker, "reason": reason}),
        ),
    };
    server.app.mqtt_last = last;
    server.events.log("mqtt", fields);
    out
}

impl Job {
    /// Connect, CONNECT, CONNACK, DISCONNECT; the reason when any step fails.
    async fn run(self) -> Result<(), String> {
        let (host, port) =
            broker_parts(&self.broker).ok_or_else(|| format!("bad broker {:?}", self.broker))?;
        let ip: IpAddr = match host {
            "localhost" => Ipv4Addr::LOCALHOST.into(),
            h => h.parse().map_err(|_| format!("cannot resolve {host}"))?,
        };
        let server_name = match host {
            "localhost" => ServerName::try_from("localhost").map_err(|e| e.to_string())?,
            _ => ServerName::IpAddress(ip.into()),
        };
        let config = self.tls_config()?;
        let addr = SocketAddr::new(ip, port);
        let socket = match ip {
            IpAddr::V4(_) => {
                let s = TcpSocket::new_v4().map_err(|e| e.to_string())?;
                // Leave from the device's own address, as the device would.
                s.bind(SocketAddr::new(self.source.into(), 0))
                    .map_err(|e| format!("bind {}: {e}", self.source))?;
                s
            }
            IpAddr::V6(_) => TcpSocket::new_v6().map_err(|e| e.to_string())?,
        };
        let tcp = timeout(CONNACK_TIMEOUT, socket.connect(addr))
            .await
            .map_err(|_| format!("connect {addr}: timed out"))?
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let mut tls = timeout(
            CONNACK_TIMEOUT,
            TlsConnector::from(config).connect(server_name, tcp),
        )
        .await
        .map_err(|_| "TLS handshake: timed out".to_string())?
        .map_err(|e| format!("TLS handshake: {e}"))?;
        let io = |e: std::io::Error| format!("MQTT: {e}");
        tls.write_all(&connect_packet(&self.client_id, KEEP_ALIVE))
            .await
            .map_err(io)?;
        tls.flush().await.map_err(io)?;
        let mut connack = [0u8; 4];
        timeout(CONNACK_TIMEOUT, tls.read_exact(&mut connack))
            .await
            .map_err(|_| format!("no CONNACK within {} s", CONNACK_TIMEOUT.as_secs()))?
            .map_err(|e| format!("no CONNACK: {e}"))?;
        check_connack(connack)?;
        tls.write_all(&DISCONNECT).await.map_err(io)?;
        let _ = tls.shutdown().await;
        Ok(())
    }

    /// Trust anchors = every CA_CERT; client certificate = PUBLIC_CERT 42 with the device key; device clock.
    fn tls_config(&self) -> Result<Arc<ClientConfig>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        let (_, refused) = roots
            .add_parsable_certificates(self.roots.iter().map(|d| CertificateDer::from(d.clone())));
        if refused > 0 {
            tracing::warn!("{refused} CA_CERT credentials are not usable trust anchors");
        }
        if roots.is_empty() {
            return Err("no trust anchor: add a CA_CERT credential".into());
        }
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| format!("trust anchors: {e}"))?;
        let builder =
            ClientConfig::builder_with_details(provider, Arc::new(DeviceTime(self.clock)))
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
                .map_err(|e| e.to_string())?
                .with_webpki_verifier(verifier);
        let config = match &self.client {
            Some((cert, key)) => {
                if spki_der(key).ok() != Some(leaf_spki(cert)) {
                    return Err("certificate does not match the device key".into());
                }
                let key = PrivateKeyDer::from_pem_slice(key.pkcs8_pem.as_bytes())
                    .map_err(|e| format!("device key: {e}"))?;
                builder
                    .with_client_auth_cert(vec![CertificateDer::from(cert.clone())], key)
                    .map_err(|e| format!("client certificate: {e}"))?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

/// MQTT 3.1.1 DISCONNECT (§3.14).
const DISCONNECT: [u8; 2] = [0xe0, 0x00];

/// MQTT 3.1.1 CONNECT (§3.1): protocol "MQTT" level 4, flags 0x02 (clean session, no will, no user name or
/// password), keep-alive, payload = the client id.
pub fn connect_packet(client_id: &str, keep_alive: u16) -> Vec<u8> {
    let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02];
    body.extend_from_slice(&keep_alive.to_be_bytes());
    let id = client_id.as_bytes();
    body.extend_from_slice(&(id.len() as u16).to_be_bytes());
    body.extend_from_slice(id);
    let mut packet = vec![0x10];
    packet.extend(remaining_length(body.len()));
    packet.extend(body);
    packet
}

/// The fixed header's Remaining Length (§2.2.3): 7 bits per byte, least significant first, high bit = more.
fn remaining_length(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            return out;
        }
    }
}

/// CONNACK (§3.2): `20 02 <flags> <return code>`, return code 0 = accepted.
fn check_connack(p: [u8; 4]) -> Result<(), String> {
    match p {
        [0x20, 0x02, _, 0] => Ok(()),
        [0x20, 0x02, _, rc] => Err(format!(
            "broker refused the connection (CONNACK return code {rc})"
        )),
        other => Err(format!("not a CONNACK: {}", hex::encode(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_packet_bytes() {
        let p = connect_packet("ab", 60);
        assert_eq!(
            p,
            vec![0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 2, b'a', b'b'],
            "MQTT 3.1.1 CONNECT, clean session"
        );
        assert_eq!(remaining_length(127), vec![0x7f]);
        assert_eq!(remaining_length(128), vec![0x80, 0x01]);
        assert_eq!(remaining_length(16_383), vec![0xff, 0x7f]);
        assert_eq!(remaining_length(16_384), vec![0x80, 0x80, 0x01]);
        assert!(check_connack([0x20, 2, 0, 0]).is_ok());
        assert!(check_connack([0x20, 2, 0, 5])
            .unwrap_err()
            .contains("code 5"));
        assert!(check_connack([0x30, 2, 0, 0]).is_err());
    }
}
