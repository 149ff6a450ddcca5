//! The commissioning report: what was found, changed and proven. Never carries a secret.

use serde::Serialize;

use crate::checks::CheckRecord;
use crate::event::{StepId, StepOutcome};
use crate::inventory::DeviceRecord;

/// What one commissioning run did and proved.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What the run was: `commission` or `renew-certificate`.
    pub run: &'static str,
    /// True when every step succeeded and every check passed.
    pub hardened: bool,
    /// The port used for this run.
    pub port: String,
    /// The device as recorded in the inventory.
    pub device: DeviceRecord,
    /// The address the outside checks used.
    pub address: String,
    /// Profile id.
    pub profile_id: String,
    /// SHA-256 of the profile file.
    pub profile_hash: String,
    /// Each step and how it ended.
    pub steps: Vec<StepSummary>,
    /// Each credential store (never the secret).
    pub credentials: Vec<CredentialSummary>,
    /// Every outside check of this run.
    pub checks: Vec<CheckRecord>,
    /// The attack surface before hardening (the baseline scan).
    pub surface_before: Option<serde_json::Value>,
    /// The attack surface after hardening.
    pub surface_after: Option<serde_json::Value>,
    /// The device's certificate, when its profile gives it one.
    pub certificate: Option<CertificateSummary>,
}

/// The device's own certificate and the factory one it replaced. Public data only.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateSummary {
    /// SHA-256 of the newest active (or, if none, pending) certificate.
    pub fingerprint: String,
    /// Its state: `active` or `pending`.
    pub state: String,
    /// Its notAfter (Unix seconds).
    pub not_after: u64,
    /// SHA-256 of the station CA certificate that signed it.
    pub ca_fingerprint: Option<String>,
    /// SHA-256 of the certificate the device served from the factory, if it served one.
    pub factory_fingerprint: Option<String>,
    /// Other units in this inventory that shipped with the same factory certificate.
    pub factory_shared_with: Vec<String>,
}

/// One step and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct StepSummary {
    /// The step.
    pub step: StepId,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: StepOutcome,
}

/// One credential store, without its secret.
#[derive(Debug, Clone, Serialize)]
pub struct CredentialSummary {
    /// Store id from the profile.
    pub store: String,
    /// Account name.
    pub username: String,
    /// True when a Temper-generated credential is current.
    pub rotated: bool,
    /// True when a new credential is still pending confirmation.
    pub pending: bool,
    /// When the current credential was set (Unix seconds).
    pub changed_at: Option<u64>,
}
