//! The live device list the window shows: discovery's plugs and unplugs, each device with the model its
//! profile names (or "Unknown device" and why). USB and Bluetooth LE devices share the list; the Bluetooth
//! adapter's own state (on, off, absent) is a [`BluetoothView`] beside it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use temper_core::discovery::{
    recognise, AttachedDevice, BleStatus, Discovery, DiscoveryError, DiscoveryEvent, ProfileMatch,
    Source, Watcher,
};
use temper_core::profile::{Pairing, Profile};
use ts_rs::TS;

/// One attached device as the window lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DeviceView {
    /// Discovery's stable id while plugged in.
    pub id: String,
    /// How it is connected, in words: "USB serial", "Simulated USB" or "Bluetooth LE".
    pub connection: String,
    /// The port path, for serial devices.
    pub port: Option<String>,
    /// The USB serial number, if any.
    pub serial: Option<String>,
    /// `vvvv:pppp`, if USB.
    pub usb_id: Option<String>,
    /// What the USB descriptor calls it, or the name a Bluetooth LE device advertises.
    pub product: Option<String>,
    /// The Bluetooth address (`AA:BB:CC:DD:EE:FF`), for a Bluetooth LE device.
    pub address: Option<String>,
    /// The signal strength in dBm, for a Bluetooth LE device (when the adapter reports it).
    pub rssi: Option<i16>,
    /// True when securing it needs the 6-digit passkey from its label: its profile pairs by passkey and
    /// gives no model-wide one.
    pub needs_passkey: bool,
    /// The recognised profile's id.
    pub profile_id: Option<String>,
    /// The model's name, or "Unknown device".
    pub model: String,
    /// Why it is unknown, or what is still to confirm (several models share the USB id).
    pub note: Option<String>,
    /// True for a simulator.
    pub simulated: bool,
    /// The simulator's process id (to unplug it).
    pub simulator_pid: Option<u32>,
}

/// The view of `device` given the profiles.
pub fn view(device: &AttachedDevice, profiles: &[Profile]) -> DeviceView {
    let matched = recognise(device, profiles);
    let (profile_id, model, note) = match &matched {
        ProfileMatch::Recognised {
            profile_id,
            profile_name,
            candidates,
        } => {
            let note = (candidates.len() > 1).then(|| {
                format!(
                    "Also possible: {}. Temper confirms the model when it connects.",
                    candidates[1..].join(", ")
                )
            });
            (Some(profile_id.clone()), profile_name.clone(), note)
        }
        ProfileMatch::Unknown { reason } => {
            (None, "Unknown device".to_string(), Some(reason.clone()))
        }
    };
    let simulated = device.source == Source::Simulated;
    let seen = device.ble();
    let needs_passkey = profile_id
        .as_deref()
        .and_then(|id| profiles.iter().find(|p| p.id == id))
        .and_then(|p| p.ble.as_ref())
        .is_some_and(|b| seen.is_some() && b.pairing == Pairing::Passkey && b.passkey.is_none());
    DeviceView {
        id: device.id.clone(),
        connection: match (seen, simulated) {
            (Some(_), _) => "Bluetooth LE",
            (None, true) => "Simulated USB",
            (None, false) => "USB serial",
        }
        .into(),
        port: device.port().map(str::to_string),
        serial: device.serial().map(str::to_string),
        usb_id: device.usb.as_ref().map(|u| u.usb_id()),
        product: match seen {
            Some(seen) => seen.name.clone(),
            None => device.usb.as_ref().and_then(|u| u.product.clone()),
        },
        address: seen.map(|s| s.address.clone()),
        rssi: seen.and_then(|s| s.rssi),
        needs_passkey,
        profile_id,
        model,
        note,
        simulated,
        simulator_pid: device.simulator_pid,
    }
}

/// The Bluetooth adapter's state as the window shows it. `state` is `starting` (first scan not done yet),
/// `on`, `off` (adapter powered off), `no-adapter`, `unavailable` (no Bluetooth service) or `disabled`
/// (Temper was started without Bluetooth); `message` says it in plain words with what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct BluetoothView {
    /// One of `starting`, `on`, `off`, `no-adapter`, `unavailable`, `disabled`.
    pub state: String,
    /// What to tell the person, or null when Bluetooth works.
    pub message: Option<String>,
    /// What the system said (for the technical-detail fold), if anything.
    pub detail: Option<String>,
}

impl BluetoothView {
    /// Temper was started without Bluetooth.
    pub fn disabled() -> BluetoothView {
        BluetoothView {
            state: "disabled".into(),
            message: Some("Temper was started without Bluetooth.".into()),
            detail: None,
        }
    }

    /// The view of discovery's `status`.
    pub fn of(status: &BleStatus) -> BluetoothView {
        let (state, message, detail) = match status {
            BleStatus::Starting => ("starting", None, None),
            BleStatus::On => ("on", None, None),
            BleStatus::Unavailable { code, message } => {
                let (state, words) = match code.as_str() {
                    "ble-off" => ("off", "Bluetooth is off. Turn it on in your computer's Bluetooth settings (or run: bluetoothctl power on) to see Bluetooth devices."),
                    "ble-no-adapter" => ("no-adapter", "This computer has no Bluetooth adapter. Plug one in, or turn on the built-in one, to see Bluetooth devices."),
                    _ => ("unavailable", "Bluetooth is not available: this computer's Bluetooth service does not answer. Start it (systemctl start bluetooth) to see Bluetooth devices."),
                };
                (state, Some(words.to_string()), Some(message.clone()))
            }
        };
        BluetoothView {
            state: state.into(),
            message,
            detail,
        }
    }
}

/// What is attached now, kept current by a [`Watcher`].
#[derive(Default, Clone)]
pub struct DeviceList {
    devices: Arc<Mutex<BTreeMap<String, AttachedDevice>>>,
}

impl DeviceList {
    /// Starts watching `discovery`; `on_change` gets the whole list after each change.
    pub fn watch(
        &self,
        discovery: Discovery,
        interval: Duration,
        profiles: Vec<Profile>,
        on_change: Arc<dyn Fn(Vec<DeviceView>) + Send + Sync>,
    ) -> Result<Watcher, DiscoveryError> {
        let devices = Arc::clone(&self.devices);
        Watcher::start(discovery, interval, move |event| {
            let mut map = devices.lock().unwrap_or_else(|p| p.into_inner());
            match event {
                DiscoveryEvent::Attached(device) => {
                    map.insert(device.id.clone(), device);
                }
                DiscoveryEvent::Detached { id, .. } => {
                    map.remove(&id);
                }
            }
            let list = map.values().map(|d| view(d, &profiles)).collect();
            drop(map);
            on_change(list);
        })
    }

    /// The attached device with this id.
    pub fn get(&self, id: &str) -> Option<AttachedDevice> {
        self.devices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// The attached device whose USB serial number is `serial`.
    ///
    /// Simulators announce the device's own serial as their USB serial, so an inventory serial finds them.
    /// A real USB-serial adapter has its own serial (the adapter's, not the device's): for those this finds
    /// nothing until Temper can tell which adapter a known device is on. A known limit.
    pub fn find_by_serial(&self, serial: &str) -> Option<AttachedDevice> {
        self.devices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|d| d.serial() == Some(serial))
            .cloned()
    }

    /// Every attached device, as the window lists them.
    pub fn views(&self, profiles: &[Profile]) -> Vec<DeviceView> {
        let map = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        map.values().map(|d| view(d, profiles)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temper_core::discovery::ble_attached;
    use temper_core::transport::ble::Sighting;

    fn shipped() -> Vec<Profile> {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../provisioning-profiles");
        temper_core::profile::load_dir(&dir).expect("shipped profiles load")
    }

    /// Guards "BLE devices join the GUI list with RSSI and the matched profile".
    #[test]
    fn ble_device_is_listed_with_address_signal_and_profile() {
        let seen = Sighting {
            address: "D4:5A:1E:00:00:10".into(),
            name: Some("NS-ENV1-0010".into()),
            rssi: Some(-58),
            services: vec!["8d53dc1d-1db7-4cd3-868b-8a527460aa84".parse().unwrap()],
            manufacturer_data: Default::default(),
        };
        let v = view(&ble_attached(seen), &shipped());
        assert_eq!(v.connection, "Bluetooth LE");
        assert_eq!(v.id, "ble:D4:5A:1E:00:00:10");
        assert_eq!(v.address.as_deref(), Some("D4:5A:1E:00:00:10"));
        assert_eq!(v.rssi, Some(-58));
        assert_eq!(v.profile_id.as_deref(), Some("zephyr-sensor"));
        assert_eq!(v.product.as_deref(), Some("NS-ENV1-0010"));
        assert!(!v.needs_passkey, "the sensor's profile does not pair");
        assert_eq!(v.port, None);
    }

    /// A model that pairs by passkey and gives none: the window asks for the 6 digits first.
    #[test]
    fn passkey_model_needs_the_passkey_from_the_label() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../provisioning-profiles/zephyr-sensor.toml");
        let text = std::fs::read_to_string(src).unwrap();
        assert!(text.contains("pairing = \"none\""));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("zephyr-sensor.toml"),
            text.replace("pairing = \"none\"", "pairing = \"passkey\""),
        )
        .unwrap();
        let profiles = temper_core::profile::load_dir(dir.path()).expect("profile loads");
        let seen = Sighting {
            address: "D4:5A:1E:00:00:11".into(),
            name: Some("NS-ENV1-0011".into()),
            rssi: None,
            services: vec!["8d53dc1d-1db7-4cd3-868b-8a527460aa84".parse().unwrap()],
            manufacturer_data: Default::default(),
        };
        let v = view(&ble_attached(seen), &profiles);
        assert!(v.needs_passkey);
        assert_eq!(v.rssi, None);
    }

    #[test]
    fn bluetooth_states_are_plain_words() {
        let off = BluetoothView::of(&BleStatus::Unavailable {
            code: "ble-off".into(),
            message: "Bluetooth is off; help: …".into(),
        });
        assert_eq!(off.state, "off");
        assert!(off.message.unwrap().starts_with("Bluetooth is off."));
        let none = BluetoothView::of(&BleStatus::Unavailable {
            code: "ble-no-adapter".into(),
            message: "no Bluetooth adapter".into(),
        });
        assert_eq!(none.state, "no-adapter");
        let gone = BluetoothView::of(&BleStatus::Unavailable {
            code: "ble-unavailable".into(),
            message: "BlueZ does not answer".into(),
        });
        assert_eq!(gone.state, "unavailable");
        assert_eq!(gone.detail.as_deref(), Some("BlueZ does not answer"));
        assert_eq!(BluetoothView::of(&BleStatus::On).message, None);
        assert_eq!(BluetoothView::of(&BleStatus::Starting).state, "starting");
    }
}
