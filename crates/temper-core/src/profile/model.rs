//! The typed layer the engine uses: every pattern compiled, every rule of [`super::validate`] already met.

use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::secret::Secret;

/// The placeholder for the new password in change commands and dialog answers.
pub const NEW_PASSWORD: &str = "{new}";
/// The placeholder for an account name in [`Accounts`] templates.
pub const USER: &str = "{user}";

/// The protocol driver that talks to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Driver {
    /// A login shell on a serial console.
    Console,
    /// Zephyr MCUmgr (SMP) over the serial console: settings, the shell group, OS datetime.
    Smp,
}

/// How a credential store is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialKind {
    /// The console account Temper logs in with; changed with an (optionally interactive) command.
    ConsoleLogin,
    /// A store changed by one shell command carrying the new password.
    Command,
    /// A store held in an SMP setting, written with the SMP settings group (driver "smp").
    Setting,
}

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// How Temper recognises a model and reads its identity.
#[derive(Debug, Clone)]
pub struct Recognition {
    /// USB-serial bridges as (vendor id, product id).
    pub usb_ids: Vec<(u16, u16)>,
    /// Matches a line printed at boot or on the login screen, when the profile gives one.
    pub banner: Option<Regex>,
    /// Command whose output identifies model and serial.
    pub identity_command: String,
    /// Has the named group `model`.
    pub model_pattern: Regex,
    /// Has the named group `serial`.
    pub serial_pattern: Regex,
    /// Command whose output holds the firmware version.
    pub firmware_command: String,
    /// Has the named group `firmware`.
    pub firmware_pattern: Regex,
}

/// How Temper learns the device's IP address.
#[derive(Debug, Clone)]
pub struct AddressSpec {
    /// Command whose output holds the address.
    pub command: String,
    /// Has the named group `ip`.
    pub pattern: Regex,
}

/// One credential store and how to change its password. `Debug` redacts the default password.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    /// Store id, unique in the profile.
    pub id: String,
    /// How it is changed.
    pub kind: CredentialKind,
    /// What it protects.
    pub description: String,
    /// Account name.
    pub username: String,
    /// The factory password.
    pub default_password: Secret,
    /// How the password is changed.
    pub change: CredentialChange,
    /// How the new password is proven.
    pub confirm: Confirm,
    /// Id of the [`ServiceSpec`] this store guards (always present in the profile).
    pub service: String,
}

/// How a credential store's password is changed.
#[derive(Debug, Clone)]
pub enum CredentialChange {
    /// A shell command (console-login and command stores).
    Command {
        /// The change command; for [`CredentialKind::Command`] it contains `'{new}'`.
        command: String,
        /// Prompts of an interactive change (console-login stores only), each answer containing `{new}`.
        dialog: Vec<DialogTemplate>,
        /// The change output matches this on success.
        success: Regex,
    },
    /// An SMP setting written with the new password (UTF-8), then committed.
    Setting {
        /// The setting's name, e.g. `app/admin_pw`.
        name: String,
    },
}

impl CredentialChange {
    /// The change command with `{new}` replaced by the new password (`None` for a setting). The result is a
    /// secret: never log it.
    pub fn render_command(&self, new: &Secret) -> Option<Secret> {
        match self {
            CredentialChange::Command { command, .. } => Some(render(command, new)),
            CredentialChange::Setting { .. } => None,
        }
    }
}

/// One prompt of an interactive password change and its answer.
#[derive(Debug, Clone)]
pub struct DialogTemplate {
    /// The prompt.
    pub expect: Regex,
    /// The answer template, containing `{new}`.
    pub send: String,
}

impl DialogTemplate {
    /// The answer with `{new}` replaced by the new password. The result is a secret: never log it.
    pub fn render(&self, new: &Secret) -> Secret {
        render(&self.send, new)
    }
}

fn render(template: &str, new: &Secret) -> Secret {
    Secret::new(template.replace(NEW_PASSWORD, new.expose()))
}

/// How Temper proves that a new password works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    /// Log out and log in again on the console.
    ConsoleLogin,
    /// An HTTP request with Digest authentication.
    HttpDigest {
        /// TCP port.
        port: u16,
        /// Request path, starting with '/'.
        path: String,
    },
    /// An RTSP DESCRIBE with Digest authentication.
    RtspDigest {
        /// TCP port.
        port: u16,
        /// Stream path, starting with '/'.
        path: String,
    },
}

/// Factory accounts to lock, and how.
#[derive(Debug, Clone)]
pub struct Accounts {
    /// Command listing the accounts.
    pub list_command: String,
    /// Accounts to lock when present; each a portable user name (`[A-Za-z0-9._-]`, not starting with '-').
    pub lock: Vec<String>,
    /// Template containing `{user}`; see [`Accounts::lock_command_for`].
    pub lock_command: String,
    /// Command whose output shows whether an account is locked.
    pub locked_check_command: String,
    locked_pattern: String,
}

impl Accounts {
    pub(crate) fn new(
        list_command: String,
        lock: Vec<String>,
        lock_command: String,
        locked_check_command: String,
        locked_pattern: String,
    ) -> Self {
        Accounts {
            list_command,
            lock,
            lock_command,
            locked_check_command,
            locked_pattern,
        }
    }

    /// The lock command for `user`. Pass a name from [`Accounts::lock`]: those were checked at load to hold
    /// no shell metacharacters; the name is inserted as is.
    pub fn lock_command_for(&self, user: &str) -> String {
        self.lock_command.replace(USER, user)
    }

    /// The pattern proving `user` is locked, with `{user}` replaced by the regex-escaped name. The template
    /// was compiled at load with each name in [`Accounts::lock`]; should it still not compile for some
    /// other name, the result matches nothing, so the account counts as not locked (fail closed).
    pub fn locked_regex(&self, user: &str) -> Regex {
        let pattern = self.locked_pattern.replace(USER, &regex::escape(user));
        Regex::new(&pattern).unwrap_or_else(|_| never_matches())
    }

    /// The `locked_pattern` template as written in the profile.
    pub fn locked_pattern(&self) -> &str {
        &self.locked_pattern
    }
}

fn never_matches() -> Regex {
    Regex::new(r"[^\s\S]").expect("an empty class is a valid pattern")
}

/// One network service and, when it is not allowed, how to close it.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// Service id, unique in the profile.
    pub id: String,
    /// What it is.
    pub description: String,
    /// Transport protocol.
    pub protocol: Protocol,
    /// Port number (never 0).
    pub port: u16,
    /// May stay open after hardening. When false, either the four command fields below are all `Some`
    /// (console) or [`ServiceSpec::close_setting`] is (smp).
    pub allowed: bool,
    /// Stops it now.
    pub stop_command: Option<String>,
    /// Keeps it off across reboots.
    pub disable_command: Option<String>,
    /// Reports its state.
    pub status_command: Option<String>,
    /// Matches the status output when it is stopped and disabled.
    pub disabled_pattern: Option<Regex>,
    /// Instead of the commands (driver "smp"): the setting that turns the service off.
    pub close_setting: Option<SettingValue>,
}

/// An SMP setting and the value Temper writes to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingValue {
    /// The setting's name, e.g. `net/telnet`.
    pub name: String,
    /// The value, as UTF-8 text.
    pub value: String,
}

/// The SMP link of a driver "smp" device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmpSpec {
    /// Wait for an SMP reply.
    pub timeout: std::time::Duration,
    /// Wait for a shell command run through the SMP shell group.
    pub command_timeout: std::time::Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_regex_escapes_the_user_name() {
        let accounts = Accounts::new(
            "cat /etc/passwd".into(),
            vec!["a.b".into()],
            "passwd -l {user}".into(),
            "cat /etc/shadow".into(),
            "(?m)^{user}:!".into(),
        );
        let re = accounts.locked_regex("a.b");
        assert!(
            re.is_match("a.b:!x"),
            "the escaped name should still match itself"
        );
        assert!(
            !re.is_match("axb:!x"),
            "'.' in a user name must be literal, not a wildcard"
        );
        assert_eq!(accounts.lock_command_for("a.b"), "passwd -l a.b");
    }

    #[test]
    fn a_pattern_that_cannot_compile_matches_nothing() {
        let accounts = Accounts::new(
            String::new(),
            vec![],
            String::new(),
            String::new(),
            "[{user}]".into(),
        );
        assert!(
            !accounts.locked_regex("").is_match("anything"),
            "fail closed: a broken pattern proves nothing"
        );
    }
}
