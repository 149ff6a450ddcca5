//! The sans-I/O core of the console driver: bytes in, lines and a prompt-shaped tail out.
//!
//! A [`Screen`] never does I/O and never reads a clock. It strips escape sequences, splits lines at CRLF, LF, CR
//! (and LFCR, CRCRLF), drops kernel log lines, and keeps what arrived since the last [`Screen::clear`] within a
//! fixed budget: with endless output it keeps the newest bytes and remembers that it dropped some.

use std::collections::VecDeque;

use regex::Regex;

use super::escapes::{Stripper, Token};

/// Default budget for the text a [`Screen`] holds: 64 KiB.
pub const DEFAULT_CAP: usize = 64 * 1024;
/// How many raw bytes are kept for error messages (more than shown, so secrets can be recognised whole).
const RAW_KEEP: usize = 512;
/// How many raw bytes an error message shows.
const RAW_SHOWN: usize = 80;
/// A kernel line may interrupt a line (e.g. the prompt) only this far into it.
const KERNEL_SPLIT_WINDOW: usize = 256;
/// The marker that replaces a secret in [`Screen::last_bytes`].
pub const REDACTED: &str = "<redacted>";

/// The console's screen since the last [`Screen::clear`]: completed lines plus the unterminated tail.
///
/// Its `Debug` output shows sizes only: the text may hold the echo of a secret.
#[derive(Clone)]
pub struct Screen {
    stripper: Stripper,
    kernel_line: Regex,
    lines: VecDeque<String>,
    tail: Vec<u8>,
    /// Bytes held in `lines` (sum of lengths) plus `tail`.
    held: usize,
    cap: usize,
    truncated: bool,
    /// The byte that ended the last line, if nothing but line ends came since (to fold CRLF, LFCR, CRCRLF).
    last_end: Option<Token>,
    raw: VecDeque<u8>,
}

impl Screen {
    /// A screen that drops lines matching `kernel_line` and holds at most [`DEFAULT_CAP`] bytes.
    pub fn new(kernel_line: &Regex) -> Self {
        Self::with_cap(kernel_line, DEFAULT_CAP)
    }

    /// A screen with a custom budget (at least 1 KiB).
    pub fn with_cap(kernel_line: &Regex, cap: usize) -> Self {
        Screen {
            stripper: Stripper::new(),
            kernel_line: kernel_line.clone(),
            lines: VecDeque::new(),
            tail: Vec::new(),
            held: 0,
            cap: cap.max(1024),
            truncated: false,
            last_end: None,
            raw: VecDeque::with_capacity(RAW_KEEP),
        }
    }

    /// Takes bytes from the device.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.raw.len() == RAW_KEEP {
                self.raw.pop_front();
            }
            self.raw.push_back(b);
            if let Some(token) = self.stripper.feed(b) {
                self.token(token);
            }
        }
    }

    fn token(&mut self, token: Token) {
        match token {
            Token::Cr => match self.last_end {
                Some(Token::Cr) => {}
                Some(_) => self.last_end = None,
                None => {
                    self.end_line();
                    self.last_end = Some(Token::Cr);
                }
            },
            Token::Lf => match self.last_end {
                Some(Token::Cr) => self.last_end = None,
                _ => {
                    self.end_line();
                    self.last_end = Some(Token::Lf);
                }
            },
            Token::Backspace => {
                self.last_end = None;
                if self.tail.pop().is_some() {
                    self.held -= 1;
                }
            }
            Token::Text(b) => {
                self.last_end = None;
                self.tail.push(b);
                self.held += 1;
                self.enforce_cap();
            }
        }
    }

    /// Completes the tail as a line, unless it is a kernel line. A kernel line that interrupted a line (e.g. a
    /// prompt) is cut out and the interrupted text becomes the tail again.
    fn end_line(&mut self) {
        let bytes = std::mem::take(&mut self.tail);
        self.held -= bytes.len();
        let line = String::from_utf8_lossy(&bytes).into_owned();
        if self.kernel_line.is_match(&line) {
            return;
        }
        let split = line
            .char_indices()
            .skip(1)
            .take_while(|&(i, _)| i <= KERNEL_SPLIT_WINDOW)
            .find(|&(i, _)| self.kernel_line.is_match(&line[i..]));
        if let Some((i, _)) = split {
            self.tail = line.as_bytes()[..i].to_vec();
            self.held += i;
            return;
        }
        self.held += line.len();
        self.lines.push_back(line);
        self.enforce_cap();
    }

    /// Keeps the newest text within the budget.
    fn enforce_cap(&mut self) {
        while self.held > self.cap {
            if let Some(old) = self.lines.pop_front() {
                self.held -= old.len();
            } else {
                // One endless line: keep its newest half-budget (dropping in halves keeps this amortised O(1)).
                let drop = self.tail.len() - self.cap / 2;
                self.tail.drain(..drop);
                self.held -= drop;
            }
            self.truncated = true;
        }
    }

    /// Forgets all text (start of a new exchange). Raw bytes for error messages and escape state are kept.
    pub fn clear(&mut self) {
        self.lines.clear();
        self.tail.clear();
        self.held = 0;
        self.truncated = false;
    }

    /// Completed lines since the last clear, oldest first (kernel lines and escapes removed).
    pub fn lines(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.lines.iter().map(String::as_str)
    }

    /// The unterminated last line: where a prompt sits.
    pub fn tail(&self) -> String {
        String::from_utf8_lossy(&self.tail).into_owned()
    }

    /// Whether the unterminated last line matches `prompt`.
    pub fn tail_matches(&self, prompt: &Regex) -> bool {
        prompt.is_match(&self.tail())
    }

    /// Completed lines after the first `skip`, then the tail, joined with `\n`.
    pub fn text_after(&self, skip: usize) -> String {
        let mut text = String::new();
        for line in self.lines.iter().skip(skip) {
            text.push_str(line);
            text.push('\n');
        }
        text.push_str(&self.tail());
        text
    }

    /// Whether text was dropped since the last clear to stay within the budget.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Bytes of text held now (never more than the budget).
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    /// The budget.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// The last ~80 raw bytes received, escaped (`\x1b`, `\r`, …), with every occurrence of a secret, and a secret
    /// that is still being echoed at the very end, replaced by [`REDACTED`].
    pub fn last_bytes(&self, secrets: &[&[u8]]) -> String {
        let raw: Vec<u8> = self.raw.iter().copied().collect();
        let mut hidden = vec![false; raw.len()];
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            let mut i = 0;
            while i + secret.len() <= raw.len() {
                if raw[i..].starts_with(secret) {
                    hidden[i..i + secret.len()].fill(true);
                }
                i += 1;
            }
            // A partial echo at the end, e.g. while the device is still echoing a secret command line.
            let min = secret.len().min(4);
            if let Some(k) = (min..secret.len())
                .rev()
                .find(|&k| raw.ends_with(&secret[..k]))
            {
                let n = raw.len();
                hidden[n - k..].fill(true);
            }
        }
        let start = raw.len().saturating_sub(RAW_SHOWN);
        let mut out = String::new();
        if start > 0 {
            out.push('…');
        }
        for i in start..raw.len() {
            if hidden[i] {
                if i == start || !hidden[i - 1] {
                    out.push_str(REDACTED);
                }
            } else {
                out.extend(raw[i].escape_ascii().map(char::from));
            }
        }
        out
    }

    /// Forgets the raw bytes kept for error messages (after a secret was typed, so no later error can show its
    /// echo, even a garbled one).
    pub fn forget_raw(&mut self) {
        self.raw.clear();
    }
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Screen")
            .field("lines", &self.lines.len())
            .field("held", &self.held)
            .field("cap", &self.cap)
            .field("truncated", &self.truncated)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen() -> Screen {
        Screen::new(&Regex::new(r"^\[\s*\d+\.\d+\] ").unwrap())
    }

    fn lines(s: &Screen) -> Vec<&str> {
        s.lines().collect()
    }

    #[test]
    fn every_line_ending_splits_lines_once() {
        for (input, ending) in [
            (&b"a\r\nb\r\n\r\nc"[..], "CRLF"),
            (b"a\nb\n\nc", "LF"),
            (b"a\rb\r\r\nc", "CR, CRCRLF"),
            (b"a\n\rb\n\r\n\rc", "LFCR"),
        ] {
            let mut s = screen();
            s.feed(input);
            let want: Vec<&str> = if ending.starts_with("CR,") {
                vec!["a", "b"]
            } else {
                vec!["a", "b", ""]
            };
            assert_eq!(lines(&s), want, "{ending}");
            assert_eq!(s.tail(), "c", "{ending}");
        }
    }

    #[test]
    fn a_crlf_split_across_chunks_is_one_line_end() {
        let mut s = screen();
        for b in b"out\r\n# " {
            s.feed(&[*b]);
        }
        assert_eq!(lines(&s), ["out"]);
        assert_eq!(s.tail(), "# ");
    }

    #[test]
    fn a_prompt_with_colours_and_a_title_is_plain_text() {
        let mut s = screen();
        s.feed(b"\x1b]0;root@ipcam: ~\x07\x1b[1;32mroot@ipcam\x1b[0m:~# ");
        assert!(s.tail_matches(&Regex::new(r"(?m)[#$] $").unwrap()));
        assert_eq!(s.tail(), "root@ipcam:~# ");
    }

    #[test]
    fn kernel_lines_vanish_even_right_after_a_prompt() {
        let mut s = screen();
        s.feed(b"one\r\n[   12.345678] eth0: link up\r\ntwo\r\n# [  13.000001] usb 1-1: new device\r\n");
        assert_eq!(lines(&s), ["one", "two"]);
        assert_eq!(
            s.tail(),
            "# ",
            "the prompt the kernel line interrupted is the tail again"
        );
        s.feed(b"ls");
        assert_eq!(s.tail(), "# ls");
    }

    #[test]
    fn backspace_edits_the_tail() {
        let mut s = screen();
        s.feed(b"lx\x08 \x08s");
        assert_eq!(s.tail(), "ls");
    }

    #[test]
    fn endless_output_stays_within_the_budget() {
        let mut s = Screen::with_cap(&Regex::new("^$x").unwrap(), 4096);
        for i in 0..10_000 {
            s.feed(format!("line {i}\r\n").as_bytes());
            assert!(s.held_bytes() <= s.cap());
        }
        assert!(s.truncated());
        assert_eq!(
            s.lines().last(),
            Some("line 9999"),
            "the newest output is kept"
        );
        for _ in 0..10_000 {
            s.feed(&[0xff, 0x00, b'x', 0x1b, b'[', b'm', 0x80]);
            assert!(
                s.held_bytes() <= s.cap(),
                "binary garbage without line ends too"
            );
        }
        s.feed(b"# ");
        assert!(
            s.tail().ends_with("# "),
            "the newest bytes of an endless line are kept"
        );
        s.clear();
        assert_eq!(
            (s.held_bytes(), s.truncated(), s.tail().as_str()),
            (0, false, "")
        );
    }

    #[test]
    fn last_bytes_are_escaped_and_redacted() {
        let mut s = screen();
        s.feed(b"\x1b[1mPassword: hunter2secret\r\n# ");
        assert_eq!(
            s.last_bytes(&[b"hunter2secret"]),
            r"\x1b[1mPassword: <redacted>\r\n# "
        );
        s.feed(&[b'x'; 100]);
        assert!(
            s.last_bytes(&[]).starts_with('…'),
            "long input is cut to its end"
        );
        assert_eq!(s.last_bytes(&[]).len(), "…".len() + RAW_SHOWN);

        let mut s = screen();
        s.feed(b"# cfgcli -s web.admin.pass");
        let shown = s.last_bytes(&[b"cfgcli -s web.admin.password 'x'"]);
        assert_eq!(
            shown, "# <redacted>",
            "a secret line still being echoed is hidden too"
        );
        s.forget_raw();
        assert_eq!(s.last_bytes(&[]), "");
    }
}
