//! UPnP of the ble-plug on its loopback address, both while `net/upnp` is "1": SSDP on udp/1900 (the shared
//! responder, [`crate::wire::ssdp`]) and the description document on tcp/49152 (`GET /description.xml`, no
//! authentication, as UPnP control points expect; anything else `404`). Searches are logged as
//! `ssdp-search {st, from, answered}`.

use std::net::SocketAddr;

use serde_json::json;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::super::{lock, Shared};
use crate::wire::read_request;
use crate::wire::ssdp::Announcer;

/// The UPnP device type the plug announces.
pub const DEVICE_TYPE: &str = "urn:schemas-upnp-org:device:Basic:1";
/// The description document's port.
pub const DESCRIPTION_PORT: u16 = 49152;

/// The plug as the SSDP responder announces it.
pub(crate) struct Upnp {
    pub(crate) shared: Shared,
}

/// The device UUID: a fixed function of the serial.
fn uuid(serial: &str) -> String {
    let h = crate::state::sha256_hex(&format!("zephyr-upnp-uuid:{serial}"));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Announcer for Upnp {
    fn uuid(&self) -> String {
        uuid(&lock(&self.shared).state.serial)
    }

    fn device_type(&self) -> &str {
        DEVICE_TYPE
    }

    fn location(&self) -> String {
        let ip = lock(&self.shared).app.ip;
        format!("http://{ip}:{DESCRIPTION_PORT}/description.xml")
    }

    fn server(&self) -> String {
        let model = lock(&self.shared).app.variant.model_name();
        format!("Zephyr/3.7.0 UPnP/1.1 {model}/1.0")
    }

    fn boot_id(&self) -> u64 {
        lock(&self.shared).state.boot_count & 0x7fff_ffff
    }

    fn searched(&self, st: &str, from: SocketAddr, answered: bool) {
        lock(&self.shared).events.log(
            "ssdp-search",
            json!({"st": st, "from": from.to_string(), "answered": answered}),
        );
    }
}

/// The description document.
fn description(shared: &Shared) -> String {
    let server = lock(shared);
    let variant = server.app.variant;
    let serial = &server.state.serial;
    format!(
        r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
  <specVersion><major>1</major><minor>1</minor></specVersion>
  <device>
    <deviceType>{DEVICE_TYPE}</deviceType>
    <friendlyName>{vendor} {model} ({serial})</friendlyName>
    <manufacturer>{vendor}</manufacturer>
    <modelName>{model}</modelName>
    <serialNumber>{serial}</serialNumber>
    <UDN>uuid:{uuid}</UDN>
    <presentationURL>http://{ip}/</presentationURL>
  </device>
</root>
"#,
        vendor = variant.vendor(),
        model = variant.model_name(),
        uuid = uuid(serial),
        ip = server.app.ip,
    )
}

/// Serves one connection to the description port (HTTP/1.1, closed after each answer).
pub(crate) async fn handle(shared: Shared, stream: TcpStream) {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let Some(req) = read_request(&mut rd).await else {
        return;
    };
    let (status, body) = match (req.method.as_str(), req.target.as_str()) {
        ("GET" | "HEAD", "/description.xml") => ("200 OK", description(&shared)),
        _ => ("404 Not Found", String::new()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/xml; charset=\"utf-8\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let body = if req.method == "HEAD" { "" } else { &body };
    let _ = wr.write_all(head.as_bytes()).await;
    let _ = wr.write_all(body.as_bytes()).await;
    let _ = wr.shutdown().await;
}
