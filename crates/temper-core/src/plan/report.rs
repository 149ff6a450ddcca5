//! The commissioning report: what was found, changed and proven. Never carries a secret.

use serde::Serialize;

use crate::checks::CheckRecord;
use crate::event::{StepId, StepOutcome};
use crate::inventory::DeviceRecord;

/// What one commissioning run did and proved.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
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
