//! How the station reaches a device, kept with the device: its transport (serial port or Bluetooth LE) and,
//! for BLE, the bond between the station's adapter and the device.
//!
//! Stored as the device's `link` document (every [`Inventory`] backend has documents, so no backend needs a
//! schema change), with an audit event when a bond is made or removed.

use serde::{Deserialize, Serialize};

use super::audit::{AuditAction, NewAuditEvent};
use super::{Inventory, InventoryError};

/// The document name.
pub const LINK_DOCUMENT: &str = "link";

/// The transport a device was commissioned over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    /// A serial port.
    Serial,
    /// Bluetooth LE.
    Ble,
}

/// How the station reaches a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct DeviceLink {
    /// The transport.
    pub transport: LinkKind,
    /// The port path (serial) or the device's address (BLE).
    pub address: String,
    /// The station adapter's address (BLE).
    #[serde(default)]
    pub adapter: Option<String>,
    /// True while this station holds a bond with the device (BLE).
    #[serde(default)]
    pub bonded: bool,
    /// When the bond was made, seconds since the Unix epoch.
    #[serde(default)]
    pub bonded_at: Option<u64>,
}

impl DeviceLink {
    /// A serial port link.
    pub fn serial(port: &str) -> DeviceLink {
        DeviceLink {
            transport: LinkKind::Serial,
            address: port.into(),
            adapter: None,
            bonded: false,
            bonded_at: None,
        }
    }
}

/// The recorded link of `serial`, if any.
pub fn link(inventory: &dyn Inventory, serial: &str) -> Result<Option<DeviceLink>, InventoryError> {
    inventory
        .document(serial, LINK_DOCUMENT)?
        .map(serde_json::from_value)
        .transpose()
        .map_err(InventoryError::from)
}

/// Records `new` as the link of `serial` (a known device). A bond that the record did not have yet is
/// audited (`ble-bonded`); one it had is kept with its first `bonded_at`.
pub fn record_link(
    inventory: &mut dyn Inventory,
    serial: &str,
    mut new: DeviceLink,
    now: u64,
) -> Result<(), InventoryError> {
    let old = link(inventory, serial)?;
    let same_bond = old
        .as_ref()
        .is_some_and(|o| o.bonded && o.address == new.address && o.adapter == new.adapter);
    if new.bonded {
        new.bonded_at = match (&old, same_bond) {
            (Some(o), true) => o.bonded_at,
            _ => Some(now),
        };
    }
    inventory.put_document(serial, LINK_DOCUMENT, &serde_json::to_value(&new)?)?;
    if new.bonded && !same_bond {
        let event = NewAuditEvent::new(inventory.actor(), AuditAction::BleBonded)
            .device(serial)
            .detail(serde_json::json!({ "device": new.address, "adapter": new.adapter }));
        inventory.record_event(&event)?;
    }
    Ok(())
}

/// Marks the bond of `serial` removed (audited as `ble-bond-removed`). Returns the link as it was; `None`
/// when the device has no BLE link on record.
pub fn record_unbonded(
    inventory: &mut dyn Inventory,
    serial: &str,
) -> Result<Option<DeviceLink>, InventoryError> {
    let Some(old) = link(inventory, serial)?.filter(|l| l.transport == LinkKind::Ble) else {
        return Ok(None);
    };
    let mut new = old.clone();
    new.bonded = false;
    new.bonded_at = None;
    inventory.put_document(serial, LINK_DOCUMENT, &serde_json::to_value(&new)?)?;
    let event = NewAuditEvent::new(inventory.actor(), AuditAction::BleBondRemoved)
        .device(serial)
        .detail(serde_json::json!({ "device": old.address, "adapter": old.adapter }));
    inventory.record_event(&event)?;
    Ok(Some(old))
}
