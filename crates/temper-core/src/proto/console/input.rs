//! Commands that read text from the terminal after they start (e.g. a certificate chain pasted until `EOF`).

use tokio::time::Instant;

use super::error::{ConsoleError, Waited};
use super::session::{ConsoleSession, ConsoleState};

impl ConsoleSession {
    /// Runs `command`, then types each of `lines` and Enter, and returns the output up to the shell prompt
    /// (the command's echo and the echoed input lines included, kernel lines and escapes removed). Lines are
    /// public data (a PEM chain, for example): they are logged at debug level only by count.
    ///
    /// The whole exchange, typing included, must finish within the profile's command timeout plus the time
    /// the link needs to carry the input at the console's pace. Fails with [`ConsoleError::LineBreak`] if a
    /// line holds CR or LF.
    pub async fn run_with_input(
        &mut self,
        command: &str,
        lines: &[&str],
    ) -> Result<String, ConsoleError> {
        if let Some(bad) = std::iter::once(&command)
            .chain(lines.iter())
            .find(|l| l.contains(['\r', '\n']))
        {
            return Err(ConsoleError::LineBreak {
                what: format!(
                    "the input line {:?}",
                    bad.chars().take(40).collect::<String>()
                ),
            });
        }
        self.ensure_shell(|| format!("running `{command}`")).await?;
        tracing::debug!(command, lines = lines.len(), "console run with input");
        self.at = None;
        self.drain().await?;
        self.screen.clear();
        self.type_line(command.as_bytes()).await?;
        for line in lines {
            self.type_line(line.as_bytes()).await?;
        }
        let cmd = command.trim_end();
        let last = lines.last().map_or(cmd, |l| l.trim_end());
        let timeout = self.config.command_timeout;
        let need_echo = self.echo != Some(false);
        let found = self
            .wait_until(Instant::now() + timeout, |s, c| {
                // The prompt counts only after the last typed line was echoed (or the output overflowed).
                let echoed = !need_echo || s.lines().any(|l| l.trim_end().ends_with(last));
                ((echoed || s.truncated()) && s.tail_matches(&c.shell_prompt)).then_some(())
            })
            .await?;
        if found.is_none() {
            return Err(self.timeout(
                Waited::ShellPrompt,
                format!("`{command}` and its input"),
                timeout,
            ));
        }
        self.at = Some(ConsoleState::Shell);
        if self.screen.truncated() {
            return Err(ConsoleError::OutputTooLarge {
                after: format!("`{command}`"),
                limit: self.screen.cap(),
            });
        }
        Ok(self.screen.lines().collect::<Vec<_>>().join("\n"))
    }
}
