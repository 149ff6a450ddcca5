//! Bluetooth LE in the CLI: opening a device for `temper commission --ble ADDRESS` (find, recognise by its
//! advertisement, pair with the passkey, subscribe) and `temper ble forget --device SERIAL`.

use std::time::Duration;

use clap::{Args, Subcommand};
use temper_core::discovery::recognise_ble;
use temper_core::inventory::link::{self, DeviceLink, LinkKind};
use temper_core::profile::{Pairing, Profile};
use temper_core::transport::ble::{self, BleError, BleLink, Passkey};
use temper_core::transport::Link;

use crate::{exit, Failure, Globals};

/// How long to look for a device before giving up.
pub const FIND_TIMEOUT: Duration = Duration::from_secs(15);

/// A device opened over BLE, ready for the plan.
pub struct Opened {
    /// The SMP link.
    pub link: Box<dyn Link>,
    /// The profiles that match its advertisement (all BLE profiles given when none does).
    pub profiles: Vec<Profile>,
    /// The transport and bond, for the inventory.
    pub link_record: DeviceLink,
}

/// Failure for a BLE error, with its exit code.
pub fn failure(e: BleError) -> Failure {
    let code = match e {
        BleError::PasskeyNeeded { .. } | BleError::LegacyPairing { .. } => exit::USAGE,
        _ => exit::FAILED,
    };
    Failure::new(code, e)
}

/// Finds `address`, narrows `profiles` by its advertisement, pairs when its profile says so (with `passkey`,
/// else the profile's), and subscribes to its SMP characteristic.
pub async fn open(
    address: &str,
    profiles: Vec<Profile>,
    passkey: Option<Passkey>,
) -> Result<Opened, Failure> {
    let smp = BleLink::open_smp(address, FIND_TIMEOUT)
        .await
        .map_err(|e| Failure::new(exit::FAILED, e))?;
    let profiles = narrow(&smp, profiles);
    let needs_pairing = profiles
        .first()
        .and_then(|p| p.ble.as_ref())
        .is_some_and(|b| b.pairing == Pairing::Passkey);
    let mut record = DeviceLink {
        transport: LinkKind::Ble,
        address: address.to_ascii_uppercase(),
        adapter: None,
        bonded: false,
        bonded_at: None,
    };
    if needs_pairing {
        let key = passkey.or_else(|| profiles.first()?.ble.as_ref()?.passkey);
        let bond = ble::pair(address, key).await.map_err(failure)?;
        record.adapter = Some(bond.adapter);
        record.bonded = true;
    }
    Ok(Opened {
        link: Box::new(smp),
        profiles,
        link_record: record,
    })
}

/// The profiles whose `[ble]` identity matches what the device advertised, best first; `profiles` unchanged
/// when none does (the plan then identifies it by asking).
fn narrow(link: &BleLink, profiles: Vec<Profile>) -> Vec<Profile> {
    let Some(seen) = link.advertised() else {
        return profiles;
    };
    let found = recognise_ble(seen, &profiles);
    let temper_core::discovery::ProfileMatch::Recognised { candidates, .. } = found else {
        return profiles;
    };
    let (mut matched, _): (Vec<Profile>, Vec<Profile>) = profiles
        .into_iter()
        .partition(|p| candidates.contains(&p.id));
    matched.sort_by_key(|p| candidates.iter().position(|c| *c == p.id));
    matched
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
