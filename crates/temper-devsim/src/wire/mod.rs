//! Protocol pieces the simulated devices' network services share: a TCP accept loop ([`accept_loop`]), the
//! HTTP/RTSP request head reader ([`read_request`]), HTTP Digest authentication ([`digest`]), an SSDP
//! responder ([`ssdp`]) and telnet option handling ([`telnet`]).

pub mod digest;
pub mod ssdp;
pub mod telnet;

use std::future::Future;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Accepts connections on `listener` for ever, each served by `handler(ctx.clone(), stream)` in a task this
/// loop owns: aborting the task that runs the loop drops the listener and closes every connection at once.
pub async fn accept_loop<T, F, Fut>(ctx: T, listener: TcpListener, handler: F)
where
    T: Clone,
    F: Fn(T, TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            res = listener.accept() => match res {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(handler(ctx.clone(), stream));
                }
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// A parsed HTTP-like request (HTTP/1.1 and RTSP/1.0 share the syntax).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Read one request (head plus a Content-Length body, which is discarded). None on EOF or garbage.
pub async fn read_request<R>(r: &mut R) -> Option<Request>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut first = String::new();
    // Skip empty lines between requests.
    loop {
        first.clear();
        if r.read_line(&mut first).await.ok()? == 0 {
            return None;
        }
        if !first.trim().is_empty() {
            break;
        }
    }
    let mut parts = first.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let version = parts.next().unwrap_or("HTTP/1.0").to_string();
    let mut headers = Vec::new();
    let mut total = first.len();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        total += line.len();
        if total > 16 * 1024 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let req = Request {
        method,
        target,
        version,
        headers,
    };
    let len: u64 = req
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if len > 0 {
        let mut sink = Vec::new();
        (&mut *r)
            .take(len.min(1 << 20))
            .read_to_end(&mut sink)
            .await
            .ok()?;
    }
    Some(req)
}
