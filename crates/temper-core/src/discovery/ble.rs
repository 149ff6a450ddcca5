//! Bluetooth LE devices in discovery: which profile an advertisement belongs to ([`recognise_ble`]), and a
//! [`BleSource`] that keeps listening in the background so the [`Watcher`](super::Watcher) (which polls its
//! sources) sees BLE devices come and go like USB ones.
//!
//! The adapter's state (on, off, absent) is not an error of the source: USB devices are still listed when
//! Bluetooth is off. It is reported separately by [`BleSource::status`], so a window can say "Bluetooth is
//! off" instead of showing an empty list.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::device::{AttachedDevice, Source, Transport};
use super::recognise::ProfileMatch;
use super::{DeviceSource, DiscoveryError};
use crate::profile::Profile;
use crate::transport::ble::{scan, BleError, Sighting};

/// How long one background scan listens before its results are published.
const SCAN_WINDOW: Duration = Duration::from_secs(2);
/// A device not heard for this long is gone.
const FORGET_AFTER: Duration = Duration::from_secs(10);
/// Signal changes smaller than this do not update the listed RSSI (the list would churn at every advert).
const RSSI_STEP: i16 = 6;
/// How long to wait before looking again when Bluetooth is off or absent.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Which profile the advertisement `seen` belongs to: every profile whose `[ble]` identity matches, in the
/// order given.
pub fn recognise_ble(seen: &Sighting, profiles: &[Profile]) -> ProfileMatch {
    let candidates: Vec<&Profile> = profiles
        .iter()
        .filter(|p| p.ble.as_ref().is_some_and(|b| b.matches(seen)))
        .collect();
    match candidates.first() {
        Some(first) => ProfileMatch::Recognised {
            profile_id: first.id.clone(),
            profile_name: first.name.clone(),
            candidates: candidates.iter().map(|p| p.id.clone()).collect(),
        },
        None => ProfileMatch::Unknown {
            reason: format!(
                "{} advertises like no provisioning profile's [ble] identity",
                seen.name.as_deref().unwrap_or(&seen.address)
            ),
        },
    }
}

/// The service UUIDs to scan for: the union of the profiles' `ble.service_uuids`, or nothing (hear
/// everything) when one BLE profile recognises its model without a service UUID.
pub fn scan_filter(profiles: &[Profile]) -> Vec<Uuid> {
    let mut uuids = Vec::new();
    for ble in profiles.iter().filter_map(|p| p.ble.as_ref()) {
        if ble.service_uuids.is_empty() {
            return Vec::new();
        }
        uuids.extend(ble.service_uuids.iter().copied());
    }
    uuids.sort();
    uuids.dedup();
    uuids
}

/// The adapter's state as the last scan found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "state",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case"
)]
pub enum BleStatus {
    /// Not looked yet.
    Starting,
    /// Scanning.
    On,
    /// Cannot scan: `code` is [`BleError::code`] (`ble-off`, `ble-no-adapter`, `ble-unavailable`), `message`
    /// says it for people.
    Unavailable {
        /// The error's code.
        code: String,
        /// What to tell the user.
        message: String,
    },
}

impl BleStatus {
    fn of(e: &BleError) -> BleStatus {
        BleStatus::Unavailable {
            code: e.code().into(),
            message: e.to_string(),
        }
    }
}

#[derive(Default)]
struct Heard {
    devices: BTreeMap<String, (Sighting, Instant)>,
    status: Option<BleStatus>,
}

/// Listens for BLE advertisements on a background thread; [`DeviceSource::scan`] returns the devices heard
/// lately. Stops when dropped.
pub struct BleSource {
    heard: Arc<Mutex<Heard>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl BleSource {
    /// Starts listening for the models of `profiles` (see [`scan_filter`]).
    pub fn start(profiles: &[Profile]) -> Result<BleSource, DiscoveryError> {
        let heard = Arc::new(Mutex::new(Heard::default()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let filter = scan_filter(profiles);
        let (h, s) = (Arc::clone(&heard), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("temper-ble-scan".into())
            .spawn(move || listen(h, s, filter))
            .map_err(DiscoveryError::Thread)?;
        Ok(BleSource { heard, stop })
    }

    /// The adapter's state.
    pub fn status(&self) -> BleStatus {
        lock(&self.heard)
            .status
            .clone()
            .unwrap_or(BleStatus::Starting)
    }

    /// A handle that reads the status after the source has moved into a [`super::Discovery`].
    pub fn status_handle(&self) -> BleStatusHandle {
        BleStatusHandle(Arc::clone(&self.heard))
    }
}

/// Reads a [`BleSource`]'s status from elsewhere.
#[derive(Clone)]
pub struct BleStatusHandle(Arc<Mutex<Heard>>);

impl BleStatusHandle {
    /// The adapter's state.
    pub fn status(&self) -> BleStatus {
        lock(&self.0).status.clone().unwrap_or(BleStatus::Starting)
    }
}

impl Drop for BleSource {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn lock(m: &Mutex<Heard>) -> std::sync::MutexGuard<'_, Heard> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn listen(heard: Arc<Mutex<Heard>>, stop: Arc<std::sync::atomic::AtomicBool>, filter: Vec<Uuid>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            lock(&heard).status = Some(BleStatus::of(&BleError::other("scan thread", e)));
            return;
        }
    };
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        match runtime.block_on(scan(filter.clone(), SCAN_WINDOW)) {
            Ok(found) => {
                let mut h = lock(&heard);
                h.status = Some(BleStatus::On);
                let now = Instant::now();
                for seen in found {
                    let steady = match h.devices.get(&seen.address) {
                        Some((old, _)) => steadied(old, seen),
                        None => seen,
                    };
                    h.devices.insert(steady.address.clone(), (steady, now));
                }
                h.devices
                    .retain(|_, (_, at)| now.duration_since(*at) < FORGET_AFTER);
            }
            Err(e) => {
                let mut h = lock(&heard);
                h.status = Some(BleStatus::of(&e));
                h.devices.clear();
                drop(h);
                std::thread::sleep(RETRY_AFTER);
            }
        }
    }
}

/// `new` with the RSSI of `old` unless the signal moved by [`RSSI_STEP`] or more.
fn steadied(old: &Sighting, mut new: Sighting) -> Sighting {
    if let (Some(a), Some(b)) = (old.rssi, new.rssi) {
        if (a - b).abs() < RSSI_STEP {
            new.rssi = Some(a);
        }
    }
    new
}

impl DeviceSource for BleSource {
    fn name(&self) -> &'static str {
        "bluetooth"
    }

    fn scan(&self) -> Result<Vec<AttachedDevice>, DiscoveryError> {
        Ok(lock(&self.heard)
            .devices
            .values()
            .map(|(seen, _)| attached(seen.clone()))
            .collect())
    }
}

/// `seen` as an attached device (`ble:ADDRESS`).
pub fn attached(seen: Sighting) -> AttachedDevice {
    AttachedDevice {
        id: format!("ble:{}", seen.address),
        transport: Transport::Ble(seen),
        usb: None,
        source: Source::Bluetooth,
        simulator_pid: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Vec<Profile> {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../provisioning-profiles");
        crate::profile::load_dir(&dir).expect("shipped profiles load")
    }

    fn sighting(name: &str, services: &[&str], maker: Option<(u16, &[u8])>) -> Sighting {
        Sighting {
            address: "D4:5A:1E:00:00:10".into(),
            name: Some(name.into()),
            rssi: Some(-58),
            services: services.iter().map(|u| u.parse().unwrap()).collect(),
            manufacturer_data: maker.map(|(id, d)| (id, d.to_vec())).into_iter().collect(),
        }
    }

    #[test]
    fn sensor_is_recognised_by_its_smp_service() {
        let seen = sighting(
            "NS-ENV1-0010",
            &["8d53dc1d-1db7-4cd3-868b-8a527460aa84"],
            None,
        );
        assert_eq!(
            recognise_ble(&seen, &shipped()).profile_id(),
            Some("zephyr-sensor")
        );
    }

    #[test]
    fn unknown_advertiser_is_unknown() {
        let seen = sighting("Headset", &["0000110b-0000-1000-8000-00805f9b34fb"], None);
        let found = recognise_ble(&seen, &shipped());
        assert_eq!(found.profile_id(), None);
        assert!(format!("{found:?}").contains("Headset"));
    }

    #[test]
    fn small_rssi_changes_keep_the_listed_value() {
        let old = sighting("a", &[], None);
        let mut new = old.clone();
        new.rssi = Some(-61);
        assert_eq!(steadied(&old, new.clone()).rssi, Some(-58));
        new.rssi = Some(-70);
        assert_eq!(steadied(&old, new).rssi, Some(-70));
    }
}
