//! Restoring an inventory backup from the reports folder (Settings, under "Back up inventory").
//!
//! The CLI's `temper inventory restore` never writes over an inventory (core refuses an existing one). The app
//! replaces the current inventory, so it first keeps it aside, complete, beside itself:
//! `inventory-before-restore-<time>.db` with its `.keys`, `.audit` (and any `-wal`/`-shm`) files, which together
//! still open with the old key (`TEMPER_INVENTORY=<that file> temper ...`). Order: the backup is verified with
//! the key offered (nothing changes if it does not open or does not verify); the connection is closed; the
//! current files are copied aside and synced; only then are they removed and the backup restored by core
//! (which audits the restore in the restored trail). If the restore fails, the current files are put back.
//! A crash at any point leaves at least one complete copy: the originals, or the copy kept aside.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Serialize;
use temper_core::inventory::{InventoryError, SqlCipherInventory};
use ts_rs::TS;

use crate::app::App;
use crate::error::{ApiError, ErrorCode};
use crate::files::stamp;
use crate::session::Unlock;

/// A backup file in the reports folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct BackupFile {
    /// The file name (what [`App::restore_backup`] takes).
    pub name: String,
    /// Size in bytes.
    #[ts(type = "number")]
    pub size: u64,
    /// When it was last written (Unix seconds).
    #[ts(type = "number")]
    pub modified: u64,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct RestoreResult {
    /// The backup restored.
    pub restored: String,
    /// Where the inventory that was replaced is kept (its database file; its key header and audit sidecar
    /// sit beside it with the same name plus `.keys` and `.audit`).
    pub kept_aside: String,
    /// Devices in the restored inventory.
    #[ts(type = "number")]
    pub devices: u64,
    /// Audit events in the restored trail (verified), before the restore's own event.
    #[ts(type = "number")]
    pub audit_events: u64,
}

/// Backups are the files ending in this (what [`App::backup_inventory`] writes).
const BACKUP_SUFFIX: &str = ".backup";

/// The files that make up the inventory at `db` besides the database itself.
const COMPANIONS: &[&str] = &[".keys", ".audit", ".kdf", "-wal", "-shm", "-journal"];

fn with_suffix(db: &Path, suffix: &str) -> PathBuf {
    let mut name: OsString = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The database and every companion file of the inventory at `db` that exists.
fn inventory_files(db: &Path) -> Vec<(PathBuf, &'static str)> {
    std::iter::once((db.to_path_buf(), ""))
        .chain(COMPANIONS.iter().map(|s| (with_suffix(db, s), *s)))
        .filter(|(p, _)| p.symlink_metadata().is_ok())
        .collect()
}

fn io(what: &str, path: &Path, e: std::io::Error) -> ApiError {
    ApiError::new(
        ErrorCode::Internal,
        format!("cannot {what} {}: {e}", path.display()),
    )
    .help("Check that the inventory folder is writable and the disk has space. Nothing was lost.")
}

/// A plain file name of a backup in the reports folder: no folder part, no `..`, ends in `.backup`.
fn plain_backup_name(name: &str) -> Result<&str, ApiError> {
    let plain = !name.is_empty()
        && !name.contains(['/', '\\', '\0'])
        && name != "."
        && name != ".."
        && Path::new(name).file_name() == Some(std::ffi::OsStr::new(name));
    if !plain || !name.ends_with(BACKUP_SUFFIX) || name.len() == BACKUP_SUFFIX.len() {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            "Only a backup file from the reports folder can be restored.",
        )
        .help("Choose one of the backups listed in Settings."));
    }
    Ok(name)
}

/// Where the inventory at `db` is kept aside: `<stem>-before-restore-<time>[-n].<ext>`, none of whose files
/// exist yet.
fn aside_path(db: &Path) -> PathBuf {
    let dir = db.parent().unwrap_or(Path::new("."));
    let stem = db
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "inventory".into());
    let ext = db
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let base = format!("{stem}-before-restore-{}", stamp());
    (1..)
        .map(|n| {
            let name = if n == 1 {
                format!("{base}{ext}")
            } else {
                format!("{base}-{n}{ext}")
            };
            dir.join(name)
        })
        .find(|p| inventory_files(p).is_empty())
        .expect("some name is free")
}

/// Copies every file of the inventory at `db` to `aside` (synced), then removes the originals. On failure the
/// originals are where they were (a partial copy is removed, a partial removal is put back).
fn keep_aside(db: &Path, aside: &Path) -> Result<(), ApiError> {
    let files = inventory_files(db);
    for (from, suffix) in &files {
        let to = with_suffix(aside, suffix);
        let copied = std::fs::copy(from, &to)
            .and_then(|_| std::fs::File::open(&to))
            .and_then(|f| f.sync_all());
        if let Err(e) = copied {
            for (partial, _) in inventory_files(aside) {
                let _ = std::fs::remove_file(partial);
            }
            return Err(io("keep the current inventory aside as", &to, e));
        }
    }
    sync_dir(db);
    for (from, _) in &files {
        if let Err(e) = std::fs::remove_file(from) {
            let error = io("move aside", from, e);
            put_back(db, aside)?;
            return Err(error);
        }
    }
    sync_dir(db);
    Ok(())
}

/// Puts the inventory kept at `aside` back at `db` after a failed restore (removing what the restore left).
fn put_back(db: &Path, aside: &Path) -> Result<(), ApiError> {
    for (partial, _) in inventory_files(db) {
        std::fs::remove_file(&partial).map_err(|e| io("remove", &partial, e))?;
    }
    for (from, suffix) in inventory_files(aside) {
        let to = with_suffix(db, suffix);
        std::fs::rename(&from, &to).map_err(|e| io("put back", &to, e))?;
    }
    sync_dir(db);
    Ok(())
}

fn sync_dir(db: &Path) {
    if let Some(dir) = db.parent() {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
}

/// The error for a backup that does not open or does not verify.
fn backup_error(error: InventoryError) -> ApiError {
    match error {
        InventoryError::WrongKey => ApiError::new(
            ErrorCode::WrongKey,
            "This key does not open the backup.",
        )
        .help("Use the passphrase (or keyring) the inventory had when the backup was made. Nothing was changed."),
        InventoryError::Backup { message, .. } => ApiError::new(
            ErrorCode::BadBackup,
            format!("This backup cannot be restored: {message}."),
        )
        .help("Use another backup. Nothing was changed."),
        InventoryError::AuditTampered(problem) => ApiError::new(
            ErrorCode::BadBackup,
            format!("This backup's audit trail does not verify: {}", first_line(&problem)),
        )
        .help("Use another backup. Nothing was changed."),
        other => other.into(),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

impl App {
    /// The backups in the reports folder (files ending in `.backup`), newest first.
    pub fn backups(&self) -> Result<Vec<BackupFile>, ApiError> {
        let dir = self.reports_dir()?;
        let entries = std::fs::read_dir(&dir).map_err(|e| io("read", &dir, e))?;
        let mut backups: Vec<BackupFile> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                plain_backup_name(&name).ok()?;
                // Not followed: a link is not a file inside the reports folder.
                let meta = entry.path().symlink_metadata().ok()?;
                if !meta.is_file() {
                    return None;
                }
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs());
                Some(BackupFile {
                    name,
                    size: meta.len(),
                    modified,
                })
            })
            .collect();
        backups.sort_by(|a, b| b.modified.cmp(&a.modified).then(b.name.cmp(&a.name)));
        Ok(backups)
    }

    /// Restores the backup `file_name` (a plain name of a file in the reports folder) over the current
    /// inventory, which must be unlocked and idle. The backup is verified with `unlock` first; the current
    /// inventory is kept aside (see the module docs); the restored inventory is left unlocked, and its audit
    /// trail records the restore.
    pub fn restore_backup(
        &self,
        file_name: &str,
        unlock: Unlock,
    ) -> Result<RestoreResult, ApiError> {
        let name = plain_backup_name(file_name)?;
        let file = self.reports_dir()?.join(name);
        if !file.symlink_metadata().is_ok_and(|m| m.is_file()) {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("There is no backup {name} in the reports folder."),
            ));
        }
        drop(self.session.inventory()?);
        let source = unlock.source();
        let info = SqlCipherInventory::verify_backup(&file, &source).map_err(backup_error)?;
        let mut kept_aside = PathBuf::new();
        self.session.swap_inventory(|db, actor| {
            let aside = aside_path(db);
            keep_aside(db, &aside)?;
            kept_aside = aside.clone();
            SqlCipherInventory::restore(&file, db, &source, actor).map_err(|error| {
                let error = backup_error(error);
                match put_back(db, &aside) {
                    Ok(()) => ApiError {
                        help: Some(format!(
                            "The current inventory was put back. Unlock it again. ({})",
                            error.help.as_deref().unwrap_or("")
                        )),
                        ..error
                    },
                    Err(put) => ApiError::new(
                        ErrorCode::Internal,
                        format!("The restore failed ({}) and the current inventory could not be put back ({}).", error.message, put.message),
                    )
                    .help(format!("Nothing is lost: the inventory is kept as {}. Copy it and its .keys and .audit files back by hand.", aside.display())),
                }
            })
        })?;
        Ok(RestoreResult {
            restored: name.to_string(),
            kept_aside: kept_aside.display().to_string(),
            devices: info.devices as u64,
            audit_events: info.audit_events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::AppConfig;
    use crate::session::SecretInput;
    use temper_core::inventory::{DeviceRecord, HardenedState, Inventory};
    use temper_core::Secret;

    const PASSPHRASE: &str = "correct horse battery staple quarry";

    fn passphrase(text: &str) -> Unlock {
        Unlock::Passphrase {
            passphrase: SecretInput(Secret::new(text)),
        }
    }

    fn app(dir: &Path) -> App {
        let config = AppConfig::for_test(dir, "data/inv.db");
        let app = App::new(config).expect("app");
        app.create_inventory(passphrase(PASSPHRASE))
            .expect("create");
        app
    }

    fn add_device(app: &App, serial: &str) {
        let mut inventory = app.session.inventory().unwrap();
        inventory
            .upsert_device(&DeviceRecord {
                serial: serial.into(),
                model: "SV-IPC2100".into(),
                firmware: "1.0".into(),
                profile_id: "ipcam".into(),
                profile_hash: "0".repeat(64),
                site: None,
                address: None,
                state: HardenedState::Hardened,
                first_seen: 1,
                updated_at: 1,
            })
            .unwrap();
    }

    fn serials(app: &App) -> Vec<String> {
        let inventory = app.session.inventory().unwrap();
        let devices = inventory.devices().unwrap();
        devices.into_iter().map(|d| d.serial).collect()
    }

    /// Guards restore in the app: a wrong key or a damaged file changes nothing; the right key replaces the
    /// inventory, keeps the old one aside complete (it opens with its key and still has the newer device),
    /// leaves the restored one unlocked and audits the restore; names outside the reports folder are refused.
    #[test]
    fn restore_verifies_first_and_keeps_the_current_inventory_aside() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        add_device(&app, "BEFORE");
        let path = app.backup_inventory().expect("backup");
        let name = Path::new(&path)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        add_device(&app, "AFTER");

        let listed = app.backups().unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].name, name);
        assert!(listed[0].size > 0 && listed[0].modified > 0);

        let wrong = app
            .restore_backup(&name, passphrase("not the passphrase at all"))
            .unwrap_err();
        assert_eq!(wrong.code, ErrorCode::WrongKey, "{wrong:?}");
        let mut bytes = std::fs::read(&path).unwrap();
        let damaged = dir.path().join("reports/damaged.backup");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(&damaged, &bytes).unwrap();
        let bad = app
            .restore_backup("damaged.backup", passphrase(PASSPHRASE))
            .unwrap_err();
        assert_eq!(bad.code, ErrorCode::BadBackup, "{bad:?}");
        let outside = app
            .restore_backup("../data/inv.db", passphrase(PASSPHRASE))
            .unwrap_err();
        assert_eq!(outside.code, ErrorCode::Invalid);
        let missing = app
            .restore_backup("gone.backup", passphrase(PASSPHRASE))
            .unwrap_err();
        assert_eq!(missing.code, ErrorCode::NotFound);
        assert_eq!(serials(&app), ["AFTER", "BEFORE"], "nothing changed so far");

        let busy = app.session.inventory().unwrap();
        let refused = app
            .restore_backup(&name, passphrase(PASSPHRASE))
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::Busy);
        drop(busy);

        let result = app
            .restore_backup(&name, passphrase(PASSPHRASE))
            .expect("restore");
        assert_eq!(result.restored, name);
        assert_eq!(result.devices, 1);
        assert!(app.lock_status().unlocked);
        assert_eq!(serials(&app), ["BEFORE"]);
        let inventory = app.session.inventory().unwrap();
        let actions: Vec<String> = inventory
            .audit_events(None)
            .unwrap()
            .iter()
            .map(|e| e.action.as_str().to_string())
            .collect();
        assert_eq!(
            actions.last().map(String::as_str),
            Some("restore"),
            "{actions:?}"
        );
        drop(inventory);

        let aside = PathBuf::from(&result.kept_aside);
        assert!(aside.starts_with(dir.path().join("data")), "{aside:?}");
        let old = SqlCipherInventory::open_keyed(
            &aside,
            &temper_core::inventory::keys::KeySource::Passphrase(Secret::new(PASSPHRASE)),
            "test",
        )
        .expect("the inventory kept aside opens with its key");
        let old_serials: Vec<String> = old
            .devices()
            .unwrap()
            .into_iter()
            .map(|d| d.serial)
            .collect();
        assert_eq!(old_serials, ["AFTER", "BEFORE"]);
    }

    #[test]
    fn restore_needs_the_inventory_unlocked() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let path = app.backup_inventory().expect("backup");
        let name = Path::new(&path)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        app.lock();
        let e = app
            .restore_backup(&name, passphrase(PASSPHRASE))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Locked);
    }

    #[test]
    fn only_plain_backup_names_are_accepted() {
        for bad in [
            "",
            ".backup",
            "../inventory.db",
            "../x.backup",
            "a/b.backup",
            "/etc/passwd",
            "..\\x.backup",
            "x.backup\0",
            "inventory.db",
            "..",
        ] {
            let e = plain_backup_name(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::Invalid, "{bad:?}");
        }
        assert!(plain_backup_name("temper-inventory-20250101-120000.backup").is_ok());
    }
}
