//! The live device list the window shows: discovery's plugs and unplugs, each device with the model its
//! profile names (or "Unknown device" and why). Any transport; BLE devices join the same list later.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use temper_core::discovery::{
    recognise, AttachedDevice, Discovery, DiscoveryError, DiscoveryEvent, ProfileMatch, Source,
    Watcher,
};
use temper_core::profile::Profile;
use ts_rs::TS;

/// One attached device as the window lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DeviceView {
    /// Discovery's stable id while plugged in.
    pub id: String,
    /// How it is connected, in words: "USB serial" or "Simulated USB".
    pub connection: String,
    /// The port path, for serial devices.
    pub port: Option<String>,
    /// The USB serial number, if any.
    pub serial: Option<String>,
    /// `vvvv:pppp`, if USB.
    pub usb_id: Option<String>,
    /// What the USB descriptor calls it.
    pub product: Option<String>,
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
    DeviceView {
        id: device.id.clone(),
        connection: if simulated {
            "Simulated USB"
        } else {
            "USB serial"
        }
        .into(),
        port: device.port().map(str::to_string),
        serial: device.serial().map(str::to_string),
        usb_id: device.usb.as_ref().map(|u| u.usb_id()),
        product: device.usb.as_ref().and_then(|u| u.product.clone()),
        profile_id,
        model,
        note,
        simulated,
        simulator_pid: device.simulator_pid,
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
