//! A minimal HTTP/1.1 and RTSP/1.0 client connection: send a request, read one response head, read or skip
//! its body. Sizes are bounded and every read has a deadline. The bytes go over plain TCP or, for HTTPS, over
//! a TLS stream whose certificate was proven before the connection is handed out ([`Transport`]).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

use super::https::StationTls;
use super::{shown, CheckError};

/// Largest response head (status line and headers).
const MAX_HEAD: usize = 16 * 1024;
/// Largest body read and discarded to keep the connection usable; a larger one closes the connection instead.
const MAX_BODY: usize = 1024 * 1024;

/// A response status line and headers.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    /// The status line, for error messages.
    pub(crate) status_line: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header called `name` (case-insensitive).
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A byte stream a [`Conn`] speaks over: a `TcpStream` or a TLS stream on one.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// How a [`Conn`] reaches its service; every (re)connect of a dialogue goes the same way.
pub(crate) enum Transport {
    /// Plain TCP (HTTP, RTSP).
    Tcp,
    /// TLS whose chain is verified against the station CA during the handshake, before any byte of a
    /// request can be written.
    Tls(StationTls),
}

/// One connection (plain TCP or TLS) to an HTTP or RTSP service.
pub(crate) struct Conn {
    stream: Box<dyn Io>,
    buf: Vec<u8>,
    addr: SocketAddr,
    /// `HTTP` or `RTSP`: the status line must start with `<protocol>/`.
    protocol: &'static str,
    /// False once the connection cannot carry another request (closed, or a body was not read).
    pub(crate) reusable: bool,
    /// The time allowed for the current operation, for messages.
    limit: Duration,
}

impl Conn {
    /// Connects over `transport`: TCP within `limit`; TLS under the TLS connect and handshake timeouts,
    /// returning only once the served chain is proven.
    pub(crate) async fn connect_over(
        transport: &Transport,
        addr: SocketAddr,
        protocol: &'static str,
        limit: Duration,
    ) -> Result<Conn, CheckError> {
        let stream: Box<dyn Io> = match transport {
            Transport::Tcp => Box::new(super::connect_tcp(addr, limit).await?),
            Transport::Tls(tls) => Box::new(tls.connect(addr).await?),
        };
        Ok(Conn {
            stream,
            buf: Vec::new(),
            addr,
            protocol,
            reusable: true,
            limit,
        })
    }

    /// The service address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Writes a whole request within `limit`.
    pub(crate) async fn send(&mut self, request: &str, limit: Duration) -> Result<(), CheckError> {
        self.limit = limit;
        let deadline = Instant::now() + limit;
        match timeout_at(deadline, self.stream.write_all(request.as_bytes())).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CheckError::Unreachable {
                addr: self.addr,
                reason: format!("sending failed: {e}"),
            }),
            Err(_) => Err(self.timeout("room to send the request")),
        }
    }

    /// Reads one final response (1xx interim responses are skipped) and reads or skips its body, all within
    /// `limit`.
    pub(crate) async fn read_response(&mut self, limit: Duration) -> Result<Response, CheckError> {
        self.limit = limit;
        let deadline = Instant::now() + limit;
        loop {
            let response = self.read_head(deadline).await?;
            if self.protocol == "HTTP" && (100..200).contains(&response.status) {
                continue;
            }
            self.consume_body(&response, deadline).await?;
            return Ok(response);
        }
    }

    async fn read_head(&mut self, deadline: Instant) -> Result<Response, CheckError> {
        let end = loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n")
                .map(|i| i + 4)
                .or_else(|| find(&self.buf, b"\n\n").map(|i| i + 2))
            {
                break end;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(self.protocol_error("a response head within 16 KiB", &self.buf));
            }
            if self.fill(deadline, "response").await? == 0 {
                let got = if self.buf.is_empty() {
                    "the connection closed".to_string()
                } else {
                    shown(&self.buf, 80)
                };
                return Err(self.protocol_error_text("a response", got));
            }
        };
        let head: Vec<u8> = self.buf.drain(..end).collect();
        let text = String::from_utf8_lossy(&head);
        let mut lines = text.lines();
        let status_line = lines.next().unwrap_or("").trim().to_string();
        let mut words = status_line.split_ascii_whitespace();
        let version = words.next().unwrap_or("");
        let status = words.next().and_then(|s| s.parse::<u16>().ok());
        let Some(status) = status.filter(|_| version.starts_with(&format!("{}/", self.protocol)))
        else {
            return Err(self.protocol_error(
                &format!("a {} status line", self.protocol),
                status_line.as_bytes(),
            ));
        };
        let http_1_0 = version.eq_ignore_ascii_case("HTTP/1.0");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect::<Vec<_>>();
        let response = Response {
            status,
            status_line,
            headers,
        };
        let close = response
            .header("connection")
            .is_some_and(|v| v.to_ascii_lowercase().contains("close"));
        if close || http_1_0 {
            self.reusable = false;
        }
        Ok(response)
    }

    async fn consume_body(
        &mut self,
        response: &Response,
        deadline: Instant,
    ) -> Result<(), CheckError> {
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if self.protocol == "HTTP" && chunked {
            return self.skip_chunked(deadline).await;
        }
        match response
            .header("content-length")
            .map(|v| v.parse::<usize>())
        {
            Some(Ok(len)) if len <= MAX_BODY => self.skip_exact(len, deadline).await,
            Some(_) => {
                self.reusable = false;
                Ok(())
            }
            // RTSP has no body without Content-Length; HTTP reads to the end (not done: drop the connection).
            None if self.protocol == "RTSP" || matches!(response.status, 204 | 304) => Ok(()),
            None => {
                self.reusable = false;
                Ok(())
            }
        }
    }

    async fn skip_exact(&mut self, mut len: usize, deadline: Instant) -> Result<(), CheckError> {
        while len > 0 {
            if self.buf.is_empty() && self.fill(deadline, "response body").await? == 0 {
                self.reusable = false;
                return Ok(());
            }
            let take = len.min(self.buf.len());
            self.buf.drain(..take);
            len -= take;
        }
        Ok(())
    }

    async fn skip_chunked(&mut self, deadline: Instant) -> Result<(), CheckError> {
        let mut total = 0usize;
        loop {
            let line = self.read_line(deadline).await?;
            let size_text = line.split(';').next().unwrap_or("").trim().to_string();
            let Ok(size) = usize::from_str_radix(&size_text, 16) else {
                return Err(self.protocol_error("a chunk size", line.as_bytes()));
            };
            total = total.saturating_add(size);
            if total > MAX_BODY {
                self.reusable = false;
                return Ok(());
            }
            if size == 0 {
                while !self.read_line(deadline).await?.is_empty() {}
                return Ok(());
            }
            self.skip_exact(size, deadline).await?;
            self.read_line(deadline).await?;
        }
    }

    async fn read_line(&mut self, deadline: Instant) -> Result<String, CheckError> {
        loop {
            if let Some(i) = find(&self.buf, b"\n") {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Ok(String::from_utf8_lossy(&line).trim_end().to_string());
            }
            if self.buf.len() > MAX_HEAD {
                return Err(self.protocol_error("a chunk line within 16 KiB", &self.buf));
            }
            if self.fill(deadline, "chunked body").await? == 0 {
                return Err(self.protocol_error_text(
                    "the rest of a chunked body",
                    "the connection closed".into(),
                ));
            }
        }
    }

    /// Reads more bytes into the buffer; 0 means the peer closed.
    async fn fill(&mut self, deadline: Instant, what: &str) -> Result<usize, CheckError> {
        let mut chunk = [0u8; 4096];
        match timeout_at(deadline, self.stream.read(&mut chunk)).await {
            Ok(Ok(n)) => {
                if n == 0 {
                    self.reusable = false;
                }
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Ok(Err(e)) => Err(CheckError::Unreachable {
                addr: self.addr,
                reason: format!("reading failed: {e}"),
            }),
            Err(_) => Err(self.timeout(&format!("{} {what}", self.protocol))),
        }
    }

    fn timeout(&self, expected: &str) -> CheckError {
        let waited_ms = self.limit.as_millis() as u64;
        CheckError::Timeout {
            addr: self.addr,
            expected: expected.to_string(),
            waited_ms,
        }
    }

    fn protocol_error(&self, expected: &str, got: &[u8]) -> CheckError {
        self.protocol_error_text(expected, shown(got, 80))
    }

    fn protocol_error_text(&self, expected: &str, got: String) -> CheckError {
        CheckError::Protocol {
            addr: self.addr,
            expected: format!("{} {expected}", self.protocol),
            got,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
