//! Commissioning over Bluetooth LE: find the device, narrow the profiles by what it advertises, pair when
//! its profile says so, and run the plan over its SMP characteristic. When the link drops, reconnect with
//! back-off and run the plan again: it resumes where it stopped (a credential is committed to the inventory
//! as pending before it is sent, so a reply lost with the link loses nothing).

use std::time::Duration;

use super::{commission, CommissionOptions, PlanError, Report};
use crate::discovery::{recognise_ble, ProfileMatch};
use crate::event::{Event, EventSink};
use crate::inventory::link::{DeviceLink, LinkKind};
use crate::inventory::Inventory;
use crate::profile::{Pairing, Profile};
use crate::transport::ble::{self, BleLink, Passkey};
use crate::transport::TransportError;

/// How long to look for the device before giving up.
pub const FIND_TIMEOUT: Duration = Duration::from_secs(15);

/// Back-off before each reconnect; one entry per attempt.
pub const RECONNECT_BACKOFF: [Duration; 5] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
];

/// A device opened over BLE, ready for the plan.
pub struct BleOpened {
    /// The SMP link.
    pub link: BleLink,
    /// The profiles its advertisement matches, best first (all given when none does).
    pub profiles: Vec<Profile>,
    /// The transport and bond, for the inventory.
    pub record: DeviceLink,
}

/// Finds `address`, narrows `profiles` by its advertisement, pairs when the first matching profile pairs by
/// passkey (with `passkey`, else the profile's), and subscribes to its SMP characteristic.
pub async fn open(
    address: &str,
    profiles: Vec<Profile>,
    passkey: Option<Passkey>,
) -> Result<BleOpened, TransportError> {
    let link = BleLink::open_smp(address, FIND_TIMEOUT).await?;
    let profiles = narrow(&link, profiles);
    let pairing = profiles.first().and_then(|p| p.ble.as_ref());
    let mut record = DeviceLink {
        transport: LinkKind::Ble,
        address: address.to_ascii_uppercase(),
        adapter: None,
        bonded: false,
        bonded_at: None,
    };
    if let Some(ble) = pairing.filter(|b| b.pairing == Pairing::Passkey) {
        let bond = ble::pair(address, passkey.or(ble.passkey)).await?;
        record.adapter = Some(bond.adapter);
        record.bonded = true;
    }
    Ok(BleOpened {
        link,
        profiles,
        record,
    })
}

/// Only the profiles with a `[ble]` identity, unless none has one.
pub fn ble_profiles(profiles: Vec<Profile>) -> Vec<Profile> {
    if profiles.iter().any(|p| p.ble.is_some()) {
        profiles.into_iter().filter(|p| p.ble.is_some()).collect()
    } else {
        profiles
    }
}

fn narrow(link: &BleLink, profiles: Vec<Profile>) -> Vec<Profile> {
    let Some(seen) = link.advertised() else {
        return profiles;
    };
    let ProfileMatch::Recognised { candidates, .. } = recognise_ble(seen, &profiles) else {
        return profiles;
    };
    let mut matched: Vec<Profile> = profiles
        .into_iter()
        .filter(|p| candidates.contains(&p.id))
        .collect();
    matched.sort_by_key(|p| candidates.iter().position(|c| *c == p.id));
    matched
}

/// Why a BLE commissioning stopped.
#[derive(Debug, thiserror::Error)]
pub enum BleRunError {
    /// The device could not be found, connected or paired.
    #[error(transparent)]
    Link(#[from] TransportError),
    /// The plan stopped (after the reconnects, when the link kept dropping).
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// Commissions the BLE device `address`: [`open`], then [`commission`], reconnecting with
/// [`RECONNECT_BACKOFF`] when the link drops (each drop is a [`Event::LinkLost`]). `options.port` and
/// `options.link` are filled in here; `options.profiles` are narrowed by the advertisement.
pub async fn commission_over_ble(
    address: &str,
    passkey: Option<Passkey>,
    options: CommissionOptions,
    inventory: &mut dyn Inventory,
    events: EventSink<'_>,
) -> Result<Report, BleRunError> {
    let mut attempt = 0usize;
    loop {
        let opened = match open(address, options.profiles.clone(), passkey).await {
            Ok(opened) => opened,
            Err(e) if attempt > 0 && attempt < RECONNECT_BACKOFF.len() && !is_final(&e) => {
                lost(
                    events,
                    &mut attempt,
                    format!("reconnecting to {address} failed: {e}"),
                )
                .await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let mut run = options.clone();
        run.port = format!("BLE {}", address.to_ascii_uppercase());
        run.profiles = opened.profiles;
        run.link = Some(opened.record);
        match commission(Box::new(opened.link), run, inventory, &mut *events).await {
            Err(e) if e.is_link_lost() && attempt < RECONNECT_BACKOFF.len() => {
                lost(
                    events,
                    &mut attempt,
                    format!("the Bluetooth link to {address} dropped ({e})"),
                )
                .await;
            }
            other => return other.map_err(BleRunError::from),
        }
    }
}

/// Errors that another attempt cannot fix (a refused pairing, legacy pairing, a missing passkey).
fn is_final(e: &TransportError) -> bool {
    matches!(
        e,
        TransportError::Ble(
            ble::BleError::LegacyPairing { .. }
                | ble::BleError::PasskeyNeeded { .. }
                | ble::BleError::PasskeyRejected { .. }
                | ble::BleError::PairingRefused { .. }
                | ble::BleError::Off
                | ble::BleError::NoAdapter
                | ble::BleError::Unavailable(_)
        )
    )
}

async fn lost(events: EventSink<'_>, attempt: &mut usize, message: String) {
    let wait = RECONNECT_BACKOFF[*attempt];
    *attempt += 1;
    events(&Event::LinkLost {
        message,
        attempt: *attempt as u32,
        retry_in_ms: wait.as_millis() as u64,
    });
    tokio::time::sleep(wait).await;
}
