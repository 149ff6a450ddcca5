//! Running commands at the shell prompt: plain, secret-bearing, and interactive dialogs.

use regex::Regex;
use tokio::time::Instant;
use zeroize::Zeroizing;

use super::error::{ConsoleError, Waited};
use super::screen::{Screen, REDACTED};
use super::session::{ConsoleSession, ConsoleState, INTERRUPT};
use crate::secret::Secret;

/// One step of an interactive command: await `expect`, then type `answer` and Enter.
#[derive(Debug, Clone)]
pub struct DialogStep {
    /// The prompt to await, matched against the text printed since the previous step (escapes removed), e.g.
    /// `New password: $`.
    pub expect: Regex,
    /// What to type (never echoed by the device, never logged).
    pub answer: Secret,
}

impl ConsoleSession {
    /// Runs `command` at the shell prompt (waking the console first if its position is unknown) and returns its
    /// output: echo, escapes, kernel lines and the prompt removed, lines joined with `\n`. Fails with
    /// [`ConsoleError::NotAtShell`] at the login prompt, and [`ConsoleError::Timeout`] if the prompt does not return
    /// within the profile's command timeout.
    pub async fn run(&mut self, command: &str) -> Result<String, ConsoleError> {
        if command.contains(['\r', '\n']) {
            return Err(ConsoleError::LineBreak {
                what: format!("the command {command:?}"),
            });
        }
        self.ensure_shell(|| format!("running `{command}`")).await?;
        tracing::debug!(command, "console run");
        self.at = None;
        self.drain().await?;
        self.screen.clear();
        self.type_line(command.as_bytes()).await?;

        let cmd = command.trim_end();
        let echo = self.echo;
        let deadline = Instant::now() + self.config.command_timeout;
        let found = self
            .wait_until(deadline, |s, c| {
                if !s.tail_matches(&c.shell_prompt) {
                    return None;
                }
                let echo_at = find_echo(s, cmd, echo == Some(true));
                let tail = s.tail();
                match echo {
                    // The echo has not arrived yet: a prompt now is a stale one.
                    Some(true) if echo_at.is_none() && !s.truncated() => None,
                    // Maybe the echo itself, still being typed out, looks like a prompt (`echo $ x`).
                    None if echo_at.is_none()
                        && !tail.is_empty()
                        && cmd.starts_with(tail.as_str()) =>
                    {
                        None
                    }
                    _ => Some(echo_at),
                }
            })
            .await?;
        let Some(echo_at) = found else {
            let timeout = self.config.command_timeout;
            return Err(self.timeout(Waited::ShellPrompt, format!("`{command}`"), timeout));
        };
        self.at = Some(ConsoleState::Shell);
        if self.screen.truncated() {
            return Err(self.too_large(format!("`{command}`")));
        }
        if echo_at.is_some() {
            self.echo = Some(true);
        } else if self.echo.is_none() {
            self.echo = Some(false);
        }
        let skip = echo_at.map_or(0, |i| i + 1);
        Ok(self
            .screen
            .lines()
            .skip(skip)
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// Like [`ConsoleSession::run`], for a command line that holds a secret: types the line, waits for its exact
    /// echo and only then presses Enter. If the echo differs, presses Ctrl-C instead and fails with
    /// [`ConsoleError::EchoMismatch`]; a console known not to echo fails with [`ConsoleError::NoEcho`]. The line is
    /// never logged and is redacted from errors and from the returned output.
    pub async fn run_secret(&mut self, line: &Secret) -> Result<String, ConsoleError> {
        if line.expose().contains(['\r', '\n']) {
            return Err(ConsoleError::LineBreak {
                what: "the secret command line".to_string(),
            });
        }
        self.ensure_shell(|| "running a command line that holds a secret".to_string())
            .await?;
        if self.echo == Some(false) {
            return Err(ConsoleError::NoEcho);
        }
        tracing::debug!(bytes = line.len(), "console run (secret command line)");
        self.secrets = vec![line.clone()];
        let result = self.run_secret_at_prompt(line).await;
        self.secrets.clear();
        self.screen.forget_raw();
        result
    }

    async fn run_secret_at_prompt(&mut self, line: &Secret) -> Result<String, ConsoleError> {
        const AFTER: &str = "the secret command line";
        self.at = None;
        self.drain().await?;
        self.screen.clear();
        self.send(line.expose().as_bytes()).await?;

        // 1. The echo, before Enter.
        let text = line.expose();
        let timeout = self.config.command_timeout;
        let echoed = self
            .wait_until(Instant::now() + timeout, |s, _| {
                let tail = Zeroizing::new(s.tail());
                if s.lines().len() > 0 {
                    Some(Err(0))
                } else if tail.as_str() == text {
                    Some(Ok(()))
                } else if text.starts_with(tail.as_str()) {
                    None
                } else {
                    Some(Err(common_prefix(&tail, text)))
                }
            })
            .await?;
        match echoed {
            Some(Ok(())) => self.echo = Some(true),
            Some(Err(position)) => {
                self.interrupt().await;
                return Err(ConsoleError::EchoMismatch { position });
            }
            None => {
                let err = self.timeout(Waited::Echo, format!("typing {AFTER}"), timeout);
                self.interrupt().await;
                return Err(err);
            }
        }

        // 2. Enter, then the output up to the prompt. The first line end closes the echoed line.
        self.screen.clear();
        self.enter().await?;
        let found = self
            .wait_until(Instant::now() + timeout, |s, c| {
                ((s.lines().len() > 0 || s.truncated()) && s.tail_matches(&c.shell_prompt))
                    .then_some(())
            })
            .await?;
        if found.is_none() {
            return Err(self.timeout(Waited::ShellPrompt, AFTER.to_string(), timeout));
        }
        self.at = Some(ConsoleState::Shell);
        if self.screen.truncated() {
            return Err(self.too_large(AFTER.to_string()));
        }
        Ok(self.output_after_answer(line))
    }

    /// Runs an interactive command (e.g. `passwd`): after `command`, for each step awaits its `expect` and types its
    /// `answer` and Enter, calling `on_sent(i)` right after step `i`'s bytes went out. Returns the output after the
    /// last answer up to the prompt (answers redacted). Fails with [`ConsoleError::DialogEnded`] if the command
    /// returns to the shell before a step's prompt. Each step's wait has the profile's command timeout.
    pub async fn dialog(
        &mut self,
        command: &str,
        steps: &[DialogStep],
        on_sent: &mut (dyn FnMut(usize) + Send),
    ) -> Result<String, ConsoleError> {
        if command.contains(['\r', '\n']) {
            return Err(ConsoleError::LineBreak {
                what: format!("the command {command:?}"),
            });
        }
        if let Some(i) = steps
            .iter()
            .position(|s| s.answer.expose().contains(['\r', '\n']))
        {
            return Err(ConsoleError::LineBreak {
                what: format!("the answer to dialog step {}", i + 1),
            });
        }
        if steps.is_empty() {
            return self.run(command).await;
        }
        self.ensure_shell(|| format!("running `{command}`")).await?;
        tracing::debug!(command, steps = steps.len(), "console dialog");
        self.secrets = steps.iter().map(|s| s.answer.clone()).collect();
        let result = self.dialog_at_prompt(command, steps, on_sent).await;
        self.secrets.clear();
        self.screen.forget_raw();
        result
    }

    async fn dialog_at_prompt(
        &mut self,
        command: &str,
        steps: &[DialogStep],
        on_sent: &mut (dyn FnMut(usize) + Send),
    ) -> Result<String, ConsoleError> {
        self.at = None;
        self.drain().await?;
        self.screen.clear();
        self.type_line(command.as_bytes()).await?;
        let cmd = command.trim_end();
        let timeout = self.config.command_timeout;

        for (i, step) in steps.iter().enumerate() {
            // 1. Await this step's prompt (at step 0, in the text after the command's echo).
            let found = self
                .wait_until(Instant::now() + timeout, |s, c| {
                    let skip = if i == 0 {
                        find_echo(s, cmd, true).map_or(0, |e| e + 1)
                    } else {
                        0
                    };
                    if step.expect.is_match(&s.text_after(skip)) {
                        Some(true)
                    } else if s.lines().len() > skip && s.tail_matches(&c.shell_prompt) {
                        Some(false) // the command ended early
                    } else {
                        None
                    }
                })
                .await?;
            let after = if i == 0 {
                format!("`{command}`")
            } else {
                format!("the answer to dialog step {i} of `{command}`")
            };
            match found {
                Some(true) => {}
                Some(false) => {
                    self.at = Some(ConsoleState::Shell);
                    let skip = if i == 0 {
                        find_echo(&self.screen, cmd, true).map_or(0, |e| e + 1)
                    } else {
                        0
                    };
                    let printed: Vec<&str> = self.screen.lines().skip(skip).collect();
                    return Err(ConsoleError::DialogEnded {
                        after,
                        step: i,
                        expected: step.expect.as_str().to_string(),
                        output: redact(&printed.join("\n"), &self.secrets),
                    });
                }
                None => {
                    let waited = Waited::DialogStep {
                        step: i,
                        pattern: step.expect.as_str().to_string(),
                    };
                    return Err(self.timeout(waited, after, timeout));
                }
            }
            // 2. Answer.
            self.screen.clear();
            self.type_line(step.answer.expose().as_bytes()).await?;
            on_sent(i);
        }

        // 3. The output after the last answer, up to the prompt.
        let found = self
            .wait_until(Instant::now() + timeout, |s, c| {
                ((s.lines().len() > 0 || s.truncated()) && s.tail_matches(&c.shell_prompt))
                    .then_some(())
            })
            .await?;
        let after = format!("the last answer of `{command}`");
        if found.is_none() {
            return Err(self.timeout(Waited::ShellPrompt, after, timeout));
        }
        self.at = Some(ConsoleState::Shell);
        if self.screen.truncated() {
            return Err(self.too_large(after));
        }
        let last = &steps[steps.len() - 1].answer;
        Ok(self.output_after_answer(last))
    }

    /// The lines since the last clear, without the line closed by Enter (empty, or the answer if it was echoed),
    /// secrets redacted.
    fn output_after_answer(&self, answer: &Secret) -> String {
        let mut lines = self.screen.lines().peekable();
        if lines
            .peek()
            .is_some_and(|l| l.is_empty() || *l == answer.expose())
        {
            lines.next();
        }
        redact(&lines.collect::<Vec<_>>().join("\n"), &self.secrets)
    }

    /// Presses Ctrl-C and waits (best effort) for the shell prompt, so a half-typed line never runs.
    async fn interrupt(&mut self) {
        self.screen.clear();
        if self.send(INTERRUPT).await.is_err() {
            return;
        }
        let deadline = Instant::now() + self.config.command_timeout;
        let back = self.wait_until(deadline, |s, c| {
            s.tail_matches(&c.shell_prompt).then_some(())
        });
        if let Ok(Some(())) = back.await {
            self.at = Some(ConsoleState::Shell);
        }
    }

    fn too_large(&self, after: String) -> ConsoleError {
        ConsoleError::OutputTooLarge {
            after,
            limit: self.screen.cap(),
        }
    }
}

/// Index of the line holding the echo of `cmd`: the first line ending with it if `anywhere` (stale lines may
/// precede it), else only the first line.
fn find_echo(s: &Screen, cmd: &str, anywhere: bool) -> Option<usize> {
    let is_echo = |l: &str| l.trim_end().ends_with(cmd);
    if anywhere {
        s.lines().position(is_echo)
    } else {
        s.lines().next().filter(|l| is_echo(l)).map(|_| 0)
    }
}

/// Length in bytes of the common prefix of `a` and `b`.
fn common_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

/// `text` with every non-empty secret replaced by [`REDACTED`].
fn redact(text: &str, secrets: &[Secret]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret.expose(), REDACTED);
    }
    out
}
