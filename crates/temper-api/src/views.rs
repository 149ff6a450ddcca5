//! What the inventory and audit pages show. Public data only: no view carries a credential except
//! [`RevealedCredential`], which only [`crate::App::reveal`] makes (after an audit event is on record).

use serde::Serialize;
use temper_core::inventory::audit::AuditEvent;
use temper_core::inventory::{
    CertState, CredentialRecord, DeviceCertRecord, DeviceRecord, Inventory, InventoryError,
};
use ts_rs::TS;

const DAY: u64 = 86_400;

/// One row of the inventory table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct InventoryRow {
    /// Serial number.
    pub serial: String,
    /// Model.
    pub model: String,
    /// Firmware version.
    pub firmware: String,
    /// Site label, if any.
    pub site: Option<String>,
    /// `new`, `in-progress`, `hardened` or `failed`.
    pub state: String,
    /// Network address, if known.
    pub address: Option<String>,
    /// notAfter of the active certificate (Unix seconds).
    #[ts(type = "number | null")]
    pub certificate_expires: Option<u64>,
    /// Days until the active certificate expires (negative: expired).
    #[ts(type = "number | null")]
    pub certificate_days_left: Option<i64>,
    /// Age in days of the oldest current credential.
    #[ts(type = "number | null")]
    pub credential_age_days: Option<u64>,
    /// The expiry policy in days (the profile's, tightened by settings), if any.
    pub credential_max_age_days: Option<u32>,
    /// True when a credential is older than the policy allows: rotate it.
    pub credential_expired: bool,
    /// When the record last changed (Unix seconds).
    #[ts(type = "number")]
    pub updated_at: u64,
}

/// One certificate of a device (public data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct CertificateView {
    /// SHA-256 fingerprint (hex).
    pub fingerprint: String,
    /// `pending`, `active`, `revoked` or `superseded`.
    pub state: String,
    /// notAfter (Unix seconds).
    #[ts(type = "number")]
    pub not_after: u64,
}

/// One credential store of a device, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct CredentialView {
    /// Store id.
    pub store: String,
    /// Account name.
    pub username: String,
    /// When the current credential was set (Unix seconds).
    #[ts(type = "number | null")]
    pub changed_at: Option<u64>,
    /// True while a new credential waits for confirmation.
    pub pending: bool,
}

/// A credential shown because the person pressed "Reveal" (audited).
#[derive(Clone, PartialEq, Eq, Serialize, TS)]
pub struct RevealedCredential {
    /// Store id.
    pub store: String,
    /// Account name.
    pub username: String,
    /// The current password.
    pub password: String,
}

/// One outside check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct CheckView {
    /// `baseline` or `verify`.
    pub phase: String,
    /// Check id.
    pub id: String,
    /// What was checked.
    pub subject: String,
    /// True when the device passed.
    pub passed: bool,
    /// What was seen.
    pub detail: String,
    /// Guideline items it proves.
    pub guideline: Vec<String>,
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AuditRow {
    /// Sequence number.
    #[ts(type = "number")]
    pub seq: u64,
    /// When (Unix seconds).
    #[ts(type = "number")]
    pub at: u64,
    /// Who.
    pub actor: String,
    /// What, e.g. `commission`, `reveal`.
    pub action: String,
    /// The device, if any.
    pub device: Option<String>,
    /// How it ended.
    pub outcome: String,
    /// Extra facts as compact JSON (never a secret).
    pub detail: String,
}

/// A device's page: its record, steps, checks, certificates, credentials (no secrets) and history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DevicePage {
    /// The table row.
    pub row: InventoryRow,
    /// The profile that hardened it.
    pub profile_id: String,
    /// Recorded steps: (step id, "done" or the failure).
    pub steps: Vec<(String, String)>,
    /// Outside checks.
    pub checks: Vec<CheckView>,
    /// Certificates, oldest first.
    pub certificates: Vec<CertificateView>,
    /// Credential stores.
    pub credentials: Vec<CredentialView>,
    /// Its audit events, oldest first.
    pub history: Vec<AuditRow>,
}

/// The audit page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AuditPage {
    /// Events, oldest first.
    pub events: Vec<AuditRow>,
    /// True when the hash chain, the MACs and the signed head all check out.
    pub intact: bool,
    /// What is wrong when not intact.
    pub problem: Option<String>,
}

impl From<&AuditEvent> for AuditRow {
    fn from(e: &AuditEvent) -> Self {
        AuditRow {
            seq: e.seq,
            at: e.at,
            actor: e.actor.clone(),
            action: e.action.as_str().into(),
            device: e.device.clone(),
            outcome: e.outcome.clone(),
            detail: e.detail.to_string(),
        }
    }
}

/// The row of `device`; `max_age_days` is the credential expiry policy that applies to it.
pub fn row(
    device: &DeviceRecord,
    credentials: &[CredentialRecord],
    certs: &[DeviceCertRecord],
    max_age_days: Option<u32>,
    now: u64,
) -> InventoryRow {
    let active = certs.iter().rev().find(|c| c.state == CertState::Active);
    let oldest = credentials
        .iter()
        .filter(|c| c.current.is_some())
        .filter_map(|c| c.changed_at)
        .min();
    let age = oldest.map(|t| now.saturating_sub(t) / DAY);
    InventoryRow {
        serial: device.serial.clone(),
        model: device.model.clone(),
        firmware: device.firmware.clone(),
        site: device.site.clone(),
        state: device.state.as_str().into(),
        address: device.address.clone(),
        certificate_expires: active.map(|c| c.not_after),
        certificate_days_left: active
            .map(|c| (c.not_after as i64 - now as i64).div_euclid(DAY as i64)),
        credential_age_days: age,
        credential_max_age_days: max_age_days,
        credential_expired: matches!((age, max_age_days), (Some(a), Some(m)) if a > u64::from(m)),
        updated_at: device.updated_at,
    }
}

/// The device page of `serial`.
pub fn device_page(
    inventory: &dyn Inventory,
    serial: &str,
    max_age_days: impl Fn(&str) -> Option<u32>,
    now: u64,
) -> Result<Option<DevicePage>, InventoryError> {
    let Some(device) = inventory.device(serial)? else {
        return Ok(None);
    };
    let credentials = inventory.credentials(serial)?;
    let certs = inventory.device_certs(serial)?;
    let steps = inventory
        .steps(serial)?
        .into_iter()
        .map(|s| {
            let state = match s.state {
                temper_core::inventory::StepState::Done => "done".to_string(),
                temper_core::inventory::StepState::Failed { message } => message,
            };
            (s.step, state)
        })
        .collect();
    let checks = inventory
        .checks(serial)?
        .into_iter()
        .map(|(phase, c)| CheckView {
            phase,
            id: c.id,
            subject: c.subject,
            passed: c.passed,
            detail: c.detail,
            guideline: c.guideline,
        })
        .collect();
    let history = inventory
        .audit_events(Some(serial))?
        .iter()
        .map(AuditRow::from)
        .collect();
    Ok(Some(DevicePage {
        row: row(
            &device,
            &credentials,
            &certs,
            max_age_days(&device.profile_id),
            now,
        ),
        profile_id: device.profile_id.clone(),
        steps,
        checks,
        certificates: certs
            .iter()
            .map(|c| CertificateView {
                fingerprint: c.fingerprint.clone(),
                state: c.state.as_str().into(),
                not_after: c.not_after,
            })
            .collect(),
        credentials: credentials
            .iter()
            .map(|c| CredentialView {
                store: c.store.clone(),
                username: c.username.clone(),
                changed_at: c.changed_at,
                pending: c.pending.is_some(),
            })
            .collect(),
        history,
    }))
}
