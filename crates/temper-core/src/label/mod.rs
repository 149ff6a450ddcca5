//! The credential label: what an end user prints and sticks inside the device's box, so the one copy of a
//! password outside the inventory is on paper with the device it opens.
//!
//! A label is made only from revealed credentials: [`CredentialLabel::reveal`] goes through
//! [`Inventory::reveal`], so the audit trail names the device and the actor before any secret leaves the
//! inventory. The password is on the label (that is its point) and nowhere else: `Debug` redacts it, and
//! [`CredentialLabel::to_svg`] / [`CredentialLabel::to_text`] return [`Secret`]s (zeroized when dropped).
//!
//! The QR code holds **the password alone**, as plain text (no scheme, no URL): a phone's camera app shows it
//! with a "copy" action, and the copied text pastes straight into the login form. The model, serial and
//! account name are short and printed beside it; the password is the one value worth not typing. Keeping the
//! payload short also keeps the code small (version 2–4 for 20–32 characters at level Q), so its modules stay
//! large enough to scan on a 29 mm label.

mod svg;
#[cfg(test)]
mod tests;

use crate::inventory::{CredentialRecord, DeviceRecord, Inventory, InventoryError};
use crate::Secret;

/// Why a label cannot be made. `Display` says what to do; no variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// The inventory could not be read, or the device is not in it.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// The device has several credential stores and none was chosen.
    #[error("device {serial} has several credential stores: choose one of {}", known.join(", "))]
    ChooseStore {
        /// The device.
        serial: String,
        /// Its store ids.
        known: Vec<String>,
    },
    /// The chosen store is not one of the device's.
    #[error("device {serial} has no credential store {store:?}; its stores: {}", known.join(", "))]
    UnknownStore {
        /// The device.
        serial: String,
        /// The store asked for.
        store: String,
        /// Its store ids.
        known: Vec<String>,
    },
    /// The store has no confirmed Temper-set credential (still the factory default, or only pending).
    #[error(
        "{store} of device {serial} has no confirmed credential{}: commission the device to the end first",
        if *pending { " (a new one is pending confirmation)" } else { "" }
    )]
    NotRotated {
        /// The device.
        serial: String,
        /// The store.
        store: String,
        /// True when a new credential waits for confirmation.
        pending: bool,
    },
}

/// One credential of one device, ready to print. `Debug` never shows the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialLabel {
    /// Model read from the device.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// Credential store id, e.g. `web-admin`.
    pub store: String,
    /// Account name.
    pub username: String,
    /// The current password (the reason the label exists).
    pub password: Secret,
    /// Network address of the device, if known.
    pub address: Option<String>,
    /// When the password was set (Unix seconds).
    pub changed_at: Option<u64>,
}

impl CredentialLabel {
    /// The label of `credential`'s current password; [`LabelError::NotRotated`] when there is none.
    pub fn new(
        device: &DeviceRecord,
        credential: &CredentialRecord,
    ) -> Result<CredentialLabel, LabelError> {
        let Some(password) = credential.current.clone() else {
            return Err(LabelError::NotRotated {
                serial: device.serial.clone(),
                store: credential.store.clone(),
                pending: credential.pending.is_some(),
            });
        };
        Ok(CredentialLabel {
            model: device.model.clone(),
            serial: device.serial.clone(),
            store: credential.store.clone(),
            username: credential.username.clone(),
            password,
            address: device.address.clone(),
            changed_at: credential.changed_at,
        })
    }

    /// The store a label is for: `store` when given, else the device's only store.
    pub fn pick<'c>(
        serial: &str,
        credentials: &'c [CredentialRecord],
        store: Option<&str>,
    ) -> Result<&'c CredentialRecord, LabelError> {
        let known = || credentials.iter().map(|c| c.store.clone()).collect();
        match (store, credentials) {
            (Some(id), _) => {
                credentials
                    .iter()
                    .find(|c| c.store == id)
                    .ok_or_else(|| LabelError::UnknownStore {
                        serial: serial.to_string(),
                        store: id.to_string(),
                        known: known(),
                    })
            }
            (None, [only]) => Ok(only),
            (None, _) => Err(LabelError::ChooseStore {
                serial: serial.to_string(),
                known: known(),
            }),
        }
    }

    /// Reveals the device's credentials through the audited [`Inventory::reveal`] and makes the label of
    /// `store` (the device's only store when `None`). The store is chosen and checked *before* the reveal, so a
    /// wrong choice reveals nothing; the reveal event is on record before the password leaves the inventory.
    pub fn reveal(
        inv: &mut dyn Inventory,
        serial: &str,
        store: Option<&str>,
    ) -> Result<CredentialLabel, LabelError> {
        let device = inv
            .device(serial)?
            .ok_or_else(|| InventoryError::UnknownDevice {
                serial: serial.to_string(),
            })?;
        let stored = inv.credentials(serial)?;
        let chosen = Self::pick(serial, &stored, store)?;
        if chosen.current.is_none() {
            return Self::new(&device, chosen);
        }
        let store = chosen.store.clone();
        drop(stored);
        let revealed = inv.reveal(serial)?;
        Self::new(&device, Self::pick(serial, &revealed, Some(&store))?)
    }

    /// The label as plain text, one fact a line (for a plain printer or the clipboard). Holds the password.
    pub fn to_text(&self) -> Secret {
        let mut text = format!("{}\nSerial:   {}\n", self.model, self.serial);
        if let Some(address) = &self.address {
            text += &format!("Address:  {address}\n");
        }
        text += &format!("Account:  {} ({})\n", self.username, self.store);
        text += "Password: ";
        text += self.password.expose();
        text.push('\n');
        if let Some(at) = self.changed_at {
            text += &format!("Set on:   {}\n", crate::handover::date(at));
        }
        let secret = Secret::new(text.as_str());
        zeroize::Zeroize::zeroize(&mut text);
        secret
    }

    /// The text the QR code holds: the password alone (see the module docs).
    fn qr_payload(&self) -> &str {
        self.password.expose()
    }
}
