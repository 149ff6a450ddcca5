//! The inventory: the encrypted record of every device Temper has seen, its hardening progress, its outside
//! checks and documents, and the ONLY copy of each device's new credentials.
//!
//! [`Inventory`] is the storage contract; every backend must pass the [`conformance`] suite.
//! [`SqlCipherInventory`] is the local backend: one SQLCipher database file keyed with Argon2id (see [`kdf`]),
//! with versioned schema migrations.
//!
//! Credential lifecycle for one store of one device: [`Inventory::put_pending`] durably stores the new secret as
//! *pending* before anything is sent to the device; once the change is confirmed from outside,
//! [`Inventory::activate_pending`] makes it *current*. Until then the current (old) secret stays usable, so an
//! interrupted rotation can always be resumed with one of the two.

pub mod audit;
pub mod conformance;
mod error;
pub mod kdf;
pub mod keys;
pub mod leak_scan;
pub mod link;
mod migrations;
mod sqlcipher;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::checks::CheckRecord;
use crate::Secret;

pub use error::InventoryError;
pub use migrations::SCHEMA_VERSION;
pub use sqlcipher::SqlCipherInventory;
pub use sqlcipher::{default_actor, BackupInfo};

/// What Temper knows about one device. Devices are keyed by serial number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Serial number read from the device; the key of every other record.
    pub serial: String,
    /// Model read from the device.
    pub model: String,
    /// Firmware version read from the device.
    pub firmware: String,
    /// Id of the profile that matched the device.
    pub profile_id: String,
    /// Hash of that profile's content, to tell which exact profile version hardened the device.
    pub profile_hash: String,
    /// Where the device is installed, if known.
    pub site: Option<String>,
    /// Network address of the device, if known.
    pub address: Option<String>,
    /// How far hardening got.
    pub state: HardenedState,
    /// When Temper first saw the device, seconds since the Unix epoch. Kept from the first upsert.
    pub first_seen: u64,
    /// When the record last changed, seconds since the Unix epoch.
    pub updated_at: u64,
}

/// How far hardening of a device got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HardenedState {
    /// Identified, nothing changed yet.
    New,
    /// A plan started and has not finished.
    InProgress,
    /// Every step succeeded and every check passed.
    Hardened,
    /// A plan ended with a failure.
    Failed,
}

impl HardenedState {
    /// Stable kebab-case name, as stored and shown in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            HardenedState::New => "new",
            HardenedState::InProgress => "in-progress",
            HardenedState::Hardened => "hardened",
            HardenedState::Failed => "failed",
        }
    }

    /// Parses [`HardenedState::as_str`] output.
    pub fn parse(name: &str) -> Option<HardenedState> {
        [Self::New, Self::InProgress, Self::Hardened, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// The station CA as the inventory keeps it: its private key is sealed with the data key at rest, and `Debug`
/// never shows it (it is a [`Secret`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationCaRecord {
    /// The CA certificate (PEM).
    pub cert_pem: String,
    /// The CA's private key (PKCS#8 PEM).
    pub key_pem: Secret,
    /// Key kind, e.g. `ecdsa-p256`.
    pub kind: String,
    /// True when imported (an intermediate issued by the user's own root), false when made by `ca init`.
    pub imported: bool,
    /// When it was stored (Unix seconds).
    pub created_at: u64,
}

/// Where a device certificate stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertState {
    /// Signed and recorded, not yet confirmed as served by the device.
    Pending,
    /// Served by the device, verified from outside.
    Active,
    /// Revoked (listed in the CRL).
    Revoked,
    /// Replaced by a newer certificate, or a pending one the device could no longer take (its key changed).
    Superseded,
}

impl CertState {
    /// Stable name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CertState::Pending => "pending",
            CertState::Active => "active",
            CertState::Revoked => "revoked",
            CertState::Superseded => "superseded",
        }
    }

    /// Parses [`CertState::as_str`] output.
    pub fn parse(name: &str) -> Option<CertState> {
        [
            CertState::Pending,
            CertState::Active,
            CertState::Revoked,
            CertState::Superseded,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// A certificate issued to a device (public data only: the device's key never leaves the device).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCertRecord {
    /// SHA-256 fingerprint of the certificate (hex).
    pub fingerprint: String,
    /// The certificate (PEM).
    pub cert_pem: String,
    /// notAfter (Unix seconds).
    pub not_after: u64,
    /// Where it stands.
    pub state: CertState,
    /// When the state was last set (Unix seconds; set by the inventory).
    pub at: u64,
}

/// The credential of one credential store (an account of the device, as named by the profile).
///
/// `Debug` never shows the secrets (they are [`Secret`]s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRecord {
    /// Credential store id from the profile, e.g. `console-root`.
    pub store: String,
    /// Account name: the current credential's, or the pending one's when there is no current credential yet.
    pub username: String,
    /// The credential the device is known to accept.
    pub current: Option<Secret>,
    /// A new credential stored before it was sent to the device; not yet confirmed.
    pub pending: Option<Secret>,
    /// When the current credential became current, seconds since the Unix epoch.
    pub changed_at: Option<u64>,
}

/// How a hardening step ended, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum StepState {
    /// The step completed.
    Done,
    /// The step failed.
    Failed {
        /// What failed, for people. Never a secret.
        message: String,
    },
}

/// The recorded state of one hardening step of one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Step name, e.g. `rotate-credentials` (see [`crate::event::StepId::as_str`]).
    pub step: String,
    /// How it ended.
    pub state: StepState,
    /// When it was recorded, seconds since the Unix epoch.
    pub at: u64,
}

/// The storage contract for the inventory. Every backend must pass [`conformance::run_all`].
///
/// Writes about a device (credentials, steps, checks, documents) need the device to exist
/// ([`Inventory::upsert_device`] first) and fail with [`InventoryError::UnknownDevice`] otherwise; reads about an
/// unknown device return nothing (`None` or an empty list).
pub trait Inventory: Send {
    /// Inserts the device or updates every field of the existing record except `first_seen`, which keeps the
    /// value of the first insert.
    fn upsert_device(&mut self, device: &DeviceRecord) -> Result<(), InventoryError>;
    /// The device with this serial, if known.
    fn device(&self, serial: &str) -> Result<Option<DeviceRecord>, InventoryError>;
    /// Every device, sorted by serial.
    fn devices(&self) -> Result<Vec<DeviceRecord>, InventoryError>;
    /// Durably stores `secret` as the PENDING credential of `store` (fsync'd before returning:
    /// synchronous=FULL). Replaces an older pending one; the current credential is kept.
    fn put_pending(
        &mut self,
        serial: &str,
        store: &str,
        username: &str,
        secret: &Secret,
    ) -> Result<(), InventoryError>;
    /// Pending becomes current (changed_at = now); [`InventoryError::NoPending`] if there is no pending.
    fn activate_pending(&mut self, serial: &str, store: &str) -> Result<(), InventoryError>;
    /// The credentials of the device, sorted by store.
    fn credentials(&self, serial: &str) -> Result<Vec<CredentialRecord>, InventoryError>;
    /// Records how `step` ended (at = now), replacing an earlier record of the same step.
    fn set_step(
        &mut self,
        serial: &str,
        step: &str,
        state: &StepState,
    ) -> Result<(), InventoryError>;
    /// The recorded steps of the device, sorted by step name.
    fn steps(&self, serial: &str) -> Result<Vec<StepRecord>, InventoryError>;
    /// Stores a check result under `phase` (e.g. `baseline`, `verify`). A check with the same phase, id and
    /// subject replaces the earlier one.
    fn put_check(
        &mut self,
        serial: &str,
        phase: &str,
        check: &CheckRecord,
    ) -> Result<(), InventoryError>;
    /// Every `(phase, check)` of the device, sorted by phase, check id, subject.
    fn checks(&self, serial: &str) -> Result<Vec<(String, CheckRecord)>, InventoryError>;
    /// Stores a JSON document (e.g. the baseline scan, the report) under `name`, replacing an earlier one.
    fn put_document(
        &mut self,
        serial: &str,
        name: &str,
        value: &serde_json::Value,
    ) -> Result<(), InventoryError>;
    /// The document stored under `name`, if any.
    fn document(
        &self,
        serial: &str,
        name: &str,
    ) -> Result<Option<serde_json::Value>, InventoryError>;

    /// Who this handle acts as in audit events (the login user, or the name the caller gave).
    fn actor(&self) -> &str;
    /// Appends one event to the audit trail (durably, with the sidecar signed).
    fn record_event(&mut self, event: &audit::NewAuditEvent) -> Result<(), InventoryError>;
    /// The audit trail, oldest first; only the events of `device` when given.
    fn audit_events(&self, device: Option<&str>) -> Result<Vec<audit::AuditEvent>, InventoryError>;
    /// Checks the whole trail: hash chain, per-event MACs and the signed head in the sidecar.
    fn verify_audit(&self) -> Result<audit::VerifiedTrail, InventoryError>;
    /// The credentials of a device for showing to a person: the same as [`Inventory::credentials`], but an
    /// audit event naming the device and the actor is on record before they are returned.
    fn reveal(&mut self, serial: &str) -> Result<Vec<CredentialRecord>, InventoryError>;

    /// Stores the station CA (audited). [`InventoryError::CaExists`] if there is one already: Temper never
    /// replaces a CA that has signed device certificates.
    fn put_station_ca(&mut self, ca: &StationCaRecord) -> Result<(), InventoryError>;
    /// The station CA, if one was made or imported.
    fn station_ca(&self) -> Result<Option<StationCaRecord>, InventoryError>;
    /// Records a device certificate, or a new state of it (a new pending certificate is audited).
    fn put_device_cert(
        &mut self,
        serial: &str,
        cert: &DeviceCertRecord,
    ) -> Result<(), InventoryError>;
    /// The certificates of a device, oldest first.
    fn device_certs(&self, serial: &str) -> Result<Vec<DeviceCertRecord>, InventoryError>;
}

/// Where an inventory gets "now" from (seconds since the Unix epoch). Injectable for tests.
pub trait Clock: Send + Sync {
    /// The current time in seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; clones share the same time. For tests and simulations.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(now)))
    }

    /// Sets the time.
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }

    /// Moves the time forward by `seconds`.
    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
