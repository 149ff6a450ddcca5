//! One device of the handover report: read from the inventory, secrets left behind.

use serde::{Deserialize, Serialize};

use super::{ServiceChanges, DAY};
use crate::checks::CheckRecord;
use crate::inventory::{
    CertState, DeviceRecord, HardenedState, Inventory, InventoryError, StepRecord,
};

/// One device: identity, what was changed and what was proven.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverDevice {
    /// Serial number (the device's key).
    pub serial: String,
    /// Model read from the device.
    pub model: String,
    /// Firmware version read from the device.
    pub firmware: String,
    /// Profile id that hardened it.
    pub profile_id: String,
    /// SHA-256 of that profile's file.
    pub profile_hash: String,
    /// Site label.
    pub site: Option<String>,
    /// Network address.
    pub address: Option<String>,
    /// How far hardening got.
    pub state: HardenedState,
    /// When the inventory last changed the device's record (Unix seconds).
    pub updated_at: u64,
    /// Each recorded step and how it ended, in plan order.
    pub steps: Vec<StepRecord>,
    /// Each credential store: account, change date and age (never the secret).
    pub credentials: Vec<HandoverCredential>,
    /// Services closed and ports open, from the baseline and verify scans; `None` when a scan is missing.
    pub services: Option<ServiceChanges>,
    /// Every outside check with its phase (`verify`, `trials`, ...).
    pub checks: Vec<HandoverCheck>,
    /// The device's certificates, oldest first.
    pub certificates: Vec<HandoverCertificate>,
    /// SHA-256 of the certificate the device served from the factory, if it served one.
    pub factory_certificate: Option<String>,
}

impl HandoverDevice {
    /// True when an outside check of the device failed.
    pub fn has_failed_checks(&self) -> bool {
        self.checks.iter().any(|c| !c.check.passed)
    }
}

/// One credential store, never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverCredential {
    /// Store id from the profile, e.g. `web-admin`.
    pub store: String,
    /// Account name.
    pub username: String,
    /// True when a Temper-generated credential is current.
    pub rotated: bool,
    /// True when a new credential still waits for confirmation.
    pub pending: bool,
    /// When the current credential was set (Unix seconds).
    pub changed_at: Option<u64>,
    /// Whole days since then, at [`HandoverReport::generated_at`].
    pub age_days: Option<u64>,
    /// The profile's expiry policy in days ([`HandoverReport::with_profiles`]); `None` when unknown or unset.
    pub max_age_days: Option<u32>,
    /// When the credential should be rotated again (Unix seconds), from `changed_at` and `max_age_days`.
    pub rotate_by: Option<u64>,
}

impl HandoverCredential {
    /// True when the credential is older than the profile allows; `None` when that cannot be told.
    pub fn overdue(&self, now: u64) -> Option<bool> {
        self.rotate_by.map(|by| now > by)
    }
}

/// One outside check and the phase it ran in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverCheck {
    /// The phase, e.g. `verify`.
    pub phase: String,
    /// The check: id, guideline items, subject, result, detail.
    #[serde(flatten)]
    pub check: CheckRecord,
}

/// One certificate of the device, public data only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverCertificate {
    /// SHA-256 fingerprint (hex).
    pub fingerprint: String,
    /// Where it stands.
    pub state: CertState,
    /// notAfter (Unix seconds).
    pub not_after: u64,
}

/// The device's part of the report, as of `now` (Unix seconds): never a secret.
pub(super) fn read(
    inv: &dyn Inventory,
    d: DeviceRecord,
    now: u64,
) -> Result<HandoverDevice, InventoryError> {
    let serial = d.serial.as_str();
    let mut steps = inv.steps(serial)?;
    steps
        .sort_by_key(|s| crate::event::StepId::parse(&s.step).map_or(usize::MAX, |id| id as usize));
    let credentials = inv
        .credentials(serial)?
        .into_iter()
        .map(|c| HandoverCredential {
            rotated: c.current.is_some(),
            pending: c.pending.is_some(),
            age_days: c.changed_at.map(|at| now.saturating_sub(at) / DAY),
            changed_at: c.changed_at,
            store: c.store,
            username: c.username,
            max_age_days: None,
            rotate_by: None,
        })
        .collect();
    let baseline = inv.document(serial, "baseline")?;
    let after = inv.document(serial, "verify-surface")?;
    let services = ServiceChanges::from_scans(baseline.as_ref(), after.as_ref());
    let checks = inv
        .checks(serial)?
        .into_iter()
        .map(|(phase, check)| HandoverCheck { phase, check })
        .collect();
    let certificates = inv
        .device_certs(serial)?
        .into_iter()
        .map(|c| HandoverCertificate {
            fingerprint: c.fingerprint,
            state: c.state,
            not_after: c.not_after,
        })
        .collect();
    let factory = inv.document(serial, "factory-certificate")?;
    let factory_certificate = factory
        .as_ref()
        .or(baseline.as_ref().map(|b| &b["factory_certificate"]))
        .and_then(|f| f["fingerprint"].as_str())
        .map(str::to_string);
    Ok(HandoverDevice {
        serial: d.serial,
        model: d.model,
        firmware: d.firmware,
        profile_id: d.profile_id,
        profile_hash: d.profile_hash,
        site: d.site,
        address: d.address,
        state: d.state,
        updated_at: d.updated_at,
        steps,
        credentials,
        services,
        checks,
        certificates,
        factory_certificate,
    })
}
