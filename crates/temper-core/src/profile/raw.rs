//! The raw layer: serde structs that mirror a profile file key for key. Unknown keys are refused everywhere.
//!
//! The checked fields are wrapped in [`Spanned`] so a failed check can point at the line. Doc comments here
//! become the descriptions in `provisioning-profiles/profile.schema.json`. No `Debug` here: a credential
//! holds a factory password.

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::model::{CredentialKind, Driver, Protocol};
use super::policy::CharClass;

/// A Temper provisioning profile: everything Temper knows about one device model.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Profile")]
pub(crate) struct RawProfile {
    pub profile: RawHeader,
    pub recognition: RawRecognition,
    /// The serial console (required with driver = "console").
    pub console: Option<RawConsole>,
    /// The SMP (MCUmgr) link (required with driver = "smp").
    pub smp: Option<RawSmp>,
    /// The model's Bluetooth LE identity: how it advertises and pairs (leave it out for a model without BLE).
    pub ble: Option<super::ble::RawBle>,
    pub address: RawAddress,
    pub password_policy: RawPasswordPolicy,
    /// Every credential store on the device that ships with a default password.
    #[schemars(with = "Vec<RawCredential>")]
    pub credentials: Vec<Spanned<RawCredential>>,
    /// Extra factory login accounts to lock (console devices; leave it out when the model has none).
    pub accounts: Option<RawAccounts>,
    /// Every network service the device may listen on.
    #[schemars(with = "Vec<RawService>")]
    pub services: Vec<Spanned<RawService>>,
    pub checks: RawChecks,
    /// How the device's clock is set (required with [certificate]).
    pub clock: Option<super::certificate::RawClock>,
    /// Per-device certificates: on-device key, CSR, install, and the station's policy.
    pub certificate: Option<super::certificate::RawCertificate>,
}

/// Who the profile is for.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Header")]
pub(crate) struct RawHeader {
    /// Short stable id: lowercase letters, digits and '-', e.g. "ipcam". Recorded in the inventory.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Human-readable model name.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Manufacturer.
    #[schemars(with = "String")]
    pub vendor: Spanned<String>,
    /// The protocol driver that talks to the device: "console" (a login shell on a serial console) or "smp"
    /// (Zephyr MCUmgr over the serial console; commands run through the SMP shell group).
    #[schemars(with = "Driver")]
    pub driver: Spanned<Driver>,
    /// Version of this file format; only 1 exists.
    #[schemars(with = "u32")]
    pub schema_version: Spanned<u32>,
}

/// How Temper recognises the model.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Recognition")]
pub(crate) struct RawRecognition {
    /// USB-serial bridges the model ships with, as "vvvv:pppp" hex (vendor:product).
    #[schemars(with = "Vec<String>")]
    pub usb_ids: Vec<Spanned<String>>,
    /// Optional: regex matching a line the device prints at boot or on its login screen.
    #[schemars(with = "Option<String>")]
    pub banner: Option<Spanned<String>>,
    /// Command run after login (console) or through the SMP shell group (smp) whose output identifies the
    /// model and serial number.
    #[schemars(with = "String")]
    pub identity_command: Spanned<String>,
    /// Regex over the identity output with a named group `model`.
    #[schemars(with = "String")]
    pub model_pattern: Spanned<String>,
    /// Regex over the identity output with a named group `serial`.
    #[schemars(with = "String")]
    pub serial_pattern: Spanned<String>,
    /// Command whose output holds the firmware version.
    #[schemars(with = "String")]
    pub firmware_command: Spanned<String>,
    /// Regex over the firmware output with a named group `firmware`.
    #[schemars(with = "String")]
    pub firmware_pattern: Spanned<String>,
}

/// The serial console: prompts, line ending and timeouts. Patterns see text with ANSI escapes removed.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Console")]
pub(crate) struct RawConsole {
    /// Serial speed in bit/s.
    #[schemars(with = "u32")]
    pub baud: Spanned<u32>,
    /// What the Enter key sends: "\r", "\n" or "\r\n".
    #[schemars(with = "String")]
    pub line_ending: Spanned<String>,
    /// Regex for the login prompt.
    #[schemars(with = "String")]
    pub login_prompt: Spanned<String>,
    /// Regex for the password prompt.
    #[schemars(with = "String")]
    pub password_prompt: Spanned<String>,
    /// Regex for the shell prompt.
    #[schemars(with = "String")]
    pub shell_prompt: Spanned<String>,
    /// Regex for the text printed when a login is refused.
    #[schemars(with = "String")]
    pub login_failed: Spanned<String>,
    /// Regex for a kernel log line that may interrupt command output.
    #[schemars(with = "String")]
    pub kernel_line: Spanned<String>,
    /// Command that ends a shell session.
    #[schemars(with = "String")]
    pub logout_command: Spanned<String>,
    /// How long a login may take to answer, in milliseconds.
    #[schemars(with = "u64")]
    pub login_timeout_ms: Spanned<u64>,
    /// How long a command may take to answer, in milliseconds.
    #[schemars(with = "u64")]
    pub command_timeout_ms: Spanned<u64>,
}

/// The SMP (MCUmgr) link of a driver = "smp" device: SMP over the serial console (Zephyr's framing).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Smp")]
pub(crate) struct RawSmp {
    /// Serial speed in bit/s.
    #[schemars(with = "u32")]
    pub baud: Spanned<u32>,
    /// How long an SMP reply may take, in milliseconds (default 3000).
    #[schemars(with = "Option<u64>")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// How long a shell command run through the SMP shell group may take, in milliseconds (default 30000:
    /// an MCU may take seconds to make a key).
    #[schemars(with = "Option<u64>")]
    pub command_timeout_ms: Option<Spanned<u64>>,
}

/// How Temper learns the device's IP address.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Address")]
pub(crate) struct RawAddress {
    /// Command whose output holds the address.
    #[schemars(with = "String")]
    pub command: Spanned<String>,
    /// Regex over its output with a named group `ip`.
    #[schemars(with = "String")]
    pub pattern: Spanned<String>,
}

/// What the device accepts as a password; Temper generates within it.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PasswordPolicy")]
pub(crate) struct RawPasswordPolicy {
    /// Shortest password to generate or accept; at least 20 when max_length allows it.
    #[schemars(with = "usize")]
    pub min_length: Spanned<usize>,
    /// Longest password the device accepts in every credential store.
    #[schemars(with = "usize")]
    pub max_length: Spanned<usize>,
    /// Characters the device accepts in every store: printable ASCII without space, quotes or backslash.
    #[schemars(with = "String")]
    pub alphabet: Spanned<String>,
    /// Character classes every password must contain.
    #[schemars(with = "Vec<CharClass>")]
    pub require_classes: Spanned<Vec<CharClass>>,
    /// Optional: operators may require rotation after this many days.
    #[schemars(with = "Option<u32>")]
    pub max_age_days: Option<Spanned<u32>>,
}

/// One credential store and how to change its password.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Credential")]
pub(crate) struct RawCredential {
    /// Store id, unique in the profile, e.g. "web-admin".
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// "console-login" for the account Temper logs in with; "command" for a store changed by one command;
    /// "setting" for a store held in an SMP setting (driver = "smp"), written with the SMP settings group.
    #[schemars(with = "CredentialKind")]
    pub kind: Spanned<CredentialKind>,
    /// What this store protects.
    #[schemars(with = "String")]
    pub description: Spanned<String>,
    /// Account name.
    #[schemars(with = "String")]
    pub username: Spanned<String>,
    /// The factory password (may be empty).
    #[schemars(with = "String")]
    pub default_password: Spanned<String>,
    /// Kinds "console-login" and "command": the command that changes the password; `{new}` stands for the
    /// new one and must be written '{new}'.
    #[schemars(with = "Option<String>")]
    pub change_command: Option<Spanned<String>>,
    /// Console-login stores only: prompts the change command asks, each answered with a template holding `{new}`.
    #[schemars(with = "Option<Vec<RawDialogStep>>")]
    pub change_dialog: Option<Spanned<Vec<Spanned<RawDialogStep>>>>,
    /// Kinds "console-login" and "command": regex the change output must match.
    #[schemars(with = "Option<String>")]
    pub change_success: Option<Spanned<String>>,
    /// Kind "setting": the name of the SMP setting holding the password, e.g. "app/admin_pw". Temper writes
    /// the new password (UTF-8) to it, commits, and confirms the change from outside.
    #[schemars(with = "Option<String>")]
    pub setting: Option<Spanned<String>>,
    /// How Temper proves the new password works.
    #[schemars(with = "RawConfirm")]
    pub confirm: Spanned<RawConfirm>,
    /// Id of the service (in [[services]]) this store guards.
    #[schemars(with = "String")]
    pub service: Spanned<String>,
}

/// One prompt of an interactive password change.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "DialogStep")]
pub(crate) struct RawDialogStep {
    /// Regex for the prompt.
    pub expect: String,
    /// The answer; `{new}` stands for the new password.
    pub send: String,
}

/// How a new password is confirmed.
#[derive(Deserialize, JsonSchema)]
#[serde(tag = "method", rename_all = "kebab-case", deny_unknown_fields)]
#[schemars(rename = "Confirm")]
pub(crate) enum RawConfirm {
    /// Log out and in again on the console.
    ConsoleLogin {},
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

/// Factory accounts to lock.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Accounts")]
pub(crate) struct RawAccounts {
    /// Command listing the accounts.
    #[schemars(with = "String")]
    pub list_command: Spanned<String>,
    /// Accounts Temper locks when present (portable user names).
    #[schemars(with = "Vec<String>")]
    pub lock: Vec<Spanned<String>>,
    /// Command that locks one account; `{user}` stands for its name.
    #[schemars(with = "String")]
    pub lock_command: Spanned<String>,
    /// Command whose output shows whether an account is locked.
    #[schemars(with = "String")]
    pub locked_check_command: Spanned<String>,
    /// Regex over that output proving the account `{user}` is locked.
    #[schemars(with = "String")]
    pub locked_pattern: Spanned<String>,
}

/// One network service.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Service")]
pub(crate) struct RawService {
    /// Service id, unique in the profile, e.g. "telnet".
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// What it is.
    #[schemars(with = "String")]
    pub description: Spanned<String>,
    /// Transport protocol.
    pub protocol: Protocol,
    /// Port number.
    #[schemars(with = "u16")]
    pub port: Spanned<u16>,
    /// Whether the service may stay open after hardening. If false, the four keys below are required.
    #[schemars(with = "bool")]
    pub allowed: Spanned<bool>,
    /// Command that stops the service now.
    #[schemars(with = "Option<String>")]
    pub stop_command: Option<Spanned<String>>,
    /// Command that keeps it off across reboots.
    #[schemars(with = "Option<String>")]
    pub disable_command: Option<Spanned<String>>,
    /// Command reporting its state.
    #[schemars(with = "Option<String>")]
    pub status_command: Option<Spanned<String>>,
    /// Regex over the status output proving it is stopped and disabled.
    #[schemars(with = "Option<String>")]
    pub disabled_pattern: Option<Spanned<String>>,
    /// Instead of the four commands above (driver = "smp"): the SMP setting that turns the service off. Temper
    /// writes it, commits, reads it back, and proves the port closed from outside.
    #[schemars(with = "Option<RawSettingValue>")]
    pub close_setting: Option<Spanned<RawSettingValue>>,
}

/// An SMP setting and the value Temper writes to it.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SettingValue")]
pub(crate) struct RawSettingValue {
    /// The setting's name, e.g. "net/telnet".
    pub name: String,
    /// The value written, as UTF-8 text, e.g. "0".
    pub value: String,
}

/// Outside checks specific to the model.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Checks")]
pub(crate) struct RawChecks {
    /// UDP ports probed beyond Temper's standard set.
    #[schemars(with = "Vec<u16>")]
    pub extra_udp_ports: Vec<Spanned<u16>>,
    /// Default-credential trials in flight at once against one service (1–64; default 8). Raise it only for
    /// devices whose services take many connections at once.
    #[serde(default)]
    #[schemars(with = "Option<u16>")]
    pub trial_concurrency: Option<Spanned<u16>>,
}
