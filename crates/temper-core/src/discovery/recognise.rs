//! Which provisioning profile an attached device belongs to, from its USB id alone.

use serde::{Deserialize, Serialize};

use super::device::{format_usb_id, AttachedDevice};
use crate::profile::Profile;

/// What the USB id says about a device's model. JSON: `{"kind":"recognised","profile-id":"ipcam",…}` or
/// `{"kind":"unknown","reason":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case"
)]
pub enum ProfileMatch {
    /// A profile lists the device's USB id.
    ///
    /// A USB-serial bridge is often shared by several models (`ipcam` and `ipcam-pro` both ship a CP2102), so
    /// USB alone may not tell them apart: `candidates` lists every profile that claims the id, in the order
    /// the profiles were given (`load_dir` sorts them by id), and `profile_id` is the first of them. When
    /// there is more than one candidate the model is confirmed when the plan identifies the device on its
    /// console (model pattern), which may pick another candidate.
    Recognised {
        /// The first profile that lists the USB id.
        profile_id: String,
        /// Its human name.
        profile_name: String,
        /// Every profile that lists the USB id, `profile_id` first.
        candidates: Vec<String>,
    },
    /// No profile claims the device; `reason` says why in plain words.
    Unknown {
        /// E.g. "USB ID 1234:5678 (product X) is in no provisioning profile; known: 10c4:ea60 (ipcam)".
        reason: String,
    },
}

impl ProfileMatch {
    /// The recognised profile's id, if any.
    pub fn profile_id(&self) -> Option<&str> {
        match self {
            ProfileMatch::Recognised { profile_id, .. } => Some(profile_id),
            ProfileMatch::Unknown { .. } => None,
        }
    }

    /// True when USB cannot tell the candidate models apart (see [`ProfileMatch::Recognised`]).
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, ProfileMatch::Recognised { candidates, .. } if candidates.len() > 1)
    }
}

/// Matches `device`'s USB id against each profile's `recognition.usb_ids`.
pub fn recognise(device: &AttachedDevice, profiles: &[Profile]) -> ProfileMatch {
    if let Some(seen) = device.ble() {
        return super::ble::recognise_ble(seen, profiles);
    }
    let Some(usb) = &device.usb else {
        return ProfileMatch::Unknown {
            reason: "no USB identity (not a USB device)".into(),
        };
    };
    let candidates: Vec<&Profile> = profiles
        .iter()
        .filter(|p| p.recognition.usb_ids.contains(&(usb.vid, usb.pid)))
        .collect();
    if let Some(first) = candidates.first() {
        return ProfileMatch::Recognised {
            profile_id: first.id.clone(),
            profile_name: first.name.clone(),
            candidates: candidates.iter().map(|p| p.id.clone()).collect(),
        };
    }
    let what = match (&usb.product, &usb.manufacturer) {
        (Some(product), _) => format!(" (product {product})"),
        (None, Some(manufacturer)) => format!(" (manufacturer {manufacturer})"),
        (None, None) => String::new(),
    };
    ProfileMatch::Unknown {
        reason: format!(
            "USB ID {}{what} is in no provisioning profile; {}",
            usb.usb_id(),
            known_ids(profiles)
        ),
    }
}

/// "known: 10c4:ea60 (ipcam, ipcam-pro), 2fe3:0100 (sensor)", in the order the ids first appear.
fn known_ids(profiles: &[Profile]) -> String {
    let mut known: Vec<((u16, u16), Vec<&str>)> = Vec::new();
    for profile in profiles {
        for id in &profile.recognition.usb_ids {
            match known.iter_mut().find(|(k, _)| k == id) {
                Some((_, ids)) => ids.push(&profile.id),
                None => known.push((*id, vec![&profile.id])),
            }
        }
    }
    if known.is_empty() {
        return "no provisioning profile lists a USB ID".into();
    }
    let listed: Vec<String> = known
        .iter()
        .map(|((vid, pid), ids)| format!("{} ({})", format_usb_id(*vid, *pid), ids.join(", ")))
        .collect();
    format!("known: {}", listed.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::{Source, Transport, UsbIdentity};

    fn shipped() -> Vec<Profile> {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../provisioning-profiles");
        crate::profile::load_dir(&dir).expect("shipped profiles load")
    }

    fn device(usb: Option<UsbIdentity>) -> AttachedDevice {
        AttachedDevice {
            id: "usb:/sys/devices/x".into(),
            transport: Transport::Serial {
                port: "/dev/ttyUSB0".into(),
            },
            usb,
            source: Source::Usb,
            simulator_pid: None,
        }
    }

    fn usb(vid: u16, pid: u16, product: Option<&str>) -> Option<UsbIdentity> {
        Some(UsbIdentity {
            vid,
            pid,
            serial: Some("0001".into()),
            manufacturer: Some("ACME".into()),
            product: product.map(Into::into),
        })
    }

    /// Two shipped models share the CP2102: recognised as the first by id, with both as candidates.
    #[test]
    fn shared_bridge_is_recognised_with_every_candidate() {
        let found = recognise(&device(usb(0x10c4, 0xea60, None)), &shipped());
        assert_eq!(
            found,
            ProfileMatch::Recognised {
                profile_id: "ipcam".into(),
                profile_name: "Simvision SV-IPC2100 IP camera".into(),
                candidates: vec!["ipcam".into(), "ipcam-pro".into()],
            },
            "both Simvision profiles list 10c4:ea60; the first by id is chosen"
        );
        assert!(found.is_ambiguous());
    }

    #[test]
    fn unknown_usb_id_names_the_known_ones() {
        let found = recognise(&device(usb(0x1234, 0x5678, Some("Gadget"))), &shipped());
        assert_eq!(
            found,
            ProfileMatch::Unknown {
                reason: "USB ID 1234:5678 (product Gadget) is in no provisioning profile; \
                         known: 10c4:ea60 (ipcam, ipcam-pro), 2fe3:0100 (zephyr-sensor)"
                    .into()
            }
        );
    }

    #[test]
    fn device_without_usb_is_unknown() {
        assert_eq!(
            recognise(&device(None), &shipped()),
            ProfileMatch::Unknown {
                reason: "no USB identity (not a USB device)".into()
            }
        );
        let none = recognise(&device(usb(1, 2, None)), &[]);
        assert_eq!(
            none.clone(),
            ProfileMatch::Unknown {
                reason: "USB ID 0001:0002 (manufacturer ACME) is in no provisioning profile; \
                         no provisioning profile lists a USB ID"
                    .into()
            }
        );
        assert_eq!(none.profile_id(), None);
    }

    /// The JSON names are kebab-case and tagged by `kind`, as the GUI reads them.
    #[test]
    fn json_shape() {
        let found = recognise(&device(usb(0x10c4, 0xea60, None)), &shipped());
        let json = serde_json::to_value(&found).unwrap();
        assert_eq!(json["kind"], "recognised");
        assert_eq!(json["profile-id"], "ipcam");
        let back: ProfileMatch = serde_json::from_value(json).unwrap();
        assert_eq!(back, found);
    }
}
