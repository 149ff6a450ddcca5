//! Console login shell driver: log in, run commands, answer interactive prompts, over any [`crate::transport::Link`].
//!
//! Two layers:
//! - [`Screen`], the sans-I/O core: bytes in; escape sequences stripped, lines split (CRLF, LF or CR), kernel log
//!   lines dropped, a bounded buffer; it tells whether the unterminated tail looks like a prompt. No I/O, no clock.
//! - [`ConsoleSession`], a thin async driver over a `Box<dyn Link>` that types keys and awaits what the screen
//!   shows, each wait bounded by an absolute deadline.

mod commands;
mod config;
mod error;
mod escapes;
mod input;
mod screen;
mod session;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests_hostile;
#[cfg(test)]
mod tests_session;

pub use commands::DialogStep;
pub use config::ConsoleConfig;
pub use error::{ConsoleError, Waited};
pub use screen::{Screen, DEFAULT_CAP, REDACTED};
pub use session::{ConsoleSession, ConsoleState, LoginOutcome};
