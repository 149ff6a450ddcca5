//! The error every app call returns: a stable `code` the front end branches on, a plain-language message and
//! what to do next. The front end never parses message text.

use serde::Serialize;
use temper_core::inventory::audit::AuditError;
use temper_core::inventory::InventoryError;
use temper_core::plan::{BleRunError, PlanError};
use temper_core::proto::console::ConsoleError;
use temper_core::transport::ble::BleError;
use temper_core::transport::TransportError;
use ts_rs::TS;

/// What kind of failure, for the front end to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// The inventory is locked: unlock it first.
    Locked,
    /// There is no inventory yet: create one.
    NoInventory,
    /// The key or passphrase does not open the inventory.
    WrongKey,
    /// Too many wrong tries: wait, then try again.
    TooManyAttempts,
    /// The passphrase is too weak for a new inventory.
    WeakPassphrase,
    /// The device stopped answering or was unplugged; nothing was lost.
    DeviceLost,
    /// The device is not a model Temper knows, or not the one expected.
    DeviceIncompatible,
    /// The device did something Temper refuses (a hostile or broken device).
    DeviceMisbehaved,
    /// No such device, job or record.
    NotFound,
    /// The request is not valid (a setting that loosens a policy, a bad value).
    Invalid,
    /// Something is already running for this device.
    Busy,
    /// Bluetooth is off, absent or not running on this computer.
    Bluetooth,
    /// The device's 6-digit passkey is missing, malformed or was not accepted: ask for it (again).
    Passkey,
    /// The backup file is damaged, not a Temper backup, or its audit trail does not verify: it must not be
    /// restored.
    BadBackup,
    /// Anything else: the message says what.
    Internal,
}

/// An error for people and for the front end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// What happened, in plain words.
    pub message: String,
    /// What to do next.
    pub help: Option<String>,
    /// Seconds until the next unlock may be tried (after repeated wrong keys), else null.
    #[ts(type = "number | null")]
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            help: None,
            retry_after_secs: None,
        }
    }

    /// Adds what to do next.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds the seconds to wait before the next unlock try.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// The inventory is locked.
    pub fn locked() -> Self {
        ApiError::new(ErrorCode::Locked, "The inventory is locked.")
            .help("Unlock it to see devices and commission them.")
    }
}

impl From<InventoryError> for ApiError {
    fn from(error: InventoryError) -> Self {
        let code = match &error {
            InventoryError::WrongKey => ErrorCode::WrongKey,
            InventoryError::Audit(AuditError::TooManyAttempts { .. }) => ErrorCode::TooManyAttempts,
            InventoryError::WeakPassphrase { .. } => ErrorCode::WeakPassphrase,
            InventoryError::NotFound { .. } => ErrorCode::NoInventory,
            InventoryError::UnknownDevice { .. } => ErrorCode::NotFound,
            _ => ErrorCode::Internal,
        };
        let help = match code {
            ErrorCode::WrongKey => Some("Check the passphrase and try again. After several wrong tries Temper waits before it lets you try again."),
            ErrorCode::TooManyAttempts => Some("Wait until the countdown ends, then try again. Every wrong try is recorded in the audit trail."),
            ErrorCode::WeakPassphrase => Some("Use a longer passphrase: several unrelated words work well."),
            _ => None,
        };
        let retry_after_secs = match &error {
            InventoryError::Audit(AuditError::TooManyAttempts { retry_after_secs }) => {
                Some(*retry_after_secs)
            }
            _ => None,
        };
        let message = match retry_after_secs {
            Some(_) => {
                "Too many wrong tries in a row: Temper waits before it takes the next one.".into()
            }
            None => error.to_string(),
        };
        ApiError {
            code,
            message,
            help: help.map(String::from),
            retry_after_secs,
        }
    }
}

/// What a person reads when the device stopped answering mid-way.
pub const DEVICE_LOST: &str = "The device stopped answering.";
/// What they do about it.
pub const DEVICE_LOST_HELP: &str =
    "Check the cable, then press Retry — nothing was lost: the new password is saved.";

impl From<PlanError> for ApiError {
    fn from(error: PlanError) -> Self {
        match error {
            PlanError::Console(ConsoleError::Transport(_) | ConsoleError::Timeout { .. }) => {
                ApiError::new(ErrorCode::DeviceLost, DEVICE_LOST).help(DEVICE_LOST_HELP)
            }
            PlanError::Inventory(e) => e.into(),
            PlanError::DeviceIncompatible(_) | PlanError::WrongDevice { .. } => {
                ApiError::new(ErrorCode::DeviceIncompatible, error.to_string())
            }
            PlanError::DeviceMisbehaved(_) | PlanError::CsrRefused(_) => ApiError::new(
                ErrorCode::DeviceMisbehaved,
                error.to_string(),
            )
            .help("Temper stopped before trusting the device. Check its firmware, or contact its vendor."),
            other => ApiError::new(ErrorCode::Internal, other.to_string())
                .help("Press Retry: Temper resumes where it stopped."),
        }
    }
}

/// What a person reads when a run over Bluetooth LE stopped.
pub fn ble_run_error(error: BleRunError) -> ApiError {
    match error {
        BleRunError::Plan(e) => e.into(),
        BleRunError::Link(TransportError::Ble(e)) => ble_error(&e),
        BleRunError::Link(e) => ApiError::new(
            ErrorCode::DeviceLost,
            "The Bluetooth connection to the device was lost.",
        )
        .help(format!(
            "Bring the device closer and check it is powered, then press Retry — nothing was lost. Detail: {e}"
        )),
    }
}

/// A [`BleError`] in plain words, keyed by [`BleError::code`].
pub fn ble_error(error: &BleError) -> ApiError {
    let detail = error.to_string();
    match error {
        BleError::Off => ApiError::new(ErrorCode::Bluetooth, "Bluetooth is off.")
            .help("Turn Bluetooth on in your computer's settings (or run: bluetoothctl power on), then press Retry."),
        BleError::NoAdapter => ApiError::new(ErrorCode::Bluetooth, "This computer has no Bluetooth adapter.")
            .help("Plug in a Bluetooth adapter or turn on the built-in one, then press Retry."),
        BleError::Unavailable(_) => ApiError::new(
            ErrorCode::Bluetooth,
            "Bluetooth is not available: this computer's Bluetooth service does not answer.",
        )
        .help("Start the Bluetooth service (systemctl start bluetooth), then press Retry."),
        BleError::NotFound { .. } => ApiError::new(
            ErrorCode::DeviceLost,
            "The device could not be found over Bluetooth.",
        )
        .help("Check that it is powered and close to this computer (some devices advertise only for a few minutes after power-on), then press Retry."),
        BleError::PasskeyNeeded { .. } => ApiError::new(ErrorCode::Passkey, "This device needs its passkey to pair.")
            .help("Enter the 6 digits printed on the device's label."),
        BleError::PasskeyRejected { .. } => {
            ApiError::new(ErrorCode::Passkey, "The passkey was not accepted.")
                .help("Check the 6 digits on the device's label and enter them again.")
        }
        BleError::PairingRefused { .. } => ApiError::new(ErrorCode::DeviceIncompatible, "The device refused to pair with this computer.")
            .help(format!("It may be paired with another computer already: reset it or open its pairing window, then press Retry. Detail: {detail}")),
        BleError::LegacyPairing { .. } => ApiError::new(
            ErrorCode::DeviceIncompatible,
            "This device only offers an old way of pairing that others can listen in on, so Temper refuses it.",
        )
        .help("Update the device's firmware to one with LE Secure Connections, then try again."),
        BleError::PairingRequired { .. } => ApiError::new(
            ErrorCode::DeviceIncompatible,
            "The device asks to be paired, but its profile says it does not pair.",
        )
        .help(format!("If another computer commissioned it, remove the pairing there or reset the device. Detail: {detail}")),
        BleError::Other { .. } => ApiError::new(ErrorCode::DeviceLost, "The Bluetooth connection to the device failed.")
            .help(format!("Bring the device closer, then press Retry — nothing was lost. Detail: {detail}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards the wording: a wrong passkey says so, with what to check.
    #[test]
    fn wrong_passkey_and_bluetooth_off_are_plain_words() {
        let refused = BleError::PasskeyRejected {
            address: "D4:5A:1E:00:00:10".into(),
        };
        let wrong = ble_error(&refused);
        assert_eq!(wrong.code, ErrorCode::Passkey);
        assert_eq!(wrong.message, "The passkey was not accepted.");
        assert!(wrong
            .help
            .unwrap()
            .contains("6 digits on the device's label"));
        let closed = BleError::PairingRefused {
            address: "D4:5A:1E:00:00:10".into(),
            reason: "pairing window closed".into(),
        };
        assert_eq!(ble_error(&closed).code, ErrorCode::DeviceIncompatible);
        let off = ble_run_error(BleRunError::Link(TransportError::Ble(BleError::Off)));
        assert_eq!(
            (off.code, off.message.as_str()),
            (ErrorCode::Bluetooth, "Bluetooth is off.")
        );
        let needed = ble_error(&BleError::PasskeyNeeded {
            address: "x".into(),
        });
        assert_eq!(needed.code, ErrorCode::Passkey);
    }
}
