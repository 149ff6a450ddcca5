//! `temper inventory init|rekey|backup|verify-backup|restore`: the inventory's keys and copies.

use std::path::{Path, PathBuf};

use clap::Args;
use temper_core::inventory::keys::{KeyError, KeySource, RecoveryKey};
use temper_core::inventory::{InventoryError, SqlCipherInventory};

use crate::fault::FaultPoint;
use crate::{exit, keys, Failure, Globals};

fn show_recovery_key(globals: &Globals, key: &RecoveryKey, what: &str) {
    let text = key.to_display_string();
    if globals.json {
        println!(
            "{}",
            serde_json::json!({ "event": "recovery-key", "recovery_key": text.expose() })
        );
    } else {
        println!("{what}\n\n    {}\n", text.expose());
        println!("Write it down and keep it apart from this machine: it is shown once, Temper keeps no copy, and it");
        println!("unlocks the inventory (and its backups) if the keyring, key file or passphrase is lost.");
    }
}

/// `temper inventory init`.
pub fn init(globals: &Globals) -> Result<u8, Failure> {
    let path = super::inventory_path(globals);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::new(exit::USAGE, format!("cannot create {}: {e}", dir.display()))
        })?;
    }
    let source = keys::for_create(globals)?;
    let created = SqlCipherInventory::create_keyed(&path, &source, &super::actor(globals));
    let (_, recovery) = created.map_err(|e| match e {
        InventoryError::Key(KeyError::NoKeyring { .. }) if !globals.keyring => Failure::new(
            exit::USAGE,
            format!("no key source for the new inventory: no Secret Service is reachable for the OS keyring\nhelp: {}", keys::HOW_TO),
        ),
        other => super::inventory_failure(other),
    })?;
    eprintln!(
        "Created the inventory {} (unlocked by {}).",
        path.display(),
        source.kind().describe()
    );
    show_recovery_key(globals, &recovery, "Recovery key:");
    Ok(exit::HARDENED)
}

/// `temper inventory rekey`: the new key source.
#[derive(Args)]
pub struct RekeyArgs {
    /// The new key: a passphrase read from this file.
    #[arg(long, group = "new")]
    to_passphrase_file: Option<PathBuf>,
    /// The new key: this key file (created with mode 0600 if missing).
    #[arg(long, group = "new")]
    to_key_file: Option<PathBuf>,
    /// The new key: a fresh key in the OS keyring.
    #[arg(long, group = "new")]
    to_keyring: bool,
}

impl RekeyArgs {
    /// Runs the rekey.
    pub fn run(self, globals: &Globals) -> Result<u8, Failure> {
        let new_globals = Globals {
            inventory: globals.inventory.clone(),
            passphrase_file: self.to_passphrase_file,
            key_file: self.to_key_file,
            keyring: self.to_keyring,
            recovery_key: false,
            actor: globals.actor.clone(),
            profiles: None,
            json: globals.json,
        };
        if new_globals.passphrase_file.is_none()
            && new_globals.key_file.is_none()
            && !new_globals.keyring
        {
            return Err(Failure::new(
                exit::USAGE,
                "name the new key: --to-passphrase-file, --to-key-file or --to-keyring",
            ));
        }
        let new_source: KeySource = keys::for_create(&new_globals)?;
        let mut inventory = super::open_inventory(globals)?;
        let fault = FaultPoint::from_env();
        inventory
            .rekey(
                &new_source,
                &mut |key| {
                    show_recovery_key(
                        globals,
                        key,
                        "New recovery key (the old one stops working):",
                    )
                },
                &mut |phase| fault.reached(&format!("rekey:{phase}")),
            )
            .map_err(super::inventory_failure)?;
        eprintln!(
            "Rekeyed: the inventory now opens with {}.",
            new_source.kind().describe()
        );
        Ok(exit::HARDENED)
    }
}

/// `temper inventory backup FILE`.
pub fn backup(globals: &Globals, file: &Path) -> Result<u8, Failure> {
    let mut inventory = super::open_inventory(globals)?;
    inventory.backup(file).map_err(super::inventory_failure)?;
    eprintln!(
        "Wrote the backup {} (encrypted; it opens with the recovery key alone).",
        file.display()
    );
    Ok(exit::HARDENED)
}

/// `temper inventory verify-backup FILE`.
pub fn verify_backup(globals: &Globals, file: &Path) -> Result<u8, Failure> {
    let source = keys::for_open(globals, &super::inventory_path(globals))?;
    let info =
        SqlCipherInventory::verify_backup(file, &source).map_err(super::inventory_failure)?;
    if globals.json {
        println!(
            "{}",
            serde_json::json!({"ok": true, "inventory_id": info.inventory_id, "devices": info.devices, "audit_events": info.audit_events})
        );
    } else {
        println!(
            "backup ok: inventory {}, {} devices, {} audit events (MAC, database and audit trail verified)",
            info.inventory_id, info.devices, info.audit_events
        );
    }
    Ok(exit::HARDENED)
}

/// `temper inventory restore FILE`.
pub fn restore(globals: &Globals, file: &Path) -> Result<u8, Failure> {
    let path = super::inventory_path(globals);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::new(exit::USAGE, format!("cannot create {}: {e}", dir.display()))
        })?;
    }
    let source = keys::for_open(globals, &path)?;
    SqlCipherInventory::restore(file, &path, &source, &super::actor(globals))
        .map_err(super::inventory_failure)?;
    eprintln!(
        "Restored {} to {}. If it was unlocked with the recovery key, set a new key now: temper inventory rekey --to-...",
        file.display(),
        path.display()
    );
    Ok(exit::HARDENED)
}
