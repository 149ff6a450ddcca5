//! Backups: one self-contained file holding the key header (with its recovery slot), the audit sidecar and the
//! encrypted database, MAC'd with the audit key. A backup opens with the recovery key alone.
//!
//! Layout: `TEMPER-BACKUP-1\n`, then three length-prefixed parts (u64 big-endian length + bytes): key header,
//! sidecar, database; then 32 bytes of HMAC-SHA256 under the audit key over everything before it.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::SqlCipherInventory;
use crate::inventory::audit::{self, AuditAction, NewAuditEvent};
use crate::inventory::keys::{self, KeyHeader, KeySource};
use crate::inventory::{Inventory, InventoryError};

const MAGIC: &[u8] = b"TEMPER-BACKUP-1\n";
const MAC_LABEL: &[u8] = b"temper-backup-v1";

/// What a verified backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// The inventory id of the key header.
    pub inventory_id: String,
    /// Devices in the backed-up database.
    pub devices: usize,
    /// Audit events in the backed-up trail (verified).
    pub audit_events: u64,
}

fn corrupted(what: &str) -> InventoryError {
    InventoryError::Backup {
        message: format!("the backup is corrupted: {what}"),
        help: "use another backup; this file must not be restored".into(),
    }
}

fn mac(key: &[u8; 32], bytes: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(MAC_LABEL);
    mac.update(bytes);
    mac.finalize().into_bytes().into()
}

struct Parts {
    header: Vec<u8>,
    sidecar: Vec<u8>,
    database: Vec<u8>,
    body_len: usize,
    mac: [u8; 32],
}

fn parse(bytes: &[u8]) -> Result<Parts, InventoryError> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| InventoryError::Backup {
            message: "this file is not a Temper inventory backup".into(),
            help: "pass a file written by `temper inventory backup`".into(),
        })?;
    let mut at = 0usize;
    let mut take = |name: &str| -> Result<Vec<u8>, InventoryError> {
        let len_bytes = rest
            .get(at..at + 8)
            .ok_or_else(|| corrupted(&format!("{name} is cut off")))?;
        let len = u64::from_be_bytes(len_bytes.try_into().expect("8 bytes")) as usize;
        let part = rest
            .get(at + 8..at.saturating_add(8).saturating_add(len))
            .ok_or_else(|| corrupted(&format!("{name} is cut off")))?;
        at += 8 + len;
        Ok(part.to_vec())
    };
    let header = take("the key header")?;
    let sidecar = take("the audit sidecar")?;
    let database = take("the database")?;
    let mac: [u8; 32] = rest
        .get(at..at + 32)
        .and_then(|m| m.try_into().ok())
        .ok_or_else(|| corrupted("the MAC is cut off"))?;
    if rest.len() != at + 32 {
        return Err(corrupted("extra bytes after the MAC"));
    }
    Ok(Parts {
        header,
        sidecar,
        database,
        body_len: MAGIC.len() + at,
        mac,
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), InventoryError> {
    let io = |source| InventoryError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

impl SqlCipherInventory {
    /// Writes a backup of this inventory to `dest` (refuses an existing file). The backup is itself an audited
    /// event, recorded before the copy so the backup carries it.
    pub fn backup(&mut self, dest: &Path) -> Result<(), InventoryError> {
        self.ensure_trusted()?;
        if dest.exists() {
            return Err(InventoryError::AlreadyExists {
                path: dest.to_path_buf(),
            });
        }
        let event = NewAuditEvent::new(&self.actor, AuditAction::Backup)
            .detail(serde_json::json!({ "file": dest.display().to_string() }));
        self.append_event(&event)?;
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        let read = |path: PathBuf| {
            std::fs::read(&path).map_err(|source| InventoryError::Io { path, source })
        };
        let header = read(keys::header_path(&self.path))?;
        let sidecar = read(audit::sidecar_path(&self.path))?;
        let database = read(self.path.clone())?;
        let mut out = MAGIC.to_vec();
        for part in [&header, &sidecar, &database] {
            out.extend_from_slice(&(part.len() as u64).to_be_bytes());
            out.extend_from_slice(part);
        }
        let tag = mac(self.keys.audit_key(), &out);
        out.extend_from_slice(&tag);
        let tmp = dest.with_extension("tmp-backup");
        let _ = std::fs::remove_file(&tmp);
        write_file(&tmp, &out)?;
        std::fs::rename(&tmp, dest).map_err(|source| InventoryError::Io {
            path: dest.to_path_buf(),
            source,
        })
    }

    /// Checks a backup with `source` (the recovery key, or a key of the inventory it came from): the MAC, the
    /// database and its audit trail. Writes nothing outside a temporary directory.
    pub fn verify_backup(file: &Path, source: &KeySource) -> Result<BackupInfo, InventoryError> {
        let dir = tempdir_beside(std::env::temp_dir().as_path())?;
        let result = Self::unpack(file, source, &dir.join("inventory.db"), "verify-backup")
            .and_then(|inventory| inventory.backup_info());
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    /// Restores a backup to `dest` (which must not exist) after verifying it with `source`, and records the
    /// restore in the restored inventory's audit trail.
    pub fn restore(
        file: &Path,
        dest: &Path,
        source: &KeySource,
        actor: &str,
    ) -> Result<Self, InventoryError> {
        for path in [
            dest.to_path_buf(),
            keys::header_path(dest),
            audit::sidecar_path(dest),
        ] {
            if path.exists() {
                return Err(InventoryError::AlreadyExists { path });
            }
        }
        let mut inventory = Self::unpack(file, source, dest, actor)?;
        let event = NewAuditEvent::new(actor, AuditAction::Restore)
            .detail(serde_json::json!({ "file": file.display().to_string() }));
        inventory.append_event(&event)?;
        Ok(inventory)
    }

    /// Unpacks a verified backup to `db` and opens it.
    fn unpack(
        file: &Path,
        source: &KeySource,
        db: &Path,
        actor: &str,
    ) -> Result<Self, InventoryError> {
        let bytes = std::fs::read(file).map_err(|source| InventoryError::Io {
            path: file.to_path_buf(),
            source,
        })?;
        let parts = parse(&bytes)?;
        let header_path = keys::header_path(db);
        write_file(&header_path, &parts.header)?;
        let header = KeyHeader::read(&header_path)
            .map_err(|_| corrupted("the key header does not parse"))?;
        let bundle = header.unlock(source)?;
        if mac(bundle.audit_key(), &bytes[..parts.body_len]) != parts.mac {
            let _ = std::fs::remove_file(&header_path);
            return Err(corrupted("its MAC does not match (a byte was changed)"));
        }
        write_file(&audit::sidecar_path(db), &parts.sidecar)?;
        write_file(db, &parts.database)?;
        let inventory = Self::open_keyed(db, source, actor)?;
        if let Some(message) = &inventory.tampered {
            return Err(InventoryError::AuditTampered(message.clone()));
        }
        Ok(inventory)
    }

    fn backup_info(&self) -> Result<BackupInfo, InventoryError> {
        let trail = self.verify_audit()?;
        Ok(BackupInfo {
            inventory_id: self.header.inventory_id().to_string(),
            devices: self.devices()?.len(),
            audit_events: trail.events,
        })
    }
}

/// A fresh private directory under `base`.
fn tempdir_beside(base: &Path) -> Result<PathBuf, InventoryError> {
    use rand::RngCore;
    let mut id = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut id);
    let dir = base.join(format!("temper-verify-{}", hex::encode(id)));
    std::fs::create_dir(&dir).map_err(|source| InventoryError::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

impl crate::inventory::conformance::KeyedInventory for SqlCipherInventory {
    fn rekey(
        &mut self,
        new_primary: &KeySource,
        show_recovery: &mut dyn FnMut(&crate::inventory::keys::RecoveryKey),
        phase: &mut dyn FnMut(&str),
    ) -> Result<(), InventoryError> {
        SqlCipherInventory::rekey(self, new_primary, show_recovery, phase)
    }

    fn backup(&mut self, dest: &Path) -> Result<(), InventoryError> {
        SqlCipherInventory::backup(self, dest)
    }
}
