//! Plan errors, sorted by who is at fault.

use crate::checks::CheckError;
use crate::inventory::InventoryError;
use crate::proto::console::ConsoleError;
use crate::proto::smp::client::SmpClientError;

/// Why a plan stopped. Each message says what to do; a re-run resumes where the plan stopped.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The console driver failed (timeouts, link closed...).
    #[error(transparent)]
    Console(#[from] ConsoleError),
    /// The SMP driver failed (timeouts, link closed, an error the device answered...).
    #[error("SMP (MCUmgr): {0}")]
    Smp(#[from] SmpClientError),
    /// The inventory failed.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// An outside check could not run (the service was unreachable or spoke garbage).
    #[error(transparent)]
    Check(#[from] CheckError),
    /// The device is not the model of any profile given.
    #[error("the device is not a model Temper has a profile for: {0}. Pass --profile ID, or add a profile in provisioning-profiles/")]
    DeviceIncompatible(String),
    /// The device did something it should not (refused a valid credential, answered with garbage...).
    #[error("the device misbehaved: {0}")]
    DeviceMisbehaved(String),
    /// No credential Temper knows opens the device.
    #[error("the device refuses every credential Temper knows for {store} (the factory default and the inventory's): {help}")]
    NoWorkingCredential {
        /// Credential store id.
        store: String,
        /// What to do.
        help: String,
    },
    /// The device's CSR was refused (wrong key, no or stale challenge, asks for CA:TRUE or foreign names...).
    #[error("the device's certificate request was refused: {0}. Nothing was signed; check the device firmware")]
    CsrRefused(String),
    /// The station CA could not sign or be read.
    #[error("station CA: {0}")]
    Pki(String),
    /// The device on the port is not the one the operator named.
    #[error("the device on {port} is {found}, not {expected}: plug in {expected}, or name the device that is there")]
    WrongDevice {
        /// The serial asked for.
        expected: String,
        /// The serial found.
        found: String,
        /// The port.
        port: String,
    },
    /// Renewal of a device that was never commissioned.
    #[error("device {0} has not been commissioned: run `temper commission` first")]
    NotCommissioned(String),
    /// The profile lacks something this device needs.
    #[error("the profile {profile} cannot do this: {message}")]
    ProfileIncomplete {
        /// Profile id.
        profile: String,
        /// What is missing.
        message: String,
    },
}

impl PlanError {
    /// True when the plan stopped because the link to the device went away or went silent (a BLE link
    /// dropped, a reply lost with it): reconnecting and running the plan again resumes it.
    pub fn is_link_lost(&self) -> bool {
        match self {
            PlanError::Smp(e) => {
                e.is_link_closed()
                    || matches!(
                        e,
                        SmpClientError::Timeout { .. }
                            | SmpClientError::Link(crate::transport::TransportError::Io(_))
                    )
            }
            PlanError::Console(ConsoleError::Transport(
                crate::transport::TransportError::Closed(_),
            )) => true,
            _ => false,
        }
    }
}
