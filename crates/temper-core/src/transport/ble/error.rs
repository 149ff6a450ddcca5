//! What can go wrong reaching a BLE device, in words an operator can act on, with stable codes for front ends
//! (the GUI says "Bluetooth is off" for `ble-off` instead of showing an empty list).

/// Why a BLE operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BleError {
    /// No BlueZ on the system bus (no bluetoothd, or no system bus at all).
    #[error("Bluetooth is not available: BlueZ does not answer on the D-Bus system bus ({0}); help: start bluetoothd (systemctl start bluetooth)")]
    Unavailable(String),
    /// BlueZ runs but has no adapter.
    #[error("no Bluetooth adapter; help: plug in a Bluetooth adapter or enable the built-in one")]
    NoAdapter,
    /// The adapter is powered off.
    #[error("Bluetooth is off; help: turn it on (bluetoothctl power on) and try again")]
    Off,
    /// The device was not seen advertising.
    #[error("BLE device {address} not found within {secs} s; help: check it is powered, in range and advertising (some devices advertise only for a few minutes after power-on)")]
    NotFound {
        /// Its address.
        address: String,
        /// How long Temper scanned.
        secs: u64,
    },
    /// The device only offers legacy pairing, whose passkey exchange can be cracked by a listener.
    #[error("BLE device {address} offers only legacy pairing (LE Legacy Pairing can be cracked by anyone listening); Temper refuses it: update the device's firmware to one with LE Secure Connections")]
    LegacyPairing {
        /// Its address.
        address: String,
    },
    /// The device needs a passkey and none was given.
    #[error("BLE device {address} pairs with a passkey; help: pass the 6-digit passkey printed on its label (--passkey NNNNNN)")]
    PasskeyNeeded {
        /// Its address.
        address: String,
    },
    /// The device did not accept the passkey.
    #[error("BLE device {address} did not accept the passkey; help: check the 6 digits on its label and try again")]
    PasskeyRejected {
        /// Its address.
        address: String,
    },
    /// Pairing was refused or failed.
    #[error("pairing with BLE device {address} failed: {reason}")]
    PairingRefused {
        /// Its address.
        address: String,
        /// What BlueZ or the device said, and what to do.
        reason: String,
    },
    /// The device refused a write because the link is not paired.
    #[error("BLE device {address} refused the write: it requires pairing; help: pair first (Temper pairs when the profile says so), or, if it was commissioned by another station, remove its bond there or reset it")]
    PairingRequired {
        /// Its address.
        address: String,
    },
    /// Anything else BlueZ or btleplug reported.
    #[error("BLE {what} failed: {reason}")]
    Other {
        /// The operation.
        what: String,
        /// What was said.
        reason: String,
    },
}

impl BleError {
    /// A stable code for front ends to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            BleError::Unavailable(_) => "ble-unavailable",
            BleError::NoAdapter => "ble-no-adapter",
            BleError::Off => "ble-off",
            BleError::NotFound { .. } => "ble-not-found",
            BleError::LegacyPairing { .. } => "ble-legacy-pairing",
            BleError::PasskeyNeeded { .. } => "ble-passkey-needed",
            BleError::PasskeyRejected { .. } => "ble-passkey-rejected",
            BleError::PairingRefused { .. } => "ble-pairing-refused",
            BleError::PairingRequired { .. } => "ble-pairing-required",
            BleError::Other { .. } => "ble-failed",
        }
    }

    pub(crate) fn other(what: &str, reason: impl std::fmt::Display) -> BleError {
        BleError::Other {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}
