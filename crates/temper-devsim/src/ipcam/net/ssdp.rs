//! SSDP responder: answers M-SEARCH unicast to the sender.

use std::net::SocketAddr;
use std::sync::Arc;

use rand::Rng;
use serde_json::json;
use tokio::net::UdpSocket;

use super::http::DEVICE_TYPE;
use crate::ipcam::Device;

/// (ST, USN) pairs to answer for a search target, empty when it is not ours.
pub fn matches(dev: &Device, st: &str) -> Vec<(String, String)> {
    let uuid = format!("uuid:{}", dev.uuid());
    let root = (
        "upnp:rootdevice".to_string(),
        format!("{uuid}::upnp:rootdevice"),
    );
    let own = (uuid.clone(), uuid.clone());
    let dtype = (DEVICE_TYPE.to_string(), format!("{uuid}::{DEVICE_TYPE}"));
    match st {
        "ssdp:all" => vec![root, own, dtype],
        "upnp:rootdevice" => vec![root],
        s if s.eq_ignore_ascii_case(&uuid) => vec![own],
        s if s == DEVICE_TYPE => vec![dtype],
        _ => vec![],
    }
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

pub async fn serve(dev: Arc<Device>, sock: UdpSocket) {
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
        let answers = matches(&dev, &st);
        dev.events.log(
            "ssdp-search",
            json!({"st": st, "from": from.to_string(), "answered": !answers.is_empty()}),
        );
        if answers.is_empty() {
            continue;
        }
        let dev = dev.clone();
        let sock = sock.clone();
        tokio::spawn(async move { reply(&dev, &sock, from, answers).await });
    }
}

async fn reply(dev: &Device, sock: &UdpSocket, to: SocketAddr, answers: Vec<(String, String)>) {
    // Unicast search: answer within a second (here well within).
    let delay = rand::thread_rng().gen_range(0..100);
    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    for (st, usn) in answers {
        let msg = format!(
            "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\nLOCATION: http://{ip}/description.xml\r\nSERVER: {server}\r\nST: {st}\r\nUSN: {usn}\r\nBOOTID.UPNP.ORG: {boot}\r\nCONFIGID.UPNP.ORG: 1\r\n\r\n",
            ip = dev.ip,
            server = dev.variant().ssdp_server(),
            boot = dev.boot_id()
        );
        let _ = sock.send_to(msg.as_bytes(), to).await;
    }
}
