//! The camera models the ipcam code simulates: the SV-IPC2100 (`--model ipcam`, one key and one
//! installed certificate) and the SV-IPC3100 (`--model ipcam-pro`, two certificate slots for
//! make-before-break renewal, see [`super::slots`]). Everything else (console, accounts, factory
//! defaults, services, realms) is the same.

use super::{Device, FIRMWARE, MODEL};
use crate::Model;

/// What differs between the models of the ipcam family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// The `--model` id, also recorded in `state.json`.
    pub id: &'static str,
    /// Model name (`Hardware : Simvision <model>`, boot log, service banners).
    pub model: &'static str,
    /// Firmware version (`cat /etc/version`).
    pub firmware: &'static str,
    /// Certificate slots of `certtool`: 1 (key + installed chain) or 2 (`--slot 1|2`).
    pub cert_slots: u8,
}

/// Simvision SV-IPC2100, firmware 4.2.7.
pub const IPCAM: Variant = Variant {
    id: "ipcam",
    model: MODEL,
    firmware: FIRMWARE,
    cert_slots: 1,
};

/// Simvision SV-IPC3100, firmware 5.1.0: two certificate slots.
pub const IPCAM_PRO: Variant = Variant {
    id: "ipcam-pro",
    model: "SV-IPC3100",
    firmware: "5.1.0",
    cert_slots: 2,
};

impl Variant {
    pub fn of(model: Model) -> &'static Variant {
        match model {
            Model::IpcamPro => &IPCAM_PRO,
            // Not an ipcam: never started through this module.
            Model::Ipcam | Model::ZephyrSensor => &IPCAM,
        }
    }

    /// Whether `certtool` has numbered slots (`--slot N`).
    pub fn has_slots(&self) -> bool {
        self.cert_slots > 1
    }

    /// The `Server` header of an HTTP-like daemon, e.g. `SV-IPC2100-httpd/4.2.7`.
    pub fn server(&self, daemon: &str) -> String {
        format!("{}-{daemon}/{}", self.model, self.firmware)
    }

    /// The SSDP `SERVER` header.
    pub fn ssdp_server(&self) -> String {
        format!("Linux/3.10.108 UPnP/1.1 {}/{}", self.model, self.firmware)
    }
}

impl Device {
    /// The model this device simulates.
    pub fn variant(&self) -> &'static Variant {
        Variant::of(self.opts.model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipcam_strings_are_unchanged() {
        let v = Variant::of(Model::Ipcam);
        assert_eq!(v.server("httpd"), "SV-IPC2100-httpd/4.2.7");
        assert_eq!(v.server("rtspd"), "SV-IPC2100-rtspd/4.2.7");
        assert_eq!(v.ssdp_server(), "Linux/3.10.108 UPnP/1.1 SV-IPC2100/4.2.7");
        assert!(!v.has_slots());
        let pro = Variant::of(Model::IpcamPro);
        assert_eq!(pro.server("httpd"), "SV-IPC3100-httpd/5.1.0");
        assert!(pro.has_slots());
        for m in [Model::Ipcam, Model::IpcamPro] {
            assert_eq!(Variant::of(m).id, m.id());
        }
    }
}
