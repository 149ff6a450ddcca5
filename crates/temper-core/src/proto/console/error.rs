//! What can go wrong on a console, each message saying what to do.

use std::fmt;
use std::time::Duration;

use crate::transport::TransportError;

/// What the driver was waiting for when it gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited {
    /// A login or shell prompt (waking the console).
    AnyPrompt,
    /// The login prompt.
    LoginPrompt,
    /// The password prompt (after the user name).
    PasswordPrompt,
    /// The shell prompt or the login-failure text (after the password).
    LoginAnswer,
    /// The shell prompt.
    ShellPrompt,
    /// The device's echo of a typed command line.
    Echo,
    /// The prompt of one step of an interactive dialog.
    DialogStep {
        /// Index of the step (0-based).
        step: usize,
        /// The pattern awaited.
        pattern: String,
    },
}

impl Waited {
    /// What to check when this never came.
    pub fn hint(&self) -> &'static str {
        match self {
            Waited::AnyPrompt => {
                "check the wiring (TX and RX crossed, common ground), the baud rate, that the device has booted, \
                 and the profile's console.login_prompt and console.shell_prompt"
            }
            Waited::LoginPrompt => "check the profile's console.login_prompt and console.logout_command",
            Waited::PasswordPrompt => "check the profile's console.password_prompt",
            Waited::LoginAnswer => {
                "check the profile's console.shell_prompt and console.login_failed; if the device checks passwords \
                 slowly, raise console.login_timeout_ms"
            }
            Waited::ShellPrompt => {
                "check the profile's console.shell_prompt or the baud rate; if the command is slow, raise \
                 console.command_timeout_ms"
            }
            Waited::Echo => {
                "the console may not echo typed characters, or the line is too long for it to echo unchanged; \
                 Temper pressed Ctrl-C, so nothing ran"
            }
            Waited::DialogStep { .. } => "check the profile's dialog patterns against what the device prints",
        }
    }
}

impl fmt::Display for Waited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Waited::AnyPrompt => f.write_str("login or shell prompt"),
            Waited::LoginPrompt => f.write_str("login prompt"),
            Waited::PasswordPrompt => f.write_str("password prompt"),
            Waited::LoginAnswer => f.write_str("shell prompt or login failure"),
            Waited::ShellPrompt => f.write_str("shell prompt"),
            Waited::Echo => f.write_str("echo of the typed line"),
            Waited::DialogStep { step, pattern } => {
                write!(f, "prompt of dialog step {} (`{pattern}`)", step + 1)
            }
        }
    }
}

/// Formats a timeout the way people read it: `5 s`, `0.25 s`.
pub(crate) fn seconds(d: &Duration) -> String {
    let text = format!("{:.3}", d.as_secs_f64());
    format!("{} s", text.trim_end_matches('0').trim_end_matches('.'))
}

/// A console failure. Messages never contain a secret.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsoleError {
    /// The link failed (device unplugged, port closed, I/O error).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// What was awaited did not appear before the operation's deadline.
    #[error(
        "no {waited} within {} after {after}; last bytes seen: \"{last_bytes}\"; {}",
        seconds(.timeout),
        .waited.hint()
    )]
    Timeout {
        /// What was awaited.
        waited: Waited,
        /// What Temper had just done, e.g. "`cat /proc/cpuinfo`".
        after: String,
        /// The operation's time budget.
        timeout: Duration,
        /// The last raw bytes received, escaped, secrets redacted.
        last_bytes: String,
    },
    /// The echo of a secret-bearing command line differed from what was typed; Ctrl-C was sent instead of Enter.
    #[error(
        "the device echoed the command line differently from what Temper typed (from character {position} on; \
         the line holds a secret and is not shown); Temper pressed Ctrl-C instead of Enter, so nothing ran. Check \
         the serial line for lost characters (baud rate, a noisy cable) and retry"
    )]
    EchoMismatch {
        /// Byte offset of the first character that differed.
        position: usize,
    },
    /// A secret-bearing command line cannot be checked because the console does not echo.
    #[error(
        "the console does not echo typed characters, so Temper cannot check a command line that holds a secret \
         before running it; enable echo on the device (`stty echo`) or use a dialog step instead"
    )]
    NoEcho,
    /// A shell command was asked for while the console sits at the login prompt.
    #[error("the console is at the login prompt, not in a shell; log in before {action}")]
    NotAtShell {
        /// What was asked for, e.g. "running `cat /etc/version`".
        action: String,
    },
    /// A command's output exceeded the buffer before the prompt came back.
    #[error(
        "the output of {after} exceeded {} KiB before the shell prompt returned; only the end was kept. Use a \
         command with less output (filter it with grep or head)",
        .limit / 1024
    )]
    OutputTooLarge {
        /// The command, e.g. "`dmesg`" (secrets redacted).
        after: String,
        /// The buffer's budget in bytes.
        limit: usize,
    },
    /// An interactive command returned to the shell before one of its dialog prompts appeared.
    #[error(
        "{after} returned to the shell prompt before dialog step {} (`{expected}`); it printed: \"{output}\". \
         Check the command and the profile's dialog patterns",
        .step + 1
    )]
    DialogEnded {
        /// The command, e.g. "`passwd root`".
        after: String,
        /// Index of the step that never came (0-based).
        step: usize,
        /// The pattern of that step.
        expected: String,
        /// What the command printed (secrets redacted).
        output: String,
    },
    /// A command line holds a line break, which would run more than one command.
    #[error("{what} holds a line break; send one command line at a time")]
    LineBreak {
        /// The command, e.g. "`ls\nrm`" or "the secret command line".
        what: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_says_what_it_waited_for_and_what_to_check() {
        let err = ConsoleError::Timeout {
            waited: Waited::ShellPrompt,
            after: "`cat /proc/cpuinfo`".to_string(),
            timeout: Duration::from_secs(5),
            last_bytes: r"processor\t: 0\r\n".to_string(),
        };
        assert_eq!(
            err.to_string(),
            r#"no shell prompt within 5 s after `cat /proc/cpuinfo`; last bytes seen: "processor\t: 0\r\n"; check the profile's console.shell_prompt or the baud rate; if the command is slow, raise console.command_timeout_ms"#
        );
        assert_eq!(seconds(&Duration::from_millis(250)), "0.25 s");
        assert_eq!(seconds(&Duration::from_millis(1500)), "1.5 s");
    }

    #[test]
    fn closed_links_read_as_transport_errors() {
        let err: ConsoleError = TransportError::Closed("EIO".to_string()).into();
        assert!(err.to_string().contains("reconnect it"), "{err}");
    }
}
