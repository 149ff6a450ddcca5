//! What the console driver needs to know about one model's console (built from its profile).

use std::time::Duration;

use regex::Regex;

/// Prompts, line ending and timeouts of one model's console. Patterns are matched against text with ANSI/OSC
/// escape sequences already removed.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// The login prompt, e.g. `(?m)login: $`.
    pub login_prompt: Regex,
    /// The password prompt, e.g. `Password: $`.
    pub password_prompt: Regex,
    /// The shell prompt, e.g. `(?m)[#$] $`.
    pub shell_prompt: Regex,
    /// Text the device prints when a login is refused, e.g. `Login incorrect`.
    pub login_failed: Regex,
    /// A kernel log line that may appear in the middle of command output, e.g. `^\[\s*\d+\.\d+\] `.
    pub kernel_line: Regex,
    /// What the Enter key sends, e.g. `"\r"`.
    pub line_ending: String,
    /// The command that ends a shell session, e.g. `exit`.
    pub logout_command: String,
    /// How long a login may take to answer.
    pub login_timeout: Duration,
    /// How long a command may take to answer.
    pub command_timeout: Duration,
}
