//! The Zephyr shell over telnet (tcp/23, no login), the same interpreter as shell exec ([`shell`]).
//!
//! On connect: `IAC WILL ECHO, IAC WILL SGA`, a blank line and the prompt [`PROMPT`]. The device echoes what is
//! typed; backspace/DEL erases, Ctrl-C drops the line, CR or LF (CR LF, CR NUL: one end) runs it. A line is
//! at most [`shell::CMD_BUFF_SIZE`] - 1 characters (more are ignored, as Zephyr does). Output lines end in
//! "\r\n", then the prompt again.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::super::shell::{self, CMD_BUFF_SIZE};
use super::super::Shared;
use crate::wire::telnet::{escape_iac, TelnetFilter, OFFER};

/// The shell prompt.
pub const PROMPT: &str = "uart:~$ ";

/// Serves one connection until the client closes it.
pub(crate) async fn handle(shared: Shared, stream: TcpStream) {
    let (mut rd, mut wr) = stream.into_split();
    let mut hello = OFFER.to_vec();
    hello.extend_from_slice(format!("\r\n{PROMPT}").as_bytes());
    if wr.write_all(&hello).await.is_err() {
        return;
    }
    let mut filter = TelnetFilter::default();
    let mut line = String::new();
    let mut after_cr = false;
    let mut buf = [0u8; 512];
    loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let (data, reply) = filter.input(&buf[..n]);
        let mut out = reply;
        for b in data {
            let was_cr = std::mem::replace(&mut after_cr, b == b'\r');
            match b {
                b'\n' if was_cr => {}
                b'\r' | b'\n' => {
                    out.extend_from_slice(b"\r\n");
                    let cmd = std::mem::take(&mut line);
                    if !cmd.trim().is_empty() {
                        // Flush what is pending first: the command may take seconds (mqtt connect).
                        if wr.write_all(&out).await.is_err() {
                            return;
                        }
                        out.clear();
                        let result = shell::run_line(&shared, &cmd).await;
                        out.extend(escape_iac(result.text.replace('\n', "\r\n").as_bytes()));
                    }
                    out.extend_from_slice(PROMPT.as_bytes());
                }
                0x08 | 0x7f if line.pop().is_some() => out.extend_from_slice(b"\x08 \x08"),
                0x03 => {
                    line.clear();
                    out.extend_from_slice(format!("^C\r\n{PROMPT}").as_bytes());
                }
                0x20..=0x7e if line.len() < CMD_BUFF_SIZE - 1 => {
                    line.push(char::from(b));
                    out.push(b);
                }
                _ => {}
            }
        }
        if !out.is_empty() && wr.write_all(&out).await.is_err() {
            return;
        }
    }
}
