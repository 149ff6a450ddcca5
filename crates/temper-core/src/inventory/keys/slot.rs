//! One key slot of the key header: the key bundle wrapped under one key-encryption key (KEK).
//!
//! KEKs are HMAC-SHA256 of the source's key (the Argon2id output for a passphrase, the key of a key file or of the
//! keyring, the recovery key), keyed per slot kind and bound to the inventory id. The wrap is XChaCha20-Poly1305
//! with aad = `temper-keys v1`, the slot kind and the inventory id, so a slot cannot be moved to another kind or
//! inventory.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::recovery::derive_kek;
use super::{decrypt, encrypt, Key, KeyBundle, KeyError, KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::inventory::kdf::{self, KdfHeader};
use crate::inventory::InventoryError;
use crate::Secret;

/// The kind of a key slot: which [`super::KeySource`] opens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SlotKind {
    /// Opened by [`super::KeySource::Passphrase`].
    Passphrase,
    /// Opened by [`super::KeySource::KeyFile`].
    KeyFile,
    /// Opened by [`super::KeySource::Keyring`].
    Keyring,
    /// Opened by [`super::KeySource::Recovery`].
    Recovery,
}

impl SlotKind {
    /// Stable kebab-case name, as stored in the header (and bound into the slot's aad).
    pub fn as_str(self) -> &'static str {
        match self {
            SlotKind::Passphrase => "passphrase",
            SlotKind::KeyFile => "key-file",
            SlotKind::Keyring => "keyring",
            SlotKind::Recovery => "recovery",
        }
    }

    /// Name for people, as used in messages.
    pub fn describe(self) -> &'static str {
        match self {
            SlotKind::Passphrase => "passphrase",
            SlotKind::KeyFile => "key file",
            SlotKind::Keyring => "OS keyring key",
            SlotKind::Recovery => "recovery key",
        }
    }
}

/// Where a keyring slot's key is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyringRef {
    pub(super) service: String,
    pub(super) account: String,
}

/// A slot as stored in the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Slot {
    pub(super) kind: SlotKind,
    /// Argon2id parameters and salt (passphrase slots only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) kdf: Option<KdfHeader>,
    /// The keyring entry (keyring slots only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) keyring: Option<KeyringRef>,
    /// Standard base64 of the 24-byte nonce.
    nonce: String,
    /// Standard base64 of the wrapped 96-byte bundle and its 16-byte tag.
    wrapped: String,
}

impl Slot {
    /// A slot of `kind` wrapping `bundle` under `kek`.
    pub(super) fn seal(
        kind: SlotKind,
        kdf: Option<KdfHeader>,
        keyring: Option<KeyringRef>,
        kek: &Key,
        bundle: &KeyBundle,
        inventory_id: &str,
    ) -> Slot {
        let (nonce, wrapped) = encrypt(kek, &bundle.to_bytes(), &aad(kind, inventory_id));
        Slot {
            kind,
            kdf,
            keyring,
            nonce: STANDARD.encode(nonce),
            wrapped: STANDARD.encode(wrapped),
        }
    }

    /// The bundle, if `kek` opens this slot.
    pub(super) fn open(&self, kek: &Key, inventory_id: &str) -> Option<KeyBundle> {
        let nonce = STANDARD.decode(&self.nonce).ok()?;
        let wrapped = STANDARD.decode(&self.wrapped).ok()?;
        let plain = decrypt(kek, &nonce, &wrapped, &aad(self.kind, inventory_id))?;
        KeyBundle::from_bytes(&plain)
    }

    /// Checks the shape of the slot (not its keys).
    pub(super) fn validate(&self) -> Result<(), String> {
        if (self.kind == SlotKind::Passphrase) != self.kdf.is_some() {
            return Err("Argon2id parameters must be present exactly for passphrase slots".into());
        }
        if let Some(kdf) = &self.kdf {
            if kdf.format != kdf::HEADER_FORMAT || kdf.algorithm != kdf::ALGORITHM {
                return Err("unsupported key derivation".into());
            }
        }
        if (self.kind == SlotKind::Keyring) != self.keyring.is_some() {
            return Err("a keyring entry must be present exactly for keyring slots".into());
        }
        if STANDARD.decode(&self.nonce).map(|n| n.len()) != Ok(NONCE_LEN) {
            return Err("the nonce is not 24 bytes of base64".into());
        }
        if STANDARD.decode(&self.wrapped).map(|w| w.len()) != Ok(3 * KEY_LEN + TAG_LEN) {
            return Err("the wrapped keys are not 112 bytes of base64".into());
        }
        Ok(())
    }
}

fn aad(kind: SlotKind, inventory_id: &str) -> Vec<u8> {
    format!("temper-keys v1\0{}\0{inventory_id}", kind.as_str()).into_bytes()
}

/// The KEK of a slot of `kind` from the raw key of its source.
pub(super) fn source_kek(kind: SlotKind, key: &[u8; KEY_LEN], inventory_id: &str) -> Key {
    let label = format!("temper {} key-encryption key v1", kind.as_str());
    derive_kek(key, label.as_bytes(), inventory_id)
}

/// The KEK of a passphrase slot: Argon2id with the slot's parameters and salt, then [`source_kek`].
pub(super) fn passphrase_kek(
    kdf: &KdfHeader,
    passphrase: &Secret,
    inventory_id: &str,
) -> Result<Key, KeyError> {
    let stretched = kdf.derive_key(passphrase).map_err(kdf_error)?;
    Ok(source_kek(SlotKind::Passphrase, &stretched, inventory_id))
}

/// Maps the errors of [`crate::inventory::kdf`] (strength check, Argon2id) to key errors.
pub(super) fn kdf_error(error: InventoryError) -> KeyError {
    match error {
        InventoryError::WeakPassphrase { reason } => KeyError::WeakPassphrase { reason },
        InventoryError::Database(reason) => KeyError::Kdf(reason),
        other => KeyError::Kdf(other.to_string()),
    }
}
