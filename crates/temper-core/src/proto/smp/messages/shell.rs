//! Shell management group (9): run a shell command on the device and get its output (Zephyr
//! `grp/shell_mgmt/src/shell_mgmt.c`).
//!
//! # How a command line reaches Zephyr's shell
//!
//! Zephyr does not run `argv` as given: it joins the elements with single spaces into one line and hands
//! that line to its shell, which splits it again with its own rules (`shell_utils.c`, `make_argv`):
//! whitespace separates arguments; outside quotes a backslash takes the next character literally; `'...'`
//! and `"..."` both group (unlike a POSIX shell, the two behave the same); inside quotes `\` followed by the
//! quote character gives the quote, `\0NNN` an octal byte and `\xHH` a hex byte, and any other backslash
//! stays as it is. So an argument holding a space would arrive as two.
//!
//! [`split_command_line`] splits a line the way a POSIX shell does (`'...'` literal, `"..."` with `\"`,
//! `\\`, `` \` `` and `\$` escapes, backslash outside quotes); [`ShellExec::from_line`] then quotes, for
//! Zephyr's parser, only the arguments that need it ([`quote_for_zephyr`]): plain words go as they are, so
//! a server that takes `argv` literally sees the same words.

use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Request, GROUP_SHELL};
use crate::proto::smp::header::Op;

/// Default wait for a shell command's reply: commands such as key generation take seconds on a small MCU.
pub const SHELL_TIMEOUT: Duration = Duration::from_secs(15);

/// Shell exec (9/0, write): `{"argv": [...]}` → `{"o": output, "ret": status}`.
///
/// Group errors: 2 COMMAND_TOO_LONG (the joined line exceeds `CONFIG_SHELL_CMD_BUFF_SIZE`), 3 EMPTY_COMMAND.
/// A firmware built with `CONFIG_MCUMGR_GRP_SHELL_LEGACY_RC_RETURN_CODE` sends the status as `rc`, which
/// reads as an SMP error here; that option is deprecated in Zephyr.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellExec {
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// How long to wait for the reply ([`SHELL_TIMEOUT`] when `None`). Not sent.
    #[serde(skip)]
    pub timeout: Option<Duration>,
}

impl ShellExec {
    /// Runs `argv` as given.
    pub fn new(argv: Vec<String>) -> Self {
        ShellExec {
            argv,
            timeout: None,
        }
    }

    /// Runs a command line: split as a POSIX shell would ([`split_command_line`]), each argument that
    /// holds whitespace, quotes or backslashes quoted for Zephyr's parser ([`quote_for_zephyr`]).
    pub fn from_line(line: &str) -> Result<Self, SplitError> {
        let argv = split_command_line(line)?;
        if argv.is_empty() {
            return Err(SplitError::Empty);
        }
        Ok(Self::new(
            argv.iter()
                .map(|a| quote_for_zephyr(a).into_owned())
                .collect(),
        ))
    }

    /// Waits up to `timeout` for the reply.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Reply to [`ShellExec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellExecResponse {
    /// What the command printed (Zephyr's dummy shell backend, capped at
    /// `CONFIG_SHELL_BACKEND_DUMMY_BUF_SIZE`).
    #[serde(rename = "o")]
    pub output: String,
    /// The command's return value: 0 for success, a negative errno otherwise.
    pub ret: i32,
}

impl Request for ShellExec {
    const GROUP: u16 = GROUP_SHELL;
    const ID: u8 = 0;
    const OP: Op = Op::Write;
    type Response = ShellExecResponse;

    fn timeout(&self) -> Option<Duration> {
        Some(self.timeout.unwrap_or(SHELL_TIMEOUT))
    }
}

/// Why a command line could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// A quote was opened and not closed.
    #[error("unterminated {quote} quote in the shell command line; close it")]
    UnterminatedQuote {
        /// The quote character.
        quote: char,
    },
    /// The line ends with a backslash that escapes nothing.
    #[error("the shell command line ends with a lone backslash; remove it or escape it as \\\\")]
    TrailingBackslash,
    /// Nothing to run.
    #[error("the shell command line is empty")]
    Empty,
}

/// Splits `line` into arguments like a POSIX shell: unquoted whitespace separates; `'...'` is literal;
/// inside `"..."` a backslash escapes only `"`, `\`, `` ` `` and `$` (and is kept before anything else);
/// outside quotes a backslash escapes any character. Adjacent parts join (`a"b c"'d'` is `ab cd`). No
/// expansion of any kind. An empty or blank line gives no arguments.
pub fn split_command_line(line: &str) -> Result<Vec<String>, SplitError> {
    let mut args = Vec::new();
    let mut current: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(arg) = current.take() {
                    args.push(arg);
                }
            }
            '\\' => {
                let next = chars.next().ok_or(SplitError::TrailingBackslash)?;
                current.get_or_insert_with(String::new).push(next);
            }
            '\'' => {
                let arg = current.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => arg.push(c),
                        None => return Err(SplitError::UnterminatedQuote { quote: '\'' }),
                    }
                }
            }
            '"' => {
                let arg = current.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e @ ('"' | '\\' | '`' | '$')) => arg.push(e),
                            Some(other) => {
                                arg.push('\\');
                                arg.push(other);
                            }
                            None => return Err(SplitError::UnterminatedQuote { quote: '"' }),
                        },
                        Some(c) => arg.push(c),
                        None => return Err(SplitError::UnterminatedQuote { quote: '"' }),
                    }
                }
            }
            c => current.get_or_insert_with(String::new).push(c),
        }
    }
    args.extend(current);
    Ok(args)
}

/// `arg` as Zephyr's shell parser must see it to get it back whole: unchanged when it holds no whitespace,
/// quote or backslash and is not empty; otherwise in double quotes, with `"` written `\"` and `\` written
/// `\x5c` (inside quotes Zephyr reads `\0…` and `\x…` as escapes, so a bare backslash is not safe).
pub fn quote_for_zephyr(arg: &str) -> Cow<'_, str> {
    let plain = !arg.is_empty()
        && !arg
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\'));
    if plain {
        return Cow::Borrowed(arg);
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\x5c"),
            c => out.push(c),
        }
    }
    out.push('"');
    Cow::Owned(out)
}
