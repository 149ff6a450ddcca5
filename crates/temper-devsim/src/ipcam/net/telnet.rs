//! telnetd: the same BusyBox login and shell as the console, over TCP 23.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::ipcam::console::{Action, Channel, Out, Session};
use crate::ipcam::Device;

pub const IAC: u8 = 255;
pub const DONT: u8 = 254;
pub const DO: u8 = 253;
pub const WONT: u8 = 252;
pub const WILL: u8 = 251;
pub const SB: u8 = 250;
pub const SE: u8 = 240;
pub const OPT_ECHO: u8 = 1;
pub const OPT_SGA: u8 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Data,
    Cr,
    Iac,
    Verb(u8),
    Sub,
    SubIac,
}

/// Strips telnet commands from the byte stream and produces the replies negotiation needs.
struct Telnet {
    st: St,
    answered: HashSet<(u8, u8)>,
}

impl Telnet {
    /// Returns (data bytes for the session, bytes to send back).
    fn input(&mut self, bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut data = Vec::new();
        let mut reply = Vec::new();
        for &b in bytes {
            self.st = match (self.st, b) {
                (St::Data | St::Cr, IAC) => St::Iac,
                // CR NUL is a bare CR.
                (St::Cr, 0) => St::Data,
                (St::Data | St::Cr, b) => {
                    data.push(b);
                    if b == b'\r' {
                        St::Cr
                    } else {
                        St::Data
                    }
                }
                (St::Iac, IAC) => {
                    data.push(IAC);
                    St::Data
                }
                (St::Iac, v @ (WILL | WONT | DO | DONT)) => St::Verb(v),
                (St::Iac, SB) => St::Sub,
                (St::Iac, _) => St::Data,
                (St::Verb(v), opt) => {
                    self.negotiate(v, opt, &mut reply);
                    St::Data
                }
                (St::Sub, IAC) => St::SubIac,
                (St::Sub, _) => St::Sub,
                (St::SubIac, SE) => St::Data,
                (St::SubIac, _) => St::Sub,
            };
        }
        (data, reply)
    }

    /// We offered WILL ECHO and WILL SGA; refuse everything else, answering each request once.
    fn negotiate(&mut self, verb: u8, opt: u8, reply: &mut Vec<u8>) {
        let ours = opt == OPT_ECHO || opt == OPT_SGA;
        let answer = match verb {
            DO if ours => None,
            DO => Some(WONT),
            DONT if ours => Some(WONT),
            DONT => None,
            WILL => Some(DONT),
            _ => None, // WONT: nothing to confirm for options we never asked the client to use.
        };
        if let Some(a) = answer {
            if self.answered.insert((a, opt)) {
                reply.extend_from_slice(&[IAC, a, opt]);
            }
        }
    }
}

pub async fn handle(dev: Arc<Device>, stream: TcpStream) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let _ = tx.send(vec![IAC, WILL, OPT_ECHO, IAC, WILL, OPT_SGA]);
    let out_tx = tx.clone();
    let out: Out = Arc::new(move |b: &[u8]| {
        // Escape IAC in data.
        let mut v = Vec::with_capacity(b.len());
        for &c in b {
            v.push(c);
            if c == IAC {
                v.push(IAC);
            }
        }
        let _ = out_tx.send(v);
    });
    let mut session = Session::new(dev.clone(), Channel::Telnet, out);
    session.emit("\r\n");
    session.prompt();
    let mut tn = Telnet {
        st: St::Data,
        answered: HashSet::new(),
    };
    let mut buf = [0u8; 512];
    'conn: loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let (data, reply) = tn.input(&buf[..n]);
        if !reply.is_empty() {
            let _ = tx.send(reply);
        }
        for b in data {
            match session.feed(b).await {
                Action::None => {}
                Action::Close => break 'conn,
                Action::Reboot => {
                    dev.request_reboot();
                    break 'conn;
                }
            }
        }
    }
    drop(session);
    drop(tx);
    let _ = writer.await;
}
