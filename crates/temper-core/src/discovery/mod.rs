//! Device discovery: which devices are plugged in, and which provisioning profile each belongs to.
//!
//! A [`DeviceSource`] lists what is attached now: [`SysfsUsbSerial`] reads real USB-serial ports from sysfs,
//! [`SimulatedUsbBus`] reads the files simulators [`announce`] themselves with. [`Discovery`] merges sources;
//! its [`Watcher`] polls them and reports plugs and unplugs as [`DiscoveryEvent`]s through a callback.
//! [`recognise`] matches a device's USB id against the profiles' `recognition.usb_ids`.
//!
//! This layer knows nothing of front ends: the CLI prints the events, the GUI forwards them.

mod ble;
mod device;
mod recognise;
mod simbus;
mod sysfs;
mod watch;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use ble::{
    attached as ble_attached, recognise_ble, scan_filter as ble_scan_filter, BleSource, BleStatus,
    BleStatusHandle,
};
pub use device::{
    find_by_serial, format_usb_id, AttachedDevice, DiscoveryEvent, LookupError, Source, Transport,
    UsbIdentity,
};
pub use recognise::{recognise, ProfileMatch};
pub use simbus::{announce, Announcement, AnnouncementGuard, SimulatedUsbBus, SIM_BUS_ENV};
pub use sysfs::SysfsUsbSerial;
pub use watch::Watcher;

/// One place devices are found. Scans are cheap enough to poll every 250 ms.
pub trait DeviceSource: Send {
    /// A short name for logs and messages (`sysfs`, `simulated-usb-bus`).
    fn name(&self) -> &'static str;
    /// The devices attached now, sorted by id. Nothing to look at (no sysfs, no bus directory) is an empty
    /// list; an error means the source could not be read at all.
    fn scan(&self) -> Result<Vec<AttachedDevice>, DiscoveryError>;
}

/// Why discovery could not look, or a simulator could not announce itself.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// A directory a source lists could not be read.
    #[error("cannot read {path}: {error}; help: {help}")]
    Unreadable {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        error: std::io::Error,
        /// What to do about it.
        help: &'static str,
    },
    /// A simulator could not write its announcement.
    #[error("cannot announce the simulated device in {path}: {error}; help: choose a writable bus directory (TEMPER_SIM_BUS)")]
    Announce {
        /// The bus directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        error: std::io::Error,
    },
    /// An announcement's serial cannot be a file name.
    #[error("cannot announce a device with the serial {serial:?}: it must be a non-empty file name (no '/', not starting with '.')")]
    BadSerial {
        /// The serial.
        serial: String,
    },
    /// The watcher's thread could not start.
    #[error("cannot start the device watcher thread: {0}")]
    Thread(#[source] std::io::Error),
}

impl DiscoveryError {
    /// A stable code for front ends to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            DiscoveryError::Unreadable { .. } => "discovery-unreadable",
            DiscoveryError::Announce { .. } => "discovery-announce",
            DiscoveryError::BadSerial { .. } => "discovery-bad-serial",
            DiscoveryError::Thread(_) => "discovery-thread",
        }
    }
}

/// Several sources, scanned together.
pub struct Discovery {
    /// The sources, scanned in this order.
    pub sources: Vec<Box<dyn DeviceSource>>,
}

impl Discovery {
    /// Discovery over these sources.
    pub fn new(sources: Vec<Box<dyn DeviceSource>>) -> Self {
        Discovery { sources }
    }

    /// Real USB-serial devices (sysfs under `/`) and the simulated bus in `sim_bus_dir`.
    pub fn standard(sim_bus_dir: impl Into<PathBuf>) -> Self {
        Discovery::new(vec![
            Box::new(SysfsUsbSerial::default()),
            Box::new(SimulatedUsbBus::new(sim_bus_dir)),
        ])
    }

    /// Every source's devices, sorted by id (a duplicate id keeps the first source's device). Fails if any
    /// source cannot be read.
    pub fn scan(&self) -> Result<Vec<AttachedDevice>, DiscoveryError> {
        let mut all = Vec::new();
        for source in &self.sources {
            all.extend(source.scan()?);
        }
        Ok(merge(all))
    }

    /// The sources' names, in scan order.
    pub fn source_names(&self) -> Vec<&'static str> {
        self.sources.iter().map(|s| s.name()).collect()
    }
}

/// Sorted by id; the first of equal ids is kept.
pub(crate) fn merge(mut devices: Vec<AttachedDevice>) -> Vec<AttachedDevice> {
    devices.sort_by(|a, b| a.id.cmp(&b.id));
    devices.dedup_by(|later, earlier| later.id == earlier.id);
    devices
}
