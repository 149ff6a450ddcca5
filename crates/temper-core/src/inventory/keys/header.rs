//! The key header `<db>.keys`: the [`KeyBundle`] wrapped once per key slot.
//!
//! ```json
//! {"format":1,"inventory_id":"<32 hex>","slots":[
//!   {"kind":"passphrase","kdf":{"format":1,"algorithm":"argon2id","params":{..},"salt":".."},"nonce":"..","wrapped":".."},
//!   {"kind":"recovery","nonce":"..","wrapped":".."}]}
//! ```
//!
//! Each slot holds the same 96-byte bundle wrapped under the slot's own key-encryption key (see [`super::slot`]).
//! Nothing in the header is secret.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::keyfile::{read_key_file, sync_parent_dir};
use super::os_keyring::{load_keyring_key, store_keyring_key};
use super::slot::{kdf_error, passphrase_kek, source_kek, KeyringRef, Slot, SlotKind};
use super::{Key, KeyBundle, KeyError, KeySource, RecoveryKey};
use crate::inventory::kdf::{self, KdfHeader};

/// Version of the key header format.
pub const KEY_HEADER_FORMAT: u32 = 1;

/// The path of the key header of the database at `db`: `<db>.keys`.
pub fn header_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".keys");
    PathBuf::from(name)
}

/// The key header of an inventory: its id and the key slots that each wrap the same [`KeyBundle`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyHeader {
    format: u32,
    inventory_id: String,
    slots: Vec<Slot>,
}

impl KeyHeader {
    /// A header for a new inventory with a fresh random id: one slot for `primary` and one for `recovery`.
    ///
    /// A passphrase must pass the strength check ([`KeyError::WeakPassphrase`]); a key file must exist already
    /// (see [`super::create_key_file`]); for a keyring source a fresh key is generated and stored in the keyring
    /// (account = the inventory id unless the source names one). [`KeyError::RecoveryNotPrimary`] if `primary`
    /// is a recovery key.
    pub fn create(
        bundle: &KeyBundle,
        primary: &KeySource,
        recovery: &RecoveryKey,
    ) -> Result<KeyHeader, KeyError> {
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        Self::build(hex::encode(id), bundle, primary, recovery, None)
    }

    /// A header for the same inventory with new slots: `bundle` (the current one, or a new one after a database
    /// rekey) wrapped for `new_primary` and `new_recovery`. Nothing is written; write it with
    /// [`KeyHeader::write_atomic`].
    ///
    /// For a keyring source without an account the new key goes to a keyring entry this header does not use, so
    /// the current header keeps working until the new one is written; delete the old entry afterwards (see
    /// [`KeyHeader::keyring_entries`]).
    pub fn rewrapped(
        &self,
        bundle: &KeyBundle,
        new_primary: &KeySource,
        new_recovery: &RecoveryKey,
    ) -> Result<KeyHeader, KeyError> {
        Self::build(
            self.inventory_id.clone(),
            bundle,
            new_primary,
            new_recovery,
            Some(self),
        )
    }

    fn build(
        inventory_id: String,
        bundle: &KeyBundle,
        primary: &KeySource,
        recovery: &RecoveryKey,
        previous: Option<&KeyHeader>,
    ) -> Result<KeyHeader, KeyError> {
        let (mut kdf, mut keyring) = (None, None);
        let kek = match primary {
            KeySource::Passphrase(passphrase) => {
                kdf::check_passphrase_strength(passphrase).map_err(kdf_error)?;
                let params = kdf.insert(KdfHeader::generate());
                passphrase_kek(params, passphrase, &inventory_id)?
            }
            KeySource::KeyFile(path) => {
                source_kek(SlotKind::KeyFile, &*read_key_file(path)?, &inventory_id)
            }
            KeySource::Keyring { service, account } => {
                let account = if !account.is_empty() {
                    account.clone()
                } else if previous.is_some_and(|p| p.uses_keyring_account(&inventory_id)) {
                    // Rekey: leave the entry of the current header alone until the new header is written.
                    let mut suffix = [0u8; 4];
                    rand::rngs::OsRng.fill_bytes(&mut suffix);
                    format!("{inventory_id}-{}", hex::encode(suffix))
                } else {
                    inventory_id.clone()
                };
                let key = store_keyring_key(service, &account)?;
                keyring = Some(KeyringRef {
                    service: service.clone(),
                    account,
                });
                source_kek(SlotKind::Keyring, &key, &inventory_id)
            }
            KeySource::Recovery(_) => return Err(KeyError::RecoveryNotPrimary),
        };
        let slot = Slot::seal(primary.kind(), kdf, keyring, &kek, bundle, &inventory_id);
        let recovery_kek = recovery.kek(&inventory_id);
        let recovery_slot = Slot::seal(
            SlotKind::Recovery,
            None,
            None,
            &recovery_kek,
            bundle,
            &inventory_id,
        );
        Ok(KeyHeader {
            format: KEY_HEADER_FORMAT,
            inventory_id,
            slots: vec![slot, recovery_slot],
        })
    }

    /// Unwraps the key bundle with `source`.
    ///
    /// [`KeyError::WrongKey`] if no slot of the source's kind opens, [`KeyError::NoSlot`] if the header has no
    /// slot of that kind, [`KeyError::RecoveryKeyTypo`] for a mistyped recovery key, keyring and key file errors as
    /// they come.
    pub fn unlock(&self, source: &KeySource) -> Result<KeyBundle, KeyError> {
        let kind = source.kind();
        let slots: Vec<&Slot> = self.slots.iter().filter(|s| s.kind == kind).collect();
        if slots.is_empty() {
            return Err(KeyError::NoSlot {
                kind: kind.describe().to_string(),
                available: self
                    .slot_kinds()
                    .iter()
                    .map(|k| k.describe())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let id = &self.inventory_id;
        match source {
            KeySource::Recovery(typed) => {
                let kek = RecoveryKey::parse(typed.expose())?.kek(id);
                self.try_slots(&slots, |_| Ok(Some(kek.clone())))
            }
            KeySource::KeyFile(path) => {
                let kek = source_kek(kind, &*read_key_file(path)?, id);
                self.try_slots(&slots, |_| Ok(Some(kek.clone())))
            }
            KeySource::Passphrase(passphrase) => self.try_slots(&slots, |slot| match &slot.kdf {
                Some(kdf) => passphrase_kek(kdf, passphrase, id).map(Some),
                None => Ok(None),
            }),
            KeySource::Keyring { service, account } => self.try_slots(&slots, |slot| {
                let Some(stored) = &slot.keyring else {
                    return Ok(None);
                };
                // An empty account means "the entry this slot recorded".
                let key = if account.is_empty() {
                    load_keyring_key(&stored.service, &stored.account)?
                } else {
                    load_keyring_key(service, account)?
                };
                Ok(Some(source_kek(kind, &key, id)))
            }),
        }
    }

    /// Tries each slot with the KEK `kek_for` gives it (`None`: skip the slot); the first error is returned only
    /// if no slot opens.
    fn try_slots(
        &self,
        slots: &[&Slot],
        mut kek_for: impl FnMut(&Slot) -> Result<Option<Key>, KeyError>,
    ) -> Result<KeyBundle, KeyError> {
        let mut first_error = None;
        for slot in slots {
            match kek_for(slot) {
                Ok(Some(kek)) => {
                    if let Some(bundle) = slot.open(&kek, &self.inventory_id) {
                        return Ok(bundle);
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or(KeyError::WrongKey))
    }

    /// Reads and validates the header at `path`.
    pub fn read(path: &Path) -> Result<KeyHeader, KeyError> {
        let bad = |reason: String| KeyError::Header {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let header: KeyHeader = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        header.validate().map_err(bad)?;
        Ok(header)
    }

    /// Writes the header to `path` atomically: a temporary file beside it (mode 0600) is written and fsync'd,
    /// renamed over `path`, and the directory is fsync'd. Replaces an existing header.
    pub fn write_atomic(&self, path: &Path) -> Result<(), KeyError> {
        let mut suffix = [0u8; 6];
        rand::rngs::OsRng.fill_bytes(&mut suffix);
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(format!(".tmp-{}", hex::encode(suffix)));
        let tmp = PathBuf::from(tmp_name);
        let mut text = serde_json::to_string_pretty(self).map_err(|e| KeyError::Header {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        text.push('\n');
        let written = (|| {
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&tmp, path)?;
            sync_parent_dir(path)
        })();
        written.map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            KeyError::Io {
                path: path.to_path_buf(),
                source,
            }
        })
    }

    /// The random id of the inventory (32 hex digits); kept across rekeys.
    pub fn inventory_id(&self) -> &str {
        &self.inventory_id
    }

    /// The kinds of the slots, in header order.
    pub fn slot_kinds(&self) -> Vec<SlotKind> {
        self.slots.iter().map(|s| s.kind).collect()
    }

    /// The `(service, account)` keyring entries the keyring slots use.
    pub fn keyring_entries(&self) -> Vec<(String, String)> {
        self.slots
            .iter()
            .filter_map(|s| s.keyring.as_ref())
            .map(|k| (k.service.clone(), k.account.clone()))
            .collect()
    }

    fn uses_keyring_account(&self, account: &str) -> bool {
        self.slots
            .iter()
            .filter_map(|s| s.keyring.as_ref())
            .any(|k| k.account == account)
    }

    fn validate(&self) -> Result<(), String> {
        if self.format != KEY_HEADER_FORMAT {
            return Err(format!(
                "key header format {} is not supported (this Temper reads format {KEY_HEADER_FORMAT})",
                self.format
            ));
        }
        if self.inventory_id.len() != 32
            || !self.inventory_id.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err("the inventory id is not 32 hex digits".into());
        }
        if self.slots.is_empty() {
            return Err("it has no key slots".into());
        }
        for (i, slot) in self.slots.iter().enumerate() {
            slot.validate()
                .map_err(|what| format!("key slot {} ({}): {what}", i + 1, slot.kind.as_str()))?;
        }
        Ok(())
    }
}
