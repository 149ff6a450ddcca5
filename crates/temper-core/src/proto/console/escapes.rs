//! Removes terminal escape sequences from a byte stream, across chunk boundaries.
//!
//! Handled: CSI (`ESC [` … final byte, e.g. colours `ESC [1;32m`), OSC and the other string sequences (`ESC ]`,
//! `ESC P`, `ESC X`, `ESC ^`, `ESC _`, ended by BEL or `ESC \`), two-byte and intermediate escapes (`ESC (B`, `ESC =`).
//! A string sequence also ends at CR or LF (a title never holds one, and line noise must not swallow the rest
//! of the session) and after [`MAX_STRING`] bytes; a CSI ends after [`MAX_CSI`] bytes.

/// What the stripper passes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    /// A text byte (printable ASCII, TAB, or any byte >= 0x80).
    Text(u8),
    /// Carriage return.
    Cr,
    /// Line feed.
    Lf,
    /// Backspace.
    Backspace,
}

/// Longest CSI accepted before it is treated as noise.
const MAX_CSI: usize = 64;
/// Longest OSC/DCS string accepted before it is treated as noise.
const MAX_STRING: usize = 4096;

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;
const CAN: u8 = 0x18;
const SUB: u8 = 0x1a;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    Esc,
    EscIntermediate,
    Csi(usize),
    Str(usize),
    StrEsc(usize),
}

/// The escape-sequence stripper: a byte-at-a-time state machine.
#[derive(Debug, Clone)]
pub(crate) struct Stripper {
    state: State,
}

impl Stripper {
    pub(crate) fn new() -> Self {
        Stripper {
            state: State::Ground,
        }
    }

    /// Feeds one byte; returns the token it yields, if any.
    pub(crate) fn feed(&mut self, b: u8) -> Option<Token> {
        match self.state {
            State::Ground => self.ground(b),
            State::Esc => {
                self.state = match b {
                    b'[' => State::Csi(0),
                    b']' | b'P' | b'X' | b'^' | b'_' => State::Str(0),
                    0x20..=0x2f => State::EscIntermediate,
                    ESC => State::Esc,
                    CAN | SUB => State::Ground,
                    _ => State::Ground, // the final byte of a two-byte escape
                };
                None
            }
            State::EscIntermediate => {
                if !(0x20..=0x2f).contains(&b) {
                    self.state = State::Ground;
                }
                None
            }
            State::Csi(n) => {
                self.state = match b {
                    0x40..=0x7e | CAN | SUB => State::Ground,
                    ESC => State::Esc,
                    _ if n >= MAX_CSI => State::Ground,
                    _ => State::Csi(n + 1),
                };
                None
            }
            State::Str(n) => match b {
                BEL | CAN | SUB => {
                    self.state = State::Ground;
                    None
                }
                ESC => {
                    self.state = State::StrEsc(n);
                    None
                }
                b'\r' | b'\n' => {
                    self.state = State::Ground;
                    self.ground(b)
                }
                _ => {
                    self.state = if n >= MAX_STRING {
                        State::Ground
                    } else {
                        State::Str(n + 1)
                    };
                    None
                }
            },
            State::StrEsc(_) => {
                if b == b'\\' {
                    self.state = State::Ground;
                    None
                } else {
                    // Not a string terminator: a new escape sequence starts here.
                    self.state = State::Esc;
                    self.feed(b)
                }
            }
        }
    }

    fn ground(&mut self, b: u8) -> Option<Token> {
        match b {
            ESC => {
                self.state = State::Esc;
                None
            }
            b'\r' => Some(Token::Cr),
            b'\n' => Some(Token::Lf),
            0x08 => Some(Token::Backspace),
            b'\t' => Some(Token::Text(b)),
            0x00..=0x1f | 0x7f => None, // BEL, NUL, XON/XOFF and other controls
            _ => Some(Token::Text(b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(input: &[u8]) -> String {
        let mut s = Stripper::new();
        let mut out = String::new();
        for &b in input {
            match s.feed(b) {
                Some(Token::Text(b)) => out.push(b as char),
                Some(Token::Cr) => out.push_str("<CR>"),
                Some(Token::Lf) => out.push_str("<LF>"),
                Some(Token::Backspace) => out.push_str("<BS>"),
                None => {}
            }
        }
        out
    }

    #[test]
    fn colours_and_titles_disappear() {
        let prompt = b"\x1b]0;root@ipcam: ~\x07\x1b[1;32mroot@ipcam\x1b[0m:~# ";
        assert_eq!(strip(prompt), "root@ipcam:~# ");
        assert_eq!(
            strip(b"\x1b]2;title\x1b\\a\x1b(Bb\x1b=c"),
            "abc",
            "ST-terminated OSC, charset, keypad"
        );
        assert_eq!(
            strip(b"\x1b[?2004h\x1b[K\x1b[2J\x1b[Hx"),
            "x",
            "private modes, erase, home"
        );
    }

    #[test]
    fn controls_and_line_ends_are_tokens() {
        assert_eq!(strip(b"a\r\nb\x07\x00c\x08"), "a<CR><LF>bc<BS>");
    }

    #[test]
    fn noise_cannot_swallow_the_session() {
        assert_eq!(
            strip(b"\x1b]garbage\r\n# "),
            "<CR><LF># ",
            "a newline ends an unterminated OSC"
        );
        let mut long = b"\x1b]".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_STRING + 10));
        assert_eq!(strip(&long).len(), 9, "an overlong OSC is abandoned");
        let mut csi = b"\x1b[".to_vec();
        csi.extend(std::iter::repeat_n(b'1', MAX_CSI + 3));
        assert_eq!(strip(&csi), "11", "an overlong CSI is abandoned");
    }

    #[test]
    fn sequences_split_across_chunks_are_still_removed() {
        let mut s = Stripper::new();
        let out: Vec<_> = b"\x1b[1;3"
            .iter()
            .chain(b"2mok")
            .filter_map(|&b| s.feed(b))
            .collect();
        assert_eq!(out, vec![Token::Text(b'o'), Token::Text(b'k')]);
    }
}
