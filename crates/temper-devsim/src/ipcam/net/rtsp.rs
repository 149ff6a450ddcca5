//! RTSP/1.0 stream server: OPTIONS, and DESCRIBE of `/stream1` behind Digest.

use std::sync::Arc;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::digest::{self, DigestRealm, Verdict};
use super::read_request;
use crate::ipcam::{Device, RTSP_REALM};

pub const REALM: DigestRealm = DigestRealm {
    realm: RTSP_REALM,
    qop: false,
    opaque: false,
    store: "rtsp-admin",
    service: "rtsp",
};

pub const PUBLIC: &str = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER";

fn path_of(uri: &str) -> &str {
    let rest = uri.strip_prefix("rtsp://").unwrap_or(uri);
    match rest.find('/') {
        Some(i) if uri.starts_with("rtsp://") => &rest[i..],
        _ if uri.starts_with("rtsp://") => "/",
        _ => rest,
    }
}

fn sdp(dev: &Device) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=Simvision {model} stream1\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\na=control:trackID=0\r\n",
        ip = dev.ip,
        model = dev.variant().model
    )
}

pub async fn handle(dev: Arc<Device>, stream: TcpStream) {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    while let Some(req) = read_request(&mut rd).await {
        let cseq = req.header("cseq").unwrap_or("0").to_string();
        let mut extra = String::new();
        let mut body = String::new();
        let status = match req.method.as_str() {
            "OPTIONS" => {
                extra = format!("Public: {PUBLIC}\r\n");
                "200 OK"
            }
            "DESCRIBE" => {
                let v = digest::verify(
                    &dev,
                    &REALM,
                    "DESCRIBE",
                    &req.target,
                    req.header("authorization"),
                );
                match v {
                    Verdict::Granted if path_of(&req.target) == "/stream1" => {
                        body = sdp(&dev);
                        extra = format!(
                            "Content-Base: {}/\r\nContent-Type: application/sdp\r\n",
                            req.target.trim_end_matches('/')
                        );
                        "200 OK"
                    }
                    Verdict::Granted => "404 Stream Not Found",
                    v => {
                        let ch = digest::challenge(&dev, &REALM, v == Verdict::Stale);
                        extra = format!("WWW-Authenticate: {ch}\r\n");
                        "401 Unauthorized"
                    }
                }
            }
            "SETUP" | "PLAY" | "PAUSE" | "TEARDOWN" | "GET_PARAMETER" => {
                "455 Method Not Valid in This State"
            }
            _ => "501 Not Implemented",
        };
        let mut resp = format!(
            "RTSP/1.0 {status}\r\nCSeq: {cseq}\r\nServer: {}\r\n{extra}",
            dev.variant().server("rtspd")
        );
        if !body.is_empty() {
            resp.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        resp.push_str("\r\n");
        resp.push_str(&body);
        if wr.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}
