//! What each simulated model looks like on USB, and its announcement on the simulated USB bus
//! (`temper_core::discovery::SimulatedUsbBus`), so `temper devices` finds it as it would a real cable.

use temper_core::discovery::Announcement;

use crate::{Model, ReadyInfo};

/// The USB descriptor a model's serial bridge reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsbDescriptor {
    /// `idVendor`.
    pub vid: u16,
    /// `idProduct`.
    pub pid: u16,
    /// `iManufacturer`.
    pub manufacturer: &'static str,
    /// `iProduct`.
    pub product: &'static str,
}

/// SV-IPC2100: a stock Silicon Labs CP2102 on the debug-header cable (profile `ipcam`, `usb_ids[0]`).
pub const IPCAM: UsbDescriptor = UsbDescriptor {
    vid: 0x10c4,
    pid: 0xea60,
    manufacturer: "Silicon Labs",
    product: "CP2102 USB to UART Bridge Controller",
};

/// SV-IPC3100: the same CP2102 (profile `ipcam-pro`, `usb_ids[0]`), its product string customised by Simvision.
pub const IPCAM_PRO: UsbDescriptor = UsbDescriptor {
    vid: 0x10c4,
    pid: 0xea60,
    manufacturer: "Silicon Labs",
    product: "Simvision SV-IPC3100 console (CP2102)",
};

/// Zephyr sensor: the MCU's own USB CDC ACM console (Zephyr's default USB ids).
pub const ZEPHYR_SENSOR: UsbDescriptor = UsbDescriptor {
    vid: 0x2fe3,
    pid: 0x0100,
    manufacturer: "Zephyr Project",
    product: "Zephyr sensor (CDC ACM)",
};

impl Model {
    /// The model's USB descriptor.
    pub fn usb(self) -> UsbDescriptor {
        match self {
            Model::Ipcam => IPCAM,
            Model::IpcamPro => IPCAM_PRO,
            Model::ZephyrSensor => ZEPHYR_SENSOR,
        }
    }
}

/// The bus announcement of a started simulator of `model`: its port, the model's USB ids and strings, the
/// device's serial number as the USB serial, and this process's id.
pub fn announcement(model: Model, info: &ReadyInfo) -> Announcement {
    let usb = model.usb();
    Announcement {
        port: info.port.clone(),
        vid: usb.vid,
        pid: usb.pid,
        serial: info.serial.clone(),
        manufacturer: Some(usb.manufacturer.into()),
        product: Some(usb.product.into()),
        pid_of_process: std::process::id(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each model's USB id is the first its shipped profile lists, so `temper devices` recognises it.
    #[test]
    fn usb_ids_match_the_shipped_profiles() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../provisioning-profiles");
        for model in [Model::Ipcam, Model::IpcamPro, Model::ZephyrSensor] {
            let profile =
                temper_core::profile::Profile::load(&dir.join(format!("{}.toml", model.id())))
                    .expect("shipped profile");
            let usb = model.usb();
            assert_eq!(
                profile.recognition.usb_ids.first(),
                Some(&(usb.vid, usb.pid)),
                "{}: the simulator must report the profile's first USB id",
                model.id()
            );
        }
    }
}
