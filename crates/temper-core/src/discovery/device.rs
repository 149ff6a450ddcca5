//! What discovery reports: an attached device, how to reach it, and its USB identity.

use serde::{Deserialize, Serialize};

use crate::transport::ble::Sighting;

/// One device attached to this station, as a [`DeviceSource`](super::DeviceSource) saw it.
///
/// JSON: `{"id":"sim:…","transport":{"kind":"serial","port":"/dev/pts/3"},"usb":{"vid":4292,…},
/// "source":"simulated","simulator-pid":1234}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AttachedDevice {
    /// A stable key while the device stays plugged in: `usb:<sysfs path of the tty's device>` (the same
    /// physical USB port gives the same key) or `sim:<serial>` for a simulator.
    pub id: String,
    /// How the station talks to it.
    pub transport: Transport,
    /// The USB descriptor strings and ids, when the device is (or pretends to be) a USB device.
    #[serde(default)]
    pub usb: Option<UsbIdentity>,
    /// Where it was found.
    pub source: Source,
    /// The simulator's process id, for a simulated device.
    #[serde(default)]
    pub simulator_pid: Option<u32>,
}

impl AttachedDevice {
    /// The serial port path (`/dev/ttyUSB0`), when the transport is serial.
    pub fn port(&self) -> Option<&str> {
        match &self.transport {
            Transport::Serial { port } => Some(port),
            Transport::Ble(_) => None,
        }
    }

    /// The USB serial number string, when the device has one.
    pub fn serial(&self) -> Option<&str> {
        self.usb.as_ref().and_then(|usb| usb.serial.as_deref())
    }

    /// What the device advertises, when it was heard over Bluetooth LE.
    pub fn ble(&self) -> Option<&Sighting> {
        match &self.transport {
            Transport::Ble(seen) => Some(seen),
            Transport::Serial { .. } => None,
        }
    }

    /// One line for people: `/dev/ttyUSB0 (10c4:ea60, serial 0123, Silicon Labs CP2102 …, simulated)`, or
    /// `PlugMini-0010 (Bluetooth LE D4:5A:1E:00:00:10, -58 dBm)`.
    pub fn summary(&self) -> String {
        if let Transport::Ble(seen) = &self.transport {
            let name = seen.name.as_deref().unwrap_or("(no name)");
            let rssi = seen.rssi.map(|r| format!(", {r} dBm")).unwrap_or_default();
            return format!("{name} (Bluetooth LE {}{rssi})", seen.address);
        }
        let mut parts = Vec::new();
        if let Some(usb) = &self.usb {
            parts.push(usb.usb_id());
            if let Some(serial) = &usb.serial {
                parts.push(format!("serial {serial}"));
            }
            let names: Vec<&str> = [usb.manufacturer.as_deref(), usb.product.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            if !names.is_empty() {
                parts.push(names.join(" "));
            }
        }
        if self.source == Source::Simulated {
            parts.push("simulated".into());
        }
        let at = self.port().unwrap_or(&self.id);
        if parts.is_empty() {
            at.to_string()
        } else {
            format!("{at} ({})", parts.join(", "))
        }
    }
}

/// How to reach an attached device. Tagged by `kind` in JSON: `serial`, or `ble` with the advertisement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case"
)]
pub enum Transport {
    /// A serial port (USB-serial bridge, or a simulator's PTY).
    Serial {
        /// Its path, e.g. `/dev/ttyUSB0` or `/dev/pts/3`.
        port: String,
    },
    /// A Bluetooth LE device heard advertising.
    Ble(Sighting),
}

/// What the USB device descriptor says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct UsbIdentity {
    /// Vendor id (`idVendor`).
    pub vid: u16,
    /// Product id (`idProduct`).
    pub pid: u16,
    /// The `iSerialNumber` string.
    #[serde(default)]
    pub serial: Option<String>,
    /// The `iManufacturer` string.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// The `iProduct` string.
    #[serde(default)]
    pub product: Option<String>,
}

impl UsbIdentity {
    /// `vvvv:pppp` in lower-case hex, as profiles write it in `recognition.usb_ids`.
    pub fn usb_id(&self) -> String {
        format_usb_id(self.vid, self.pid)
    }
}

/// `vvvv:pppp` in lower-case hex.
pub fn format_usb_id(vid: u16, pid: u16) -> String {
    format!("{vid:04x}:{pid:04x}")
}

/// Where a device was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// A real USB device, found in sysfs.
    Usb,
    /// A simulator that announced itself on the simulated USB bus.
    Simulated,
    /// Heard by the Bluetooth adapter (BlueZ).
    Bluetooth,
}

/// A change seen by the [`Watcher`](super::Watcher). JSON: `{"event":"attached", …device…}` or
/// `{"event":"detached","id":…,"port":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "event",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case"
)]
pub enum DiscoveryEvent {
    /// A device is there that was not (or was there with other details, e.g. a new port after a power cycle).
    Attached(AttachedDevice),
    /// A device that was reported attached is gone.
    Detached {
        /// Its [`AttachedDevice::id`].
        id: String,
        /// The port it was on, if it had one.
        port: Option<String>,
    },
}

/// Why [`find_by_serial`] found no single device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No attached device has that USB serial.
    #[error("no attached device has the USB serial {serial:?}; {}", attached_list(.attached))]
    NotAttached {
        /// The serial asked for.
        serial: String,
        /// [`AttachedDevice::summary`] of each attached device.
        attached: Vec<String>,
    },
    /// More than one attached device has that USB serial (a cloned or blank EEPROM).
    #[error("{} attached devices have the USB serial {serial:?}: {}; choose one by its port", .attached.len(), .attached.join("; "))]
    Ambiguous {
        /// The serial asked for.
        serial: String,
        /// [`AttachedDevice::summary`] of each device that has it.
        attached: Vec<String>,
    },
}

impl LookupError {
    /// A stable code for front ends to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            LookupError::NotAttached { .. } => "device-not-attached",
            LookupError::Ambiguous { .. } => "device-serial-ambiguous",
        }
    }
}

fn attached_list(attached: &[String]) -> String {
    if attached.is_empty() {
        "nothing is attached".into()
    } else {
        format!("attached: {}", attached.join("; "))
    }
}

/// The one device whose USB serial is `serial`.
pub fn find_by_serial<'a>(
    devices: &'a [AttachedDevice],
    serial: &str,
) -> Result<&'a AttachedDevice, LookupError> {
    let found: Vec<&AttachedDevice> = devices
        .iter()
        .filter(|d| d.serial() == Some(serial))
        .collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(LookupError::NotAttached {
            serial: serial.into(),
            attached: devices.iter().map(AttachedDevice::summary).collect(),
        }),
        many => Err(LookupError::Ambiguous {
            serial: serial.into(),
            attached: many.iter().map(|d| d.summary()).collect(),
        }),
    }
}
