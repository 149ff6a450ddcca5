//! `temper ble forget --device SERIAL`, and how BLE errors end a command (commissioning over BLE is
//! `temper commission --ble ADDRESS`, in `temper_core::plan::over_ble`).

use clap::{Args, Subcommand};
use temper_core::inventory::link::{self, LinkKind};
use temper_core::transport::ble::{self, BleError};

use crate::{exit, Failure, Globals};

/// Failure for a BLE error, with its exit code.
pub fn failure(e: BleError) -> Failure {
    let code = match e {
        BleError::PasskeyNeeded { .. }
        | BleError::PasskeyRejected { .. }
        | BleError::LegacyPairing { .. } => exit::USAGE,
        _ => exit::FAILED,
    };
    Failure::new(code, e)
}

/// Options of `temper ble`.
#[derive(Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Remove this station's bond with a commissioned device (BlueZ forgets its keys; the inventory and the
    /// audit trail record it). The device keeps refusing unbonded writes until it is reset or paired again.
    Forget {
        /// The device's serial, as in the inventory.
        #[arg(long, value_name = "SERIAL")]
        device: String,
    },
}

impl Cmd {
    /// Runs the subcommand.
    pub async fn run(self, globals: &Globals) -> Result<u8, Failure> {
        let Command::Forget { device } = self.command;
        let mut inventory = super::open_inventory(globals)?;
        let known = link::link(&inventory, &device).map_err(super::inventory_failure)?;
        let Some(record) = known.filter(|l| l.transport == LinkKind::Ble) else {
            return Err(Failure::new(
                exit::USAGE,
                format!("device {device} has no Bluetooth link on record\nhelp: see `temper inventory list`; only devices commissioned with --ble have a bond"),
            ));
        };
        let removed = ble::forget(&record.address).await.map_err(failure)?;
        link::record_unbonded(&mut inventory, &device).map_err(super::inventory_failure)?;
        if globals.json {
            println!(
                "{}",
                serde_json::json!({ "device": device, "address": record.address, "bond-removed": removed })
            );
        } else if removed {
            println!("Removed the bond with {device} ({}).", record.address);
        } else {
            println!(
                "The adapter had no bond with {device} ({}); the inventory now says so too.",
                record.address
            );
        }
        Ok(exit::HARDENED)
    }
}
