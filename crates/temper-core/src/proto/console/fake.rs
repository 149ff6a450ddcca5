//! A scripted BusyBox-like console for the driver's tests: login, shell, `passwd`, canned command output.

use std::time::Duration;

use regex::Regex;
use tokio::task::JoinHandle;

use super::{ConsoleConfig, ConsoleSession};
use crate::transport::testing::{self, DeviceSide};

/// The ipcam profile's console settings, with short timeouts for tests.
pub(super) fn config() -> ConsoleConfig {
    ConsoleConfig {
        login_prompt: Regex::new(r"(?m)login: $").unwrap(),
        password_prompt: Regex::new(r"Password: $").unwrap(),
        shell_prompt: Regex::new(r"(?m)[#$] $").unwrap(),
        login_failed: Regex::new(r"Login incorrect").unwrap(),
        kernel_line: Regex::new(r"^\[\s*\d+\.\d+\] ").unwrap(),
        line_ending: "\r".to_string(),
        logout_command: "exit".to_string(),
        login_timeout: Duration::from_secs(3),
        command_timeout: Duration::from_secs(3),
    }
}

/// A kernel log line as printk writes it.
pub(super) const KERNEL: &str = "[   12.345678] eth0: link up";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum State {
    Login,
    Password(String),
    Shell,
    Passwd(u8, String),
}

/// The simulated device. Fields are the knobs tests turn.
#[derive(Debug, Clone)]
pub(super) struct FakeConsole {
    /// Echo typed characters (and Enter).
    pub echo: bool,
    /// The device's newline.
    pub eol: &'static str,
    pub prompt: String,
    pub login_prompt: String,
    /// user, password.
    pub users: Vec<(String, String)>,
    /// Exact command line, output (lines separated by `\n`).
    pub commands: Vec<(String, String)>,
    /// Print one byte per chunk.
    pub dribble: bool,
    /// Print the login prompt (or the shell prompt) before any key; otherwise stay silent until Enter.
    pub greet: bool,
    pub start_in_shell: bool,
    /// Print a kernel line right after every shell prompt that follows a command.
    pub kernel_after_prompt: bool,
    /// Echo this byte wrongly (as the next byte value), e.g. a noisy line.
    pub garble: Option<u8>,
    pub(super) state: State,
    pub(super) line: Vec<u8>,
    pub(super) last_cr: bool,
    /// Command lines run at the shell (the device's own record).
    pub ran: Vec<String>,
}

impl Default for FakeConsole {
    fn default() -> Self {
        FakeConsole {
            echo: true,
            eol: "\r\n",
            prompt: "root@ipcam:~# ".to_string(),
            login_prompt: "ipcam login: ".to_string(),
            users: vec![("root".to_string(), "xmhdipc".to_string())],
            commands: vec![
                ("cat /etc/version".to_string(), "1.2.3".to_string()),
                (
                    "cat /proc/cpuinfo".to_string(),
                    "processor\t: 0\nHardware\t: Simvision SV-IPC2100\nSerial\t\t: 00112233aabbccdd".to_string(),
                ),
            ],
            dribble: false,
            greet: false,
            start_in_shell: false,
            kernel_after_prompt: false,
            garble: None,
            state: State::Login,
            line: Vec::new(),
            last_cr: false,
            ran: Vec::new(),
        }
    }
}

impl FakeConsole {
    /// Starts the device on its own task; the task ends (returning the device) when the host drops its link.
    pub(super) fn spawn(mut self, mut dev: DeviceSide) -> JoinHandle<FakeConsole> {
        tokio::spawn(async move {
            if self.start_in_shell {
                self.state = State::Shell;
            }
            if self.greet {
                self.prompt_again(&dev).await;
            }
            while let Some(bytes) = dev.recv().await {
                for b in bytes {
                    self.key(b, &dev).await;
                }
            }
            self
        })
    }

    /// A session over an in-memory link to this device.
    pub(super) fn session(
        self,
        max_send: Option<usize>,
    ) -> (ConsoleSession, JoinHandle<FakeConsole>) {
        let (link, dev) = testing::pair(max_send);
        let handle = self.spawn(dev);
        (ConsoleSession::new(Box::new(link), config()), handle)
    }

    fn hidden(&self) -> bool {
        matches!(self.state, State::Password(_) | State::Passwd(..))
    }

    async fn out(&self, dev: &DeviceSide, text: &str) {
        let text = text.replace('\n', self.eol);
        if self.dribble {
            dev.dribble(text).await;
        } else {
            dev.push(text).await;
        }
    }

    async fn key(&mut self, b: u8, dev: &DeviceSide) {
        let was_cr = std::mem::replace(&mut self.last_cr, b == b'\r');
        match b {
            b'\n' if was_cr => {}
            b'\r' | b'\n' => {
                if self.echo || self.hidden() {
                    self.out(dev, "\n").await;
                }
                let line = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
                self.enter(line, dev).await;
            }
            0x03 => {
                if self.echo {
                    self.out(dev, "^C\n").await;
                }
                self.line.clear();
                if self.state != State::Login {
                    self.state = State::Shell;
                }
                self.prompt_again(dev).await;
            }
            0x08 | 0x7f => {
                self.line.pop();
            }
            _ => {
                self.line.push(b);
                if self.echo && !self.hidden() {
                    let shown = if Some(b) == self.garble { b + 1 } else { b };
                    self.out(dev, &(shown as char).to_string()).await;
                }
            }
        }
    }

    async fn prompt_again(&self, dev: &DeviceSide) {
        let prompt = if self.state == State::Login {
            &self.login_prompt
        } else {
            &self.prompt
        };
        self.out(dev, prompt).await;
    }

    async fn enter(&mut self, line: String, dev: &DeviceSide) {
        match std::mem::replace(&mut self.state, State::Shell) {
            State::Login if line.is_empty() => {
                self.state = State::Login;
                self.prompt_again(dev).await;
            }
            State::Login => {
                self.state = State::Password(line);
                self.out(dev, "Password: ").await;
            }
            State::Password(user) => {
                if self.users.iter().any(|(u, p)| *u == user && *p == line) {
                    self.out(
                        dev,
                        &format!("\nBusyBox v1.31.1 built-in shell (ash)\n\n{}", self.prompt),
                    )
                    .await;
                } else {
                    self.state = State::Login;
                    self.out(dev, &format!("Login incorrect\n{}", self.login_prompt))
                        .await;
                }
            }
            State::Shell => self.shell(line, dev).await,
            State::Passwd(1, _) => {
                self.state = State::Passwd(2, line);
                self.out(dev, "Retype password: ").await;
            }
            State::Passwd(_, first) => {
                if first == line {
                    self.users.retain(|(u, _)| u != "root");
                    self.users.push(("root".to_string(), line));
                    self.out(dev, "passwd: password for root changed by root\n")
                        .await;
                } else {
                    self.out(dev, "passwd: passwords don't match\n").await;
                }
                self.shell_prompt(dev).await;
            }
        }
    }

    async fn shell(&mut self, line: String, dev: &DeviceSide) {
        if line.is_empty() {
            return self.prompt_again(dev).await;
        }
        self.ran.push(line.clone());
        if line == "exit" {
            self.state = State::Login;
            return self
                .out(dev, &format!("\nSimvision IPC\n{}", self.login_prompt))
                .await;
        }
        if line == "passwd root" {
            self.state = State::Passwd(1, String::new());
            return self
                .out(dev, "Changing password for root\nNew password: ")
                .await;
        }
        let output = match self.commands.iter().find(|(c, _)| *c == line) {
            Some((_, out)) => format!("{out}\n"),
            None if line.starts_with("cfgcli -s ") => "OK\n".to_string(),
            None => format!("sh: {line}: not found\n"),
        };
        self.out(dev, &output).await;
        self.shell_prompt(dev).await;
    }

    async fn shell_prompt(&self, dev: &DeviceSide) {
        self.out(dev, &self.prompt).await;
        if self.kernel_after_prompt {
            self.out(dev, &format!("{KERNEL}\n")).await;
        }
    }
}
