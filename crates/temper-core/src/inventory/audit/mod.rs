//! Tamper-evident audit trail: every security-relevant action is an append-only, hash-chained, MAC'd event in
//! the inventory database, and the newest event is signed again in a sidecar file beside it (`<db>.audit`).
//!
//! # How it fits together
//! - Each event's `hash` is SHA-256 over an unambiguous, length-prefixed encoding of its sequence number, time,
//!   actor, action, device, outcome, canonical detail JSON ([`canonical_json`]) and the previous event's hash
//!   (32 zero bytes for event #1). Each event also carries `mac = HMAC-SHA256(audit key,
//!   "temper-audit-event-v1" ‖ hash)`, so an edit whose hash chain was recomputed without the key is caught at
//!   the edited event.
//! - After each committed append the caller writes [`Sidecar::signed`] for the new [`AuditHead`]:
//!   `head_mac = HMAC-SHA256(audit key, "temper-audit-head-v1" ‖ seq ‖ hash)`. The sidecar is what catches
//!   deleted last events and an older copy of the database put back in place.
//! - [`verify`] walks the chain from event #1 and checks the sidecar; any failure names the first bad sequence
//!   number ([`AuditError::Tampered`]).
//! - Failed unlocks happen without the key, so they are only counted in the sidecar
//!   ([`record_failed_unlock`]); that counter is NOT MAC'd. The next successful unlock moves them into the
//!   chain ([`Sidecar::take_failed_unlocks`], [`FailedUnlocks::event`]). [`check_backoff`] slows guessing.
//!
//! Usage, inside the inventory's write transaction: `append(&tx, &key, &event, now)?; tx.commit()?;
//! Sidecar::signed(&head, &key).write_atomic(&sidecar_path(db))?` (commit first: a crash in between leaves the
//! sidecar behind the database, which [`verify`] accepts and reports as [`VerifiedTrail::sidecar_behind`]).
//!
//! # What it does not catch
//! Someone holding the audit key can rewrite anything. Rolling back the database AND the sidecar together to an
//! earlier consistent pair is not detected (only an outside record of the head, e.g. a backup log, would show
//! it). The failed-unlock counter can be reset by anyone who can write the sidecar.

mod chain;
mod error;
mod sidecar;
mod store;

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use chain::canonical_json;
pub use error::AuditError;
pub use sidecar::{
    check_backoff, record_failed_unlock, sidecar_path, unlock_backoff, FailedUnlocks, Sidecar,
    SIDECAR_FORMAT,
};
pub use store::{append, head, list, verify, SCHEMA_SQL};

/// Length of the audit key in bytes.
pub const AUDIT_KEY_LEN: usize = 32;

/// What happened. Stored and shown as kebab-case (`credential-pending`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditAction {
    /// A new inventory was created.
    InventoryCreated,
    /// The inventory was unlocked.
    Unlocked,
    /// Unlock attempts failed (recorded at the next successful unlock; detail has the count).
    FailedUnlock,
    /// A device was commissioned (recorded in the inventory for the first time).
    Commission,
    /// A new credential was stored as pending, before it was sent to the device.
    CredentialPending,
    /// A pending credential became current.
    CredentialActive,
    /// A credential was shown to a person.
    Reveal,
    /// Credentials were exported out of the inventory.
    Export,
    /// A backup of the inventory was written.
    Backup,
    /// The inventory key was changed.
    Rekey,
    /// The inventory was restored from a backup.
    Restore,
    /// A device profile was loaded (detail has its hash).
    ProfileLoaded,
    /// The station CA was created.
    CaCreated,
    /// A CA issued by the user's own root was imported as the station CA.
    CaImported,
    /// A certificate was issued to a device (detail has its fingerprint).
    CertificateIssued,
    /// A certificate revocation list was written.
    CrlIssued,
    /// A device certificate was verified as served and became the device's active one.
    CertificateActivated,
    /// A device certificate was revoked (it goes on the next CRL).
    CertificateRevoked,
    /// A Bluetooth bond with a device was made (detail has the addresses).
    BleBonded,
    /// A Bluetooth bond with a device was removed (`temper ble forget`).
    BleBondRemoved,
}

impl AuditAction {
    /// Every action, in declaration order.
    pub const ALL: [AuditAction; 20] = [
        Self::InventoryCreated,
        Self::Unlocked,
        Self::FailedUnlock,
        Self::Commission,
        Self::CredentialPending,
        Self::CredentialActive,
        Self::Reveal,
        Self::Export,
        Self::Backup,
        Self::Rekey,
        Self::Restore,
        Self::ProfileLoaded,
        Self::CaCreated,
        Self::CaImported,
        Self::CertificateIssued,
        Self::CrlIssued,
        Self::CertificateActivated,
        Self::CertificateRevoked,
        Self::BleBonded,
        Self::BleBondRemoved,
    ];

    /// Stable kebab-case name, as stored, hashed and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InventoryCreated => "inventory-created",
            Self::Unlocked => "unlocked",
            Self::FailedUnlock => "failed-unlock",
            Self::Commission => "commission",
            Self::CredentialPending => "credential-pending",
            Self::CredentialActive => "credential-active",
            Self::Reveal => "reveal",
            Self::Export => "export",
            Self::Backup => "backup",
            Self::Rekey => "rekey",
            Self::Restore => "restore",
            Self::ProfileLoaded => "profile-loaded",
            Self::CaCreated => "ca-created",
            Self::CaImported => "ca-imported",
            Self::CertificateIssued => "certificate-issued",
            Self::CrlIssued => "crl-issued",
            Self::CertificateActivated => "certificate-activated",
            Self::CertificateRevoked => "certificate-revoked",
            Self::BleBonded => "ble-bonded",
            Self::BleBondRemoved => "ble-bond-removed",
        }
    }

    /// Parses [`AuditAction::as_str`] output.
    pub fn parse(name: &str) -> Option<AuditAction> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event to append. Its sequence number, time and hashes are assigned by [`append`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// Who did it: the OS user, or `temper` for automatic actions.
    pub actor: String,
    /// What was done.
    pub action: AuditAction,
    /// The device serial, if the action concerns one device.
    pub device: Option<String>,
    /// How it ended, e.g. `ok`, `failed`, `refused`.
    pub outcome: String,
    /// Extra facts (store id, profile hash, counts). NEVER a secret: the trail is shown to anyone who can unlock
    /// the inventory and its content is not redacted.
    pub detail: serde_json::Value,
}

impl NewAuditEvent {
    /// An event with outcome `ok`, no device and an empty detail object.
    pub fn new(actor: impl Into<String>, action: AuditAction) -> Self {
        NewAuditEvent {
            actor: actor.into(),
            action,
            device: None,
            outcome: "ok".to_string(),
            detail: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// Sets the device serial.
    pub fn device(mut self, serial: impl Into<String>) -> Self {
        self.device = Some(serial.into());
        self
    }

    /// Sets the outcome.
    pub fn outcome(mut self, outcome: impl Into<String>) -> Self {
        self.outcome = outcome.into();
        self
    }

    /// Sets the detail. Never put a secret here.
    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// One stored event of the trail. Hashes and MAC are shown as lowercase hex in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    /// Sequence number: 1 for the first event, then +1 without gaps.
    pub seq: u64,
    /// When, seconds since the Unix epoch.
    pub at: u64,
    /// Who did it.
    pub actor: String,
    /// What was done.
    pub action: AuditAction,
    /// The device serial, if any.
    pub device: Option<String>,
    /// How it ended.
    pub outcome: String,
    /// Extra facts; never a secret.
    pub detail: serde_json::Value,
    /// Hash of the previous event (32 zero bytes for event #1).
    #[serde(with = "chain::hex32")]
    pub prev_hash: [u8; 32],
    /// SHA-256 over this event's fields and `prev_hash` (see the module documentation).
    #[serde(with = "chain::hex32")]
    pub hash: [u8; 32],
    /// HMAC-SHA256 of `hash` under the audit key.
    #[serde(with = "chain::hex32")]
    pub mac: [u8; 32],
}

impl AuditEvent {
    /// The hash this event's fields and `prev_hash` should have. Equal to `hash` unless the event was altered.
    /// Public because the algorithm is not a secret (the audit key is); tests use it to play an attacker who
    /// recomputes the chain.
    pub fn expected_hash(&self) -> [u8; 32] {
        chain::event_hash(&chain::HashInput {
            seq: self.seq,
            at: self.at,
            actor: &self.actor,
            action: self.action.as_str(),
            device: self.device.as_deref(),
            outcome: &self.outcome,
            detail: &canonical_json(&self.detail),
            prev_hash: &self.prev_hash,
        })
    }
}

/// The newest event of a trail: what the sidecar signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditHead {
    /// Its sequence number (the number of events).
    pub seq: u64,
    /// Its hash.
    #[serde(with = "chain::hex32")]
    pub hash: [u8; 32],
}

/// The key of the per-event and head MACs: 32 bytes, wiped from memory when dropped, never shown by `Debug`.
///
/// It must be kept apart from the database (keyring or key file): whoever holds it can rewrite the trail.
#[derive(Clone)]
pub struct AuditKey(Zeroizing<[u8; AUDIT_KEY_LEN]>);

impl AuditKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; AUDIT_KEY_LEN]) -> Self {
        AuditKey(Zeroizing::new(bytes))
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        let mut key = AuditKey(Zeroizing::new([0u8; AUDIT_KEY_LEN]));
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, key.0.as_mut());
        key
    }

    /// The raw key bytes, to store in the keyring or key file. Callers must not log them.
    pub fn expose(&self) -> &[u8; AUDIT_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(<redacted>)")
    }
}

/// The result of a successful [`verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedTrail {
    /// Number of events checked (equal to the last sequence number).
    pub events: u64,
    /// The newest event, `None` for an empty trail.
    pub head: Option<AuditHead>,
    /// True if the database holds events newer than the sidecar's signed head (a crash between commit and
    /// sidecar write, or a failed sidecar write). Those events are MAC-checked, but their deletion would not be
    /// noticed until the sidecar is signed again: write [`Sidecar::signed`] for `head`.
    pub sidecar_behind: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_key_debug_is_redacted_and_action_names_round_trip() {
        let key = AuditKey::from_bytes([0xab; 32]);
        assert_eq!(format!("{key:?}"), "AuditKey(<redacted>)");
        assert_ne!(AuditKey::generate().expose(), AuditKey::generate().expose());
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::json!(action.as_str())
            );
        }
    }
}
