//! Telnet login trial, for one purpose only: proving that *known factory defaults* no longer open the shell.
//!
//! Telnet is cleartext: whatever is typed crosses the network readable by anyone on the path. Temper therefore
//! uses [`telnet_login`] ONLY with factory defaults and well-known default credentials (which are public
//! already), never with a credential Temper generated: a new credential is confirmed on the console or over a
//! challenge-response protocol (Digest), and the telnet service itself is closed by hardening.
//!
//! Option negotiation follows RFC 854's loop rules: Temper enables no option, refuses every request to enable
//! one (`DONT` to `WILL`, `WONT` to `DO`), acknowledges a disable only if the option was on, and never answers
//! a request for the state already in force. `IAC IAC` is a data byte 255; subnegotiations are skipped.

use std::net::SocketAddr;
use std::time::Duration;

use regex::Regex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use super::{shown, AuthOutcome, CheckError};
use crate::Secret;

const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;
const SB: u8 = 250;
const SE: u8 = 240;

/// Time allowed for the TCP connect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for each prompt, and for the verdict after the password (devices delay failed logins).
pub const PROMPT_TIMEOUT: Duration = Duration::from_secs(12);
/// Decoded text kept while waiting for a prompt; older text is dropped.
const MAX_TEXT: usize = 16 * 1024;
/// A peer that keeps asking for the same option more often than this is no longer answered (loop guard).
const MAX_ANSWERS_PER_OPTION: u8 = 4;

/// The receiving side of a telnet connection as a sans-I/O state machine: bytes in, data and replies out.
pub(crate) struct TelnetDecoder {
    state: State,
    /// Options enabled on the peer's side (always off: Temper refuses them all).
    him: [bool; 256],
    /// Options enabled on our side (always off: Temper refuses them all).
    us: [bool; 256],
    answers: [u8; 256],
}

#[derive(Clone, Copy)]
enum State {
    Data,
    Iac,
    Verb(u8),
    Sub,
    SubIac,
}

impl TelnetDecoder {
    pub(crate) fn new() -> Self {
        TelnetDecoder {
            state: State::Data,
            him: [false; 256],
            us: [false; 256],
            answers: [0; 256],
        }
    }

    /// Decodes `input`: data bytes go to `data` (NUL dropped), negotiation answers to `reply`.
    pub(crate) fn feed(&mut self, input: &[u8], data: &mut Vec<u8>, reply: &mut Vec<u8>) {
        for &b in input {
            self.state = match (self.state, b) {
                (State::Data, IAC) => State::Iac,
                (State::Data, 0) => State::Data,
                (State::Data, b) => {
                    data.push(b);
                    State::Data
                }
                (State::Iac, IAC) => {
                    data.push(IAC);
                    State::Data
                }
                (State::Iac, WILL | WONT | DO | DONT) => State::Verb(b),
                (State::Iac, SB) => State::Sub,
                (State::Iac, _) => State::Data, // NOP, GA, DM, AYT...: nothing to do
                (State::Verb(verb), option) => {
                    self.negotiate(verb, option, reply);
                    State::Data
                }
                (State::Sub, IAC) => State::SubIac,
                (State::Sub, _) => State::Sub,
                (State::SubIac, SE) => State::Data,
                (State::SubIac, _) => State::Sub,
            };
        }
    }

    fn negotiate(&mut self, verb: u8, option: u8, reply: &mut Vec<u8>) {
        let o = option as usize;
        let answer = match verb {
            // A request to enable an option on their side: refuse (allowed for an enable).
            WILL if !self.him[o] => Some(DONT),
            // They disable an option that was on: acknowledge (a disable is never refused).
            WONT if self.him[o] => {
                self.him[o] = false;
                Some(DONT)
            }
            // A request to enable an option on our side: refuse.
            DO if !self.us[o] => Some(WONT),
            DONT if self.us[o] => {
                self.us[o] = false;
                Some(WONT)
            }
            // The state already in force: never acknowledged (loop rule).
            _ => None,
        };
        if let Some(answer) = answer {
            if self.answers[o] < MAX_ANSWERS_PER_OPTION {
                self.answers[o] += 1;
                reply.extend_from_slice(&[IAC, answer, option]);
            }
        }
    }
}

/// What a prompt wait found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Seen {
    Login,
    Password,
    Shell,
    Failed,
}

struct Session<'a> {
    stream: TcpStream,
    decoder: TelnetDecoder,
    text: String,
    addr: SocketAddr,
    patterns: [(&'a Regex, Seen); 4],
}

impl Session<'_> {
    /// Waits for the earliest match among `wanted`, consuming text through it. `Ok(None)`: the peer closed.
    /// `show_text` decides whether received text may appear in an error (never after a password was sent).
    async fn wait_for(
        &mut self,
        wanted: &[Seen],
        expected: &str,
        show_text: bool,
    ) -> Result<Option<Seen>, CheckError> {
        let deadline = Instant::now() + PROMPT_TIMEOUT;
        loop {
            let earliest = self
                .patterns
                .iter()
                .filter(|(_, seen)| wanted.contains(seen))
                .filter_map(|(re, seen)| re.find(&self.text).map(|m| (m.start(), m.end(), *seen)))
                .min_by_key(|(start, _, _)| *start);
            if let Some((_, end, seen)) = earliest {
                self.text.drain(..end);
                return Ok(Some(seen));
            }
            let mut chunk = [0u8; 2048];
            let n = match timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(n)) => n,
                Ok(Err(_)) => 0,
                Err(_) => {
                    let expected = if show_text {
                        format!(
                            "telnet {expected} (last text seen: {})",
                            shown(self.tail().as_bytes(), 60)
                        )
                    } else {
                        format!("telnet {expected}")
                    };
                    return Err(CheckError::Timeout {
                        addr: self.addr,
                        expected,
                        waited_ms: PROMPT_TIMEOUT.as_millis() as u64,
                    });
                }
            };
            if n == 0 {
                return Ok(None);
            }
            let (mut data, mut reply) = (Vec::new(), Vec::new());
            self.decoder.feed(&chunk[..n], &mut data, &mut reply);
            if !reply.is_empty() {
                let _ = self.stream.write_all(&reply).await;
            }
            self.text.push_str(&String::from_utf8_lossy(&data));
            if self.text.len() > MAX_TEXT {
                let mut cut = self.text.len() - MAX_TEXT;
                while !self.text.is_char_boundary(cut) {
                    cut += 1;
                }
                self.text.drain(..cut);
            }
        }
    }

    fn tail(&self) -> &str {
        let mut start = self.text.len().saturating_sub(60);
        while !self.text.is_char_boundary(start) {
            start += 1;
        }
        &self.text[start..]
    }

    /// Sends one line of data (CR LF), with byte 255 doubled as telnet requires.
    async fn send_line(&mut self, line: &str) -> Result<(), CheckError> {
        let mut out = Vec::with_capacity(line.len() + 2);
        for &b in line.as_bytes() {
            out.push(b);
            if b == IAC {
                out.push(IAC);
            }
        }
        out.extend_from_slice(b"\r\n");
        self.stream
            .write_all(&out)
            .await
            .map_err(|e| CheckError::Unreachable {
                addr: self.addr,
                reason: format!("sending failed: {e}"),
            })
    }
}

/// Tries `user`/`password` on the telnet service at `addr` and reports whether the shell opened.
///
/// Use ONLY with factory defaults (see the module docs: telnet sends the password in cleartext). Waits for
/// `login_prompt`, sends the user, waits for `password_prompt`, sends the password, then decides:
/// `shell_prompt` is [`AuthOutcome::Accepted`]; `login_failed`, a new login prompt or a closed connection is
/// [`AuthOutcome::Refused`]. A shell without any login is [`CheckError::Unauthenticated`].
#[allow(clippy::too_many_arguments)] // one regex per prompt, exactly as the profile names them
pub async fn telnet_login(
    addr: SocketAddr,
    user: &str,
    password: &Secret,
    login_prompt: &Regex,
    password_prompt: &Regex,
    shell_prompt: &Regex,
    login_failed: &Regex,
) -> Result<AuthOutcome, CheckError> {
    if user.chars().any(char::is_control)
        || password.expose().chars().any(|c| c == '\r' || c == '\n')
    {
        return Err(CheckError::InvalidInput {
            addr,
            what: "a credential with line breaks over telnet".into(),
        });
    }
    let stream = super::connect_tcp(addr, CONNECT_TIMEOUT).await?;
    let patterns = [
        (login_prompt, Seen::Login),
        (password_prompt, Seen::Password),
        (shell_prompt, Seen::Shell),
        (login_failed, Seen::Failed),
    ];
    let mut session = Session {
        stream,
        decoder: TelnetDecoder::new(),
        text: String::new(),
        addr,
        patterns,
    };
    let closed = || CheckError::Protocol {
        addr,
        expected: "telnet login prompt".into(),
        got: "the connection closed".into(),
    };
    match session
        .wait_for(&[Seen::Login, Seen::Shell], "login prompt", true)
        .await?
    {
        Some(Seen::Login) => {}
        Some(_) => {
            return Err(CheckError::Unauthenticated {
                addr,
                what: "the telnet shell".into(),
            })
        }
        None => return Err(closed()),
    }
    session.send_line(user).await?;
    let all = [Seen::Password, Seen::Shell, Seen::Failed, Seen::Login];
    let outcome = match session.wait_for(&all, "password prompt", true).await? {
        Some(Seen::Password) => {
            session.send_line(password.expose()).await?;
            match session
                .wait_for(
                    &[Seen::Shell, Seen::Failed, Seen::Login],
                    "shell prompt or login failure",
                    false,
                )
                .await?
            {
                Some(Seen::Shell) => AuthOutcome::Accepted,
                _ => AuthOutcome::Refused,
            }
        }
        // An account without a password opens the shell at once.
        Some(Seen::Shell) => AuthOutcome::Accepted,
        Some(_) | None => AuthOutcome::Refused,
    };
    if outcome == AuthOutcome::Accepted {
        let _ = session.send_line("exit").await;
    }
    let _ = session.stream.shutdown().await;
    tracing::debug!(%addr, user, ?outcome, "telnet login trial");
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(decoder: &mut TelnetDecoder, input: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let (mut data, mut reply) = (Vec::new(), Vec::new());
        decoder.feed(input, &mut data, &mut reply);
        (data, reply)
    }

    #[test]
    fn refuses_enables_and_ignores_states_already_in_force() {
        let mut d = TelnetDecoder::new();
        let (data, reply) = feed(
            &mut d,
            &[
                IAC, WILL, 1, b'h', IAC, DO, 31, b'i', IAC, WONT, 3, IAC, DONT, 24,
            ],
        );
        assert_eq!(data, b"hi");
        assert_eq!(
            reply,
            vec![IAC, DONT, 1, IAC, WONT, 31],
            "WONT/DONT for options already off get no answer"
        );
    }

    #[test]
    fn iac_iac_is_data_and_sequences_may_split_across_reads() {
        let mut d = TelnetDecoder::new();
        let (data, reply) = feed(&mut d, &[b'a', IAC]);
        assert_eq!((data, reply), (b"a".to_vec(), vec![]));
        let (data, reply) = feed(&mut d, &[IAC, IAC, WILL]);
        assert_eq!((data, reply), (vec![IAC], vec![]));
        let (data, reply) = feed(&mut d, &[1, IAC, SB, 24, 1, IAC, SE, b'z']);
        assert_eq!(
            (data, reply),
            (b"z".to_vec(), vec![IAC, DONT, 1]),
            "subnegotiation is skipped"
        );
    }

    #[test]
    fn a_peer_repeating_a_request_is_answered_a_bounded_number_of_times() {
        let mut d = TelnetDecoder::new();
        let storm: Vec<u8> = std::iter::repeat_n([IAC, DO, 5], 50).flatten().collect();
        let (_, reply) = feed(&mut d, &storm);
        assert_eq!(reply.len(), 3 * MAX_ANSWERS_PER_OPTION as usize);
    }
}
