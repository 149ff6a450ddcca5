//! The thin async driver: sends keys over a [`Link`], feeds what comes back to a [`Screen`], and waits for the
//! screen to show what it expects, each wait bounded by an absolute deadline.
//!
//! Contracts:
//! - Every wait has a deadline fixed when it starts: output that never stops cannot keep a wait alive, and a
//!   timeout error names what was awaited plus the last bytes seen (escaped, secrets redacted).
//! - There are no fixed sleeps: the driver always waits for the device to print something it recognises.
//! - Secrets are never logged, never shown in errors, and the raw bytes kept for error messages are forgotten after
//!   every operation that typed one.
//! - After any error the console's position is unknown; the next operation presses Enter first ([`ConsoleSession::wake`]).

use std::time::Duration;

use tokio::time::Instant;
use zeroize::Zeroizing;

use super::error::{ConsoleError, Waited};
use super::screen::Screen;
use super::ConsoleConfig;
use crate::secret::Secret;
use crate::transport::{Link, TransportError};

/// How many keys [`ConsoleSession::wake`] tries: Enter, Enter, then Ctrl-C.
const WAKE_ATTEMPTS: usize = 3;
/// Longest wait for each key of a wake-up (shorter if the profile's command timeout is shorter).
const WAKE_STEP: Duration = Duration::from_secs(2);
/// Most chunks [`ConsoleSession::drain`] discards before an exchange (so endless output cannot stall it).
const DRAIN_CHUNKS: usize = 256;
/// Ctrl-C.
pub(super) const INTERRUPT: &[u8] = b"\x03";

/// Where the console is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleState {
    /// At the login prompt.
    LoginPrompt,
    /// At the shell prompt, logged in.
    Shell,
}

/// The device's answer to a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The shell prompt appeared.
    Accepted,
    /// The device refused the credentials; the console is back at the login prompt.
    Refused,
}

/// A login shell on a device's console, driven over any [`Link`].
pub struct ConsoleSession {
    pub(super) link: Box<dyn Link>,
    pub(super) config: ConsoleConfig,
    pub(super) screen: Screen,
    /// Where the console is; `None` when unknown (new session, or after an error).
    pub(super) at: Option<ConsoleState>,
    /// Whether the console echoes typed characters, once observed.
    pub(super) echo: Option<bool>,
    /// Secrets typed in the current operation: redacted from error messages.
    pub(super) secrets: Vec<Secret>,
    buf: Vec<u8>,
}

impl ConsoleSession {
    /// A session over `link` for a console described by `config`. Sends nothing yet.
    pub fn new(link: Box<dyn Link>, config: ConsoleConfig) -> Self {
        let screen = Screen::new(&config.kernel_line);
        ConsoleSession {
            link,
            config,
            screen,
            at: None,
            echo: None,
            secrets: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// The link back, for another driver (a device that did not answer as a console).
    pub fn into_link(self) -> Box<dyn Link> {
        self.link
    }

    /// Where the console is believed to be; `None` until [`ConsoleSession::wake`] or after an error.
    pub fn state(&self) -> Option<ConsoleState> {
        self.at
    }

    /// Presses Enter (up to twice, then Ctrl-C), each time awaiting a prompt within a short timeout (an idle console
    /// prints nothing until a key), and reports where the console is. A console caught at the password prompt is
    /// sent an empty password and brought back to the login prompt.
    pub async fn wake(&mut self) -> Result<ConsoleState, ConsoleError> {
        self.at = None;
        let step = self.config.command_timeout.min(WAKE_STEP);
        for attempt in 0..WAKE_ATTEMPTS {
            self.drain().await?;
            self.screen.clear();
            if attempt + 1 == WAKE_ATTEMPTS {
                self.send(INTERRUPT).await?; // a program may hold the console
            } else {
                self.enter().await?;
            }
            let seen = self
                .wait_until(Instant::now() + step, |s, c| {
                    if s.tail_matches(&c.login_prompt) {
                        Some(Seen::Login)
                    } else if s.tail_matches(&c.password_prompt) {
                        Some(Seen::Password)
                    } else if s.tail_matches(&c.shell_prompt) {
                        Some(Seen::Shell)
                    } else {
                        None
                    }
                })
                .await?;
            let state = match seen {
                Some(Seen::Login) => ConsoleState::LoginPrompt,
                Some(Seen::Shell) => ConsoleState::Shell,
                Some(Seen::Password) => {
                    self.screen.clear();
                    self.enter().await?;
                    let deadline = Instant::now() + self.config.login_timeout;
                    let back = self.wait_until(deadline, |s, c| {
                        s.tail_matches(&c.login_prompt).then_some(())
                    });
                    if back.await?.is_none() {
                        continue;
                    }
                    ConsoleState::LoginPrompt
                }
                None => continue,
            };
            tracing::debug!(?state, attempt, "console awake");
            self.at = Some(state);
            return Ok(state);
        }
        let after = format!("pressing Enter {} times and Ctrl-C once", WAKE_ATTEMPTS - 1);
        Err(self.timeout(Waited::AnyPrompt, after, step))
    }

    /// From a shell: runs the profile's logout command and awaits the login prompt. At the login prompt: nothing.
    pub async fn logout(&mut self) -> Result<(), ConsoleError> {
        let at = match self.at {
            Some(at) => at,
            None => self.wake().await?,
        };
        if at == ConsoleState::LoginPrompt {
            return Ok(());
        }
        tracing::debug!("console logout");
        self.at = None;
        self.drain().await?;
        self.screen.clear();
        let command = self.config.logout_command.clone();
        self.type_line(command.as_bytes()).await?;
        let deadline = Instant::now() + self.config.login_timeout;
        let back = self.wait_until(deadline, |s, c| {
            s.tail_matches(&c.login_prompt).then_some(())
        });
        if back.await?.is_none() {
            let timeout = self.config.login_timeout;
            return Err(self.timeout(Waited::LoginPrompt, format!("`{command}`"), timeout));
        }
        self.at = Some(ConsoleState::LoginPrompt);
        Ok(())
    }

    /// Logs in: reaches the login prompt first (waking the console or logging out as needed), types `user`, then
    /// `password` at the password prompt. [`LoginOutcome::Accepted`] when the shell prompt appears,
    /// [`LoginOutcome::Refused`] when the device prints `login_failed` or asks for the login again. Each of the two
    /// answers may take up to the profile's login timeout.
    pub async fn login(
        &mut self,
        user: &str,
        password: &Secret,
    ) -> Result<LoginOutcome, ConsoleError> {
        if user.contains(['\r', '\n']) {
            return Err(ConsoleError::LineBreak {
                what: format!("the user name {user:?}"),
            });
        }
        match self.at {
            Some(ConsoleState::LoginPrompt) => {}
            Some(ConsoleState::Shell) => self.logout().await?,
            None => {
                if self.wake().await? == ConsoleState::Shell {
                    self.logout().await?;
                }
            }
        }
        tracing::debug!(user, "console login");
        self.secrets = vec![password.clone()];
        let outcome = self.login_at_prompt(user, password).await;
        self.secrets.clear();
        self.screen.forget_raw();
        if let Ok(outcome) = &outcome {
            tracing::debug!(user, ?outcome, "console login answered");
        }
        outcome
    }

    async fn login_at_prompt(
        &mut self,
        user: &str,
        password: &Secret,
    ) -> Result<LoginOutcome, ConsoleError> {
        self.at = None;
        self.drain().await?;
        self.screen.clear();
        self.type_line(user.as_bytes()).await?;

        // 1. The user name: expect the password prompt (or a shell, for an account without a password).
        let login_timeout = self.config.login_timeout;
        let deadline = Instant::now() + login_timeout;
        let first = self
            .wait_until(deadline, |s, c| {
                if s.tail_matches(&c.password_prompt) {
                    Some(Seen::Password)
                } else if s.lines().len() > 0 && s.tail_matches(&c.login_prompt) {
                    Some(Seen::Login)
                } else if s.lines().len() > 0 && s.tail_matches(&c.shell_prompt) {
                    Some(Seen::Shell)
                } else {
                    None
                }
            })
            .await?;
        if self.screen.lines().any(|l| l.trim_end() == user) {
            self.echo = Some(true);
        }
        match first {
            Some(Seen::Password) => {}
            Some(Seen::Shell) => {
                self.at = Some(ConsoleState::Shell);
                return Ok(LoginOutcome::Accepted);
            }
            Some(Seen::Login) => {
                self.at = Some(ConsoleState::LoginPrompt);
                return Ok(LoginOutcome::Refused);
            }
            None => {
                let after = format!("the user name `{user}`");
                return Err(self.timeout(Waited::PasswordPrompt, after, login_timeout));
            }
        }

        // 2. The password: expect the shell prompt, or a refusal and the login prompt again.
        self.screen.clear();
        self.type_line(password.expose().as_bytes()).await?;
        let deadline = Instant::now() + login_timeout;
        let answer = self
            .wait_until(deadline, |s, c| {
                if s.tail_matches(&c.login_prompt) {
                    Some(LoginOutcome::Refused)
                } else if s.tail_matches(&c.shell_prompt)
                    && !c.login_failed.is_match(&s.text_after(0))
                {
                    Some(LoginOutcome::Accepted)
                } else {
                    None
                }
            })
            .await?;
        match answer {
            Some(outcome) => {
                self.at = Some(match outcome {
                    LoginOutcome::Accepted => ConsoleState::Shell,
                    LoginOutcome::Refused => ConsoleState::LoginPrompt,
                });
                Ok(outcome)
            }
            // Refused, but the login prompt did not come back in time: the next operation wakes the console.
            None if self
                .config
                .login_failed
                .is_match(&self.screen.text_after(0)) =>
            {
                Ok(LoginOutcome::Refused)
            }
            None => {
                let after = format!("the password for `{user}`");
                Err(self.timeout(Waited::LoginAnswer, after, login_timeout))
            }
        }
    }

    /// Makes sure the console is at a shell prompt (waking it if its position is unknown).
    pub(super) async fn ensure_shell(
        &mut self,
        action: impl FnOnce() -> String,
    ) -> Result<(), ConsoleError> {
        let at = match self.at {
            Some(at) => at,
            None => self.wake().await?,
        };
        match at {
            ConsoleState::Shell => Ok(()),
            ConsoleState::LoginPrompt => Err(ConsoleError::NotAtShell { action: action() }),
        }
    }

    /// Feeds the screen from the link until `check` returns a value, or `deadline` passes (`Ok(None)`).
    pub(super) async fn wait_until<T>(
        &mut self,
        deadline: Instant,
        mut check: impl FnMut(&Screen, &ConsoleConfig) -> Option<T>,
    ) -> Result<Option<T>, ConsoleError> {
        loop {
            if let Some(found) = check(&self.screen, &self.config) {
                return Ok(Some(found));
            }
            // Checked on every turn: a link that always has bytes ready must not outlive the deadline.
            if Instant::now() >= deadline {
                return Ok(None);
            }
            self.buf.clear();
            match tokio::time::timeout_at(deadline, self.link.recv(&mut self.buf)).await {
                Err(_elapsed) => return Ok(None),
                Ok(received) => {
                    received.map_err(|e| self.lost(e))?;
                    self.screen.feed(&self.buf);
                }
            }
        }
    }

    /// Takes in whatever the device already sent (stale prompts, late output), without waiting.
    pub(super) async fn drain(&mut self) -> Result<(), ConsoleError> {
        for _ in 0..DRAIN_CHUNKS {
            self.buf.clear();
            match tokio::time::timeout(Duration::ZERO, self.link.recv(&mut self.buf)).await {
                Err(_nothing_ready) => break,
                Ok(received) => {
                    received.map_err(|e| self.lost(e))?;
                    self.screen.feed(&self.buf);
                }
            }
        }
        Ok(())
    }

    /// Sends bytes, split to the link's message size.
    pub(super) async fn send(&mut self, bytes: &[u8]) -> Result<(), ConsoleError> {
        let max = self.link.max_send().unwrap_or(usize::MAX).max(1);
        for chunk in bytes.chunks(max) {
            if let Err(e) = self.link.send(chunk).await {
                return Err(self.lost(e));
            }
        }
        Ok(())
    }

    /// Presses Enter.
    pub(super) async fn enter(&mut self) -> Result<(), ConsoleError> {
        let eol = self.config.line_ending.clone();
        self.send(eol.as_bytes()).await
    }

    /// Types `line` and presses Enter, in one write (the buffer is zeroized: the line may be a secret).
    pub(super) async fn type_line(&mut self, line: &[u8]) -> Result<(), ConsoleError> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(
            line.len() + self.config.line_ending.len(),
        ));
        bytes.extend_from_slice(line);
        bytes.extend_from_slice(self.config.line_ending.as_bytes());
        self.send(&bytes).await
    }

    /// A timeout error (secrets redacted); the console's position becomes unknown.
    pub(super) fn timeout(
        &mut self,
        waited: Waited,
        after: String,
        timeout: Duration,
    ) -> ConsoleError {
        self.at = None;
        let secrets: Vec<&[u8]> = self.secrets.iter().map(|s| s.expose().as_bytes()).collect();
        let last_bytes = self.screen.last_bytes(&secrets);
        tracing::debug!(%waited, after, "console timeout");
        ConsoleError::Timeout {
            waited,
            after,
            timeout,
            last_bytes,
        }
    }

    /// A link failure; the console's position becomes unknown.
    fn lost(&mut self, e: TransportError) -> ConsoleError {
        self.at = None;
        ConsoleError::Transport(e)
    }
}

/// A prompt recognised on the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Login,
    Password,
    Shell,
}
