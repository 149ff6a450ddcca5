//! Peers of the zephyr-sensor's services for its tests: the real Python `smpclient` (serial transport) driven by
//! a small script, raw SMP over UDP, the telnet shell, and a test CA with a client-authenticating MQTT-over-TLS
//! broker (tokio-rustls).

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ciborium::Value;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertificateSigningRequestParams,
    CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use temper_core::proto::smp::header::{Header, Op, SmpVersion, HEADER_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use super::common::{secs, Telnet};

/// The telnet shell prompt.
pub const PROMPT: &str = "uart:~$ ";

/// The venv `scripts/deps.sh test` creates (smpmgr, smpclient, smp); the tests fail, never skip, without it.
pub fn venv_bin(name: &str) -> PathBuf {
    let p = PathBuf::from("/var/tmp/temper-venv/bin").join(name);
    assert!(
        p.exists(),
        "{} not found: run `bash scripts/deps.sh test` (creates /var/tmp/temper-venv with smpmgr 0.19)",
        p.display()
    );
    p
}

/// `smpmgr <transport...> --timeout 5 <args>`: (exit success, stdout + stderr).
pub fn smpmgr(transport: &[&str], args: &[&str]) -> (bool, String) {
    smpmgr_timeout(transport, 5, args)
}

/// [`smpmgr`] with another transport timeout (seconds).
pub fn smpmgr_timeout(transport: &[&str], timeout: u32, args: &[&str]) -> (bool, String) {
    let out = Command::new(venv_bin("smpmgr"))
        .args(transport)
        .args(["--timeout", &timeout.to_string()])
        .args(args)
        .output()
        .expect("run smpmgr");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

const SMPCLIENT_SCRIPT: &str = r#"
import asyncio, json, sys
from smpclient import SMPClient
from smpclient.generics import error_v1, error_v2, success
from smpclient.transport.serial import SMPSerialTransport
from smpclient.requests.settings_management import (
    ReadSetting, WriteSetting, DeleteSetting, CommitSettings, LoadSettings, SaveSettings)
from smpclient.requests.os_management import DateTimeRead, DateTimeWrite

def request(op):
    kind = op["op"]
    if kind == "read": return ReadSetting(name=op["name"])
    if kind == "write": return WriteSetting(name=op["name"], val=op["val"].encode())
    if kind == "delete": return DeleteSetting(name=op["name"])
    if kind == "commit": return CommitSettings()
    if kind == "load": return LoadSettings()
    if kind == "save": return SaveSettings()
    if kind == "datetime-read": return DateTimeRead()
    if kind == "datetime-write": return DateTimeWrite(datetime=op["datetime"])
    raise ValueError(kind)

async def main():
    client = SMPClient(SMPSerialTransport(), sys.argv[1])
    await client.connect()
    results = []
    for op in json.loads(sys.argv[2]):
        r = await client.request(request(op), timeout_s=5)
        if success(r):
            out = {"ok": True}
            if hasattr(r, "val"): out["val"] = r.val.decode()
            if hasattr(r, "datetime"): out["datetime"] = r.datetime
        elif error_v2(r):
            out = {"ok": False, "group": int(r.err.group), "rc": int(r.err.rc)}
        elif error_v1(r):
            out = {"ok": False, "rc": int(r.rc)}
        results.append(out)
    await client.disconnect()
    print(json.dumps(results))

asyncio.run(main())
"#;

/// Runs `ops` (JSON objects: `{"op": "read"|"write"|"delete"|"commit"|"load"|"save"|"datetime-read"|
/// "datetime-write", ...}`) with the real Python smpclient over the serial port; one result object per op:
/// `{"ok": true, "val"?, "datetime"?}`, `{"ok": false, "group", "rc"}` (v2) or `{"ok": false, "rc"}`.
pub fn smpclient(dir: &Path, port: &str, ops: serde_json::Value) -> Vec<serde_json::Value> {
    let script = dir.join("smpclient_ops.py");
    std::fs::write(&script, SMPCLIENT_SCRIPT).unwrap();
    let out = Command::new(venv_bin("python"))
        .arg(&script)
        .arg(port)
        .arg(ops.to_string())
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "smpclient script failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).expect("JSON results from the smpclient script")
}

/// One SMP request over UDP to `ip:1337` (raw, unframed, seq 7); the reply's CBOR body, or the socket error
/// (e.g. `ConnectionRefused` when the port is closed: the ICMP port-unreachable of loopback).
pub fn udp_smp(
    ip: &str,
    version: SmpVersion,
    op: Op,
    group: u16,
    id: u8,
    body: Value,
) -> std::io::Result<Value> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.connect((ip, 1337))?;
    sock.set_read_timeout(Some(secs(3)))?;
    let mut payload = Vec::new();
    ciborium::into_writer(&body, &mut payload).unwrap();
    let header = Header {
        version,
        op,
        flags: 0,
        len: payload.len() as u16,
        group,
        seq: 7,
        id,
    };
    let mut packet = header.to_bytes().to_vec();
    packet.extend_from_slice(&payload);
    sock.send(&packet)?;
    let mut buf = vec![0u8; 8192];
    let n = sock.recv(&mut buf)?;
    let reply = Header::parse(&buf[..n]).expect("reply header");
    assert_eq!((reply.group, reply.id, reply.seq), (group, id, 7));
    Ok(ciborium::from_reader(&buf[HEADER_LEN..n]).expect("reply CBOR"))
}

/// A CBOR map from (key, value) pairs.
pub fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::Text(k.into()), v))
            .collect(),
    )
}

/// Settings write `name = val` then commit, over UDP (v2); asserts both succeed.
pub fn udp_set_and_commit(ip: &str, name: &str, val: &str) {
    let body = map(vec![
        ("name", Value::Text(name.into())),
        ("val", Value::Bytes(val.as_bytes().to_vec())),
    ]);
    let w = udp_smp(ip, SmpVersion::V2, Op::Write, 3, 0, body).expect("settings write over UDP");
    assert_eq!(w, map(vec![]), "write {name}");
    let c = udp_smp(ip, SmpVersion::V2, Op::Write, 3, 2, map(vec![])).expect("commit over UDP");
    assert_eq!(c, map(vec![]), "commit");
}

/// OS datetime write over UDP.
pub fn udp_set_clock(ip: &str, datetime: &str) {
    let body = map(vec![("datetime", Value::Text(datetime.into()))]);
    let r = udp_smp(ip, SmpVersion::V2, Op::Write, 0, 4, body).expect("datetime write");
    assert_eq!(r, map(vec![]), "datetime write accepted");
}

/// A telnet shell session at its first prompt.
pub fn telnet_shell(ip: &str) -> Telnet {
    let mut t = Telnet::connect(ip).expect("telnet connect");
    t.expect_any(&[PROMPT], secs(5)).expect("the shell prompt");
    t
}

/// Runs `cmd` on the telnet shell: its output lines ("\r\n" ends turned into "\n"), without the echo.
pub fn run(t: &mut Telnet, cmd: &str) -> String {
    t.send(&format!("{cmd}\r\n"));
    let got = t
        .expect_any(&[PROMPT], secs(15))
        .unwrap_or_else(|| panic!("no prompt after {cmd:?}"));
    let got = got
        .strip_suffix(PROMPT)
        .unwrap_or(&got)
        .replace("\r\n", "\n");
    got.split_once('\n')
        .map_or(String::new(), |(_, rest)| rest.to_string())
}

/// Stages `der` with `cred buf` in chunks that fit a shell line, then `cred add <sectag> <type> DEFAULT bint`;
/// returns the output of the add.
pub fn cred_add(t: &mut Telnet, sectag: u32, kind: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    for chunk in b64.as_bytes().chunks(200) {
        let out = run(
            t,
            &format!("cred buf {}", std::str::from_utf8(chunk).unwrap()),
        );
        assert!(out.starts_with("Stored "), "cred buf: {out}");
    }
    run(t, &format!("cred add {sectag} {kind} DEFAULT bint"))
}

/// A throwaway CA (P-256) that signs the broker's and the device's certificates.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Temper Test CA");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        TestCa { issuer }
    }

    pub fn der(&self) -> Vec<u8> {
        self.issuer.der().to_vec()
    }

    /// Signs a PEM CSR as a client certificate (rcgen's default validity, 1975..4096).
    pub fn sign_csr(&self, csr_pem: &str) -> Vec<u8> {
        let mut csr = CertificateSigningRequestParams::from_pem(csr_pem).expect("CSR parses");
        csr.params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        csr.signed_by(&*self.issuer).unwrap().der().to_vec()
    }

    /// A certificate for a key that is not the device's.
    pub fn foreign_cert(&self) -> Vec<u8> {
        let params = CertificateParams::new(vec!["foreign".to_string()]).unwrap();
        let key = KeyPair::generate().unwrap();
        params
            .signed_by(&key, &*self.issuer)
            .unwrap()
            .der()
            .to_vec()
    }

    /// A server certificate for 127.0.0.1 valid 2025-01-01..2035-01-01, and its PKCS#8 key.
    fn broker_identity(&self) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        params.not_before = date_time_ymd(2025, 1, 1);
        params.not_after = date_time_ymd(2035, 1, 1);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &*self.issuer).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (cert.der().clone(), key)
    }
}

/// What the broker saw of one connection.
#[derive(Debug)]
pub enum Seen {
    /// MQTT CONNECT received (client id), with the client's certificate and address.
    Connected {
        client_id: String,
        client_cert: Vec<u8>,
        peer: SocketAddr,
    },
    /// The TLS handshake or the MQTT exchange failed.
    Failed(String),
}

/// Starts an MQTT-over-TLS broker on 127.0.0.1 that requires a client certificate signed by `ca`; answers one
/// CONNECT with CONNACK 0 and waits for DISCONNECT. Returns its port and what it sees, per connection.
pub async fn start_broker(ca: &TestCa) -> (u16, mpsc::UnboundedReceiver<Seen>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(ca.der())).unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let (cert, key) = ca.broker_identity();
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, peer)) = listener.accept().await {
            let seen = match tokio::time::timeout(secs(10), serve_one(&acceptor, tcp, peer)).await {
                Ok(Ok(seen)) => seen,
                Ok(Err(e)) => Seen::Failed(e),
                Err(_) => Seen::Failed("timed out".into()),
            };
            let _ = tx.send(seen);
        }
    });
    (port, rx)
}

async fn serve_one(
    acceptor: &TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
) -> Result<Seen, String> {
    let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
    let client_cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .ok_or("no client certificate")?;
    let io = |e: std::io::Error| e.to_string();
    // CONNECT: type 1, remaining length (< 128 here), protocol name, level, flags, keep-alive, client id.
    let mut fixed = [0u8; 2];
    tls.read_exact(&mut fixed).await.map_err(io)?;
    if fixed[0] != 0x10 || fixed[1] >= 0x80 {
        return Err(format!("not a short CONNECT: {fixed:02x?}"));
    }
    let mut body = vec![0u8; usize::from(fixed[1])];
    tls.read_exact(&mut body).await.map_err(io)?;
    if body.get(..8) != Some(&[0, 4, b'M', b'Q', b'T', b'T', 4, 2][..]) {
        return Err(format!("unexpected CONNECT header {body:02x?}"));
    }
    let id_len = usize::from(u16::from_be_bytes([body[10], body[11]]));
    let client_id = String::from_utf8_lossy(&body[12..12 + id_len]).into_owned();
    tls.write_all(&[0x20, 0x02, 0x00, 0x00]).await.map_err(io)?;
    let mut disconnect = [0u8; 2];
    tls.read_exact(&mut disconnect).await.map_err(io)?;
    if disconnect != [0xe0, 0x00] {
        return Err(format!("expected DISCONNECT, got {disconnect:02x?}"));
    }
    Ok(Seen::Connected {
        client_id,
        client_cert,
        peer,
    })
}

/// The next thing the broker saw, within 10 s.
pub async fn next_seen(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the broker saw a connection within 10 s")
        .expect("broker running")
}
