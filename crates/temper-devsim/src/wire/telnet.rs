//! Telnet (RFC 854/857/858) for a server: the options it offers ([`OFFER`]: it echoes and suppresses
//! go-ahead), the filter that strips commands from what the client sends and answers its negotiation
//! ([`TelnetFilter`]), and the escaping of data bytes 255 ([`escape_iac`]).

use std::collections::HashSet;

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

/// Strips telnet commands from the byte stream and produces the replies negotiation needs (for a server
/// that sent [`OFFER`]).
#[derive(Debug)]
pub struct TelnetFilter {
    st: St,
    answered: HashSet<(u8, u8)>,
}

impl Default for TelnetFilter {
    fn default() -> Self {
        TelnetFilter {
            st: St::Data,
            answered: HashSet::new(),
        }
    }
}

impl TelnetFilter {
    /// Returns (data bytes for the session, bytes to send back).
    pub fn input(&mut self, bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
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

/// What a server sends first: `IAC WILL ECHO, IAC WILL SGA` (character at a time, the server echoes).
pub const OFFER: [u8; 6] = [IAC, WILL, OPT_ECHO, IAC, WILL, OPT_SGA];

/// `data` with each byte 255 doubled, as telnet sends data.
pub fn escape_iac(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len());
    for &c in data {
        v.push(c);
        if c == IAC {
            v.push(IAC);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_commands_and_answers_each_request_once() {
        let mut f = TelnetFilter::default();
        let (data, reply) = f.input(&[
            b'a', IAC, DO, OPT_ECHO, IAC, DO, 24, b'b', b'\r', 0, IAC, IAC,
        ]);
        assert_eq!(
            data,
            vec![b'a', b'b', b'\r', IAC],
            "CR NUL is a bare CR, IAC IAC a data byte"
        );
        assert_eq!(
            reply,
            vec![IAC, WONT, 24],
            "an option we do not offer is refused"
        );
        let (_, again) = f.input(&[IAC, DO, 24]);
        assert!(again.is_empty(), "a refusal is sent once");
        let (data, _) = f.input(&[IAC, SB, 31, 0, 80, IAC, SE, b'x']);
        assert_eq!(data, vec![b'x'], "subnegotiation is skipped");
        assert_eq!(escape_iac(&[1, IAC, 2]), vec![1, IAC, IAC, 2]);
    }
}
