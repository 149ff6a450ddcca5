//! SSDP responder (UPnP Device Architecture 1.1, section 1.3): answers an `M-SEARCH` for a target the device
//! has with unicast `200 OK` responses to the sender, one per matching (ST, USN). No NOTIFY, no multicast:
//! every simulated device listens on udp/1900 of its own loopback address. Used by the IP camera and the
//! ble-plug; each says who it is through [`Announcer`].

use std::net::SocketAddr;
use std::sync::Arc;

use rand::Rng;
use tokio::net::UdpSocket;

/// What an SSDP responder announces.
pub trait Announcer: Send + Sync + 'static {
    /// The device UUID (without `uuid:`).
    fn uuid(&self) -> String;
    /// The UPnP device type, e.g. `urn:schemas-upnp-org:device:Basic:1`.
    fn device_type(&self) -> &str;
    /// `LOCATION`: the URL of the description document.
    fn location(&self) -> String;
    /// `SERVER`: "OS/version UPnP/1.1 product/version".
    fn server(&self) -> String;
    /// `BOOTID.UPNP.ORG`: fixed per boot, 31 bits.
    fn boot_id(&self) -> u64;
    /// A search was received (answered or not): for the device's event log.
    fn searched(&self, st: &str, from: SocketAddr, answered: bool);
}

/// (ST, USN) pairs to answer for a search target, empty when it is not ours.
pub fn matches(dev: &dyn Announcer, st: &str) -> Vec<(String, String)> {
    let uuid = format!("uuid:{}", dev.uuid());
    let dtype = dev.device_type().to_string();
    let root = (
        "upnp:rootdevice".to_string(),
        format!("{uuid}::upnp:rootdevice"),
    );
    let own = (uuid.clone(), uuid.clone());
    let typed = (dtype.clone(), format!("{uuid}::{dtype}"));
    match st {
        "ssdp:all" => vec![root, own, typed],
        "upnp:rootdevice" => vec![root],
        s if s.eq_ignore_ascii_case(&uuid) => vec![own],
        s if s == dtype => vec![typed],
        _ => vec![],
    }
}

/// The value of header `name` in an SSDP message (case-insensitive).
fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Answers searches on `sock` for ever (abort the task to stop it; the socket closes with it).
pub async fn serve<A: Announcer>(dev: Arc<A>, sock: UdpSocket) {
    let sock = Arc::new(sock);
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !msg.starts_with("M-SEARCH * HTTP/1.1") {
            continue;
        }
        let Some(st) = header(&msg, "st").map(str::to_string) else {
            continue;
        };
        let answers = matches(dev.as_ref(), &st);
        dev.searched(&st, from, !answers.is_empty());
        if answers.is_empty() {
            continue;
        }
        let dev = dev.clone();
        let sock = sock.clone();
        tokio::spawn(async move { reply(dev.as_ref(), &sock, from, answers).await });
    }
}

async fn reply(
    dev: &dyn Announcer,
    sock: &UdpSocket,
    to: SocketAddr,
    answers: Vec<(String, String)>,
) {
    // Unicast search: answer within a second (here well within).
    let delay = rand::thread_rng().gen_range(0..100);
    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    for (st, usn) in answers {
        let msg = format!(
            "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\nLOCATION: {location}\r\nSERVER: {server}\r\nST: {st}\r\nUSN: {usn}\r\nBOOTID.UPNP.ORG: {boot}\r\nCONFIGID.UPNP.ORG: 1\r\n\r\n",
            location = dev.location(),
            server = dev.server(),
            boot = dev.boot_id()
        );
        let _ = sock.send_to(msg.as_bytes(), to).await;
    }
}
