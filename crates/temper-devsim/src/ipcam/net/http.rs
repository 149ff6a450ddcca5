//! Web admin interface: HTTP/1.1 with keep-alive; everything but `/description.xml` needs Digest.
//! The same handler serves plain HTTP on 80 and, behind rustls, HTTPS on 443. With
//! `web.http_mode=redirect` plain HTTP answers every request with `301` to https, authenticating nothing.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::digest::{self, DigestRealm, Verdict};
use super::read_request;
use crate::ipcam::{Device, HTTP_REALM};
use crate::state::HttpMode;

pub const REALM: DigestRealm = DigestRealm {
    realm: HTTP_REALM,
    qop: true,
    opaque: true,
    store: "web-admin",
    service: "http",
};

/// The same web admin over TLS (same credential store; `auth` events say `https`).
pub const TLS_REALM: DigestRealm = DigestRealm {
    service: "https",
    ..REALM
};

pub const DEVICE_TYPE: &str = "urn:schemas-upnp-org:device:Basic:1";

pub fn description_xml(dev: &Device) -> String {
    let serial = dev.serial();
    let uuid = dev.uuid();
    let (model, firmware) = (dev.variant().model, dev.variant().firmware);
    format!(
        r#"<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
  <specVersion><major>1</major><minor>1</minor></specVersion>
  <device>
    <deviceType>{DEVICE_TYPE}</deviceType>
    <friendlyName>Simvision IP Camera ({serial})</friendlyName>
    <manufacturer>Simvision</manufacturer>
    <modelDescription>Simvision IPC network camera</modelDescription>
    <modelName>{model}</modelName>
    <modelNumber>{firmware}</modelNumber>
    <serialNumber>{serial}</serialNumber>
    <UDN>uuid:{uuid}</UDN>
    <presentationURL>http://{ip}/</presentationURL>
  </device>
</root>
"#,
        ip = dev.ip
    )
}

fn index_html(dev: &Device) -> String {
    let (model, firmware) = (dev.variant().model, dev.variant().firmware);
    format!(
        "<!DOCTYPE html>\n<html><head><title>Simvision {model}</title></head>\n<body><h1>Simvision {model}</h1>\n<p>Firmware {firmware}, serial {}</p>\n<p><a href=\"/live.html\">Live view</a></p></body></html>\n",
        dev.serial()
    )
}

/// Plain HTTP on port 80.
pub async fn handle(dev: Arc<Device>, stream: TcpStream) {
    serve(dev, stream, false).await
}

/// Where a redirected request goes: the same path on https.
fn https_location(dev: &Device, target: &str) -> String {
    let path = if target.starts_with('/') {
        target.to_string()
    } else {
        // absolute-form (`http://host/path`): keep the path.
        target
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
            .unwrap_or_else(|| "/".to_string())
    };
    format!("https://{}{path}", dev.ip)
}

/// Serve HTTP requests on `stream`; `tls` when it is the decrypted side of an HTTPS connection.
pub async fn serve<S>(dev: Arc<Device>, stream: S, tls: bool)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (rd, mut wr) = tokio::io::split(stream);
    let mut rd = BufReader::new(rd);
    let realm = if tls { TLS_REALM } else { REALM };
    while let Some(req) = read_request(&mut rd).await {
        let keep_alive = match req.header("connection") {
            Some(c) if c.eq_ignore_ascii_case("close") => false,
            Some(c) if c.eq_ignore_ascii_case("keep-alive") => true,
            _ => req.version == "HTTP/1.1",
        };
        let path = req.target.split('?').next().unwrap_or("/");
        let mut extra = String::new();
        let (status, ctype, body) = if !tls && dev.http_mode() == HttpMode::Redirect {
            // No Authorization header is even looked at: no credential is accepted over plain HTTP.
            let to = https_location(&dev, &req.target);
            extra = format!("Location: {to}\r\n");
            (
                "301 Moved Permanently",
                "text/html",
                format!("<html><body><a href=\"{to}\">Moved to HTTPS</a></body></html>\n"),
            )
        } else if path == "/description.xml" {
            (
                "200 OK",
                "text/xml; charset=\"utf-8\"",
                description_xml(&dev),
            )
        } else {
            let verdict = digest::verify(
                &dev,
                &realm,
                &req.method,
                &req.target,
                req.header("authorization"),
            );
            match verdict {
                Verdict::Granted => match path {
                    "/" | "/index.html" | "/live.html" => ("200 OK", "text/html", index_html(&dev)),
                    _ => (
                        "404 Not Found",
                        "text/html",
                        "<html><body><h1>404 Not Found</h1></body></html>\n".to_string(),
                    ),
                },
                v => {
                    let ch = digest::challenge(&dev, &realm, v == Verdict::Stale);
                    extra = format!("WWW-Authenticate: {ch}\r\n");
                    (
                        "401 Unauthorized",
                        "text/html",
                        "<html><body><h1>401 Unauthorized</h1></body></html>\n".to_string(),
                    )
                }
            }
        };
        let body = if req.method == "HEAD" {
            String::new()
        } else {
            body
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nServer: {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{extra}Connection: {}\r\n\r\n",
            dev.variant().server("httpd"),
            body.len(),
            if keep_alive { "keep-alive" } else { "close" }
        );
        if wr.write_all(head.as_bytes()).await.is_err()
            || wr.write_all(body.as_bytes()).await.is_err()
        {
            return;
        }
        if !keep_alive {
            let _ = wr.shutdown().await;
            return;
        }
    }
}
