//! HTTP admin on tcp/80 (HTTP/1.1, keep-alive). Every request needs Digest (realm: the model name, "NS-ENV1"
//! or "PM-1"; qop auth, MD5) as user "admin" with the password applied at the last boot or commit (`app/admin_pw`):
//! `GET /` then gets `200` and a small status page, another path `404`; no or wrong credentials get `401`
//! with a fresh nonce (`stale=true` for a nonce the device does not know, e.g. from before a reboot).
//! Each real attempt is logged as `auth {service: "http", user, ok}`: never a password.

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::super::app::HTTP_USER;
use super::super::smp::Server;
use super::super::variant::Variant;
use super::super::{lock, Shared};
use super::Kind;
use crate::wire::digest::{challenge_header, parse_params, response_matches};
use crate::wire::{read_request, Request};

/// Serves one connection.
pub(crate) async fn handle(shared: Shared, stream: TcpStream) {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    while let Some(req) = read_request(&mut rd).await {
        let keep_alive = match req.header("connection") {
            Some(c) if c.eq_ignore_ascii_case("close") => false,
            Some(c) if c.eq_ignore_ascii_case("keep-alive") => true,
            _ => req.version == "HTTP/1.1",
        };
        let (status, extra, body) = respond(&mut lock(&shared), &req);
        let body = if req.method == "HEAD" {
            String::new()
        } else {
            body
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\n{extra}Connection: {}\r\n\r\n",
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

/// (status line, extra header lines, body) for one request.
fn respond(server: &mut Server, req: &Request) -> (&'static str, String, String) {
    let params = req.header("authorization").and_then(parse_params);
    let fresh = params
        .as_ref()
        .is_some_and(|p| p.get("nonce").is_some_and(|n| server.app.nonces.known(n)));
    let granted = match (&params, fresh) {
        (Some(p), true) => {
            let ok = response_matches(
                p,
                &server.app.http_ha1,
                HTTP_USER,
                server.app.variant.http_realm(),
                &req.method,
                &req.target,
            );
            let user = p.get("username").cloned().unwrap_or_default();
            server.events.log(
                "auth",
                serde_json::json!({"service": "http", "user": user, "ok": ok}),
            );
            ok
        }
        _ => false,
    };
    if !granted {
        let nonce = server.app.nonces.issue();
        let stale = params.is_some() && !fresh;
        let realm = server.app.variant.http_realm();
        let challenge = challenge_header(realm, &nonce, true, None, stale);
        return (
            "401 Unauthorized",
            format!("WWW-Authenticate: {challenge}\r\n"),
            "<html><body><h1>401 Unauthorized</h1></body></html>\n".into(),
        );
    }
    match req.target.split('?').next().unwrap_or("/") {
        "/" | "/index.html" => ("200 OK", String::new(), status_page(server)),
        _ => (
            "404 Not Found",
            String::new(),
            "<html><body><h1>404 Not Found</h1></body></html>\n".into(),
        ),
    }
}

fn status_page(server: &Server) -> String {
    let on_off = |kind| match server.app.services.is_running(kind) {
        true => "on",
        false => "off",
    };
    if server.app.variant == Variant::PlugMini {
        return format!(
            "<!DOCTYPE html>\n<html><head><title>PlugMini PM-1</title></head>\n<body><h1>PlugMini PM-1</h1>\n\
             <p>Serial {}</p>\n<p>Address {}</p>\n<p>UPnP: {}</p></body></html>\n",
            server.state.serial,
            server.app.ip,
            on_off(Kind::Ssdp),
        );
    }
    format!(
        "<!DOCTYPE html>\n<html><head><title>Nordsense NS-ENV1</title></head>\n<body><h1>Nordsense NS-ENV1</h1>\n\
         <p>Serial {}</p>\n<p>Address {}</p>\n<p>Telnet shell: {}; SMP over UDP: {}</p></body></html>\n",
        server.state.serial,
        server.app.ip,
        on_off(Kind::Telnet),
        on_off(Kind::SmpUdp),
    )
}
