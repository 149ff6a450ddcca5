//! Conformance: key operations (rekey, backup and restore) that every backend offering them must honour.

use std::path::Path;

use super::sample_device;
use crate::inventory::audit::AuditAction;
use crate::inventory::keys::{KeySource, RecoveryKey};
use crate::inventory::{Inventory, InventoryError};
use crate::Secret;

/// Key operations a backend offers beyond [`Inventory`].
pub trait KeyedInventory: Inventory + Sized {
    /// Replaces the key (see `SqlCipherInventory::rekey`).
    fn rekey(
        &mut self,
        new_primary: &KeySource,
        show_recovery: &mut dyn FnMut(&RecoveryKey),
        phase: &mut dyn FnMut(&str),
    ) -> Result<(), InventoryError>;
    /// Writes a self-contained backup.
    fn backup(&mut self, dest: &Path) -> Result<(), InventoryError>;
}

/// How the key conformance tests reach the store: create it, reopen it, or restore a backup in its place.
pub enum KeyedOpen<'a> {
    /// A new store unlocked by this key.
    Fresh(&'a KeySource),
    /// The store of the latest `Fresh` (or `Restore`), opened with this key.
    Reopen(&'a KeySource),
    /// A new store restored from `backup`, opened with `with`.
    Restore {
        /// The backup file.
        backup: &'a Path,
        /// The key to open it with.
        with: &'a KeySource,
    },
}

fn passphrase(text: &str) -> KeySource {
    KeySource::Passphrase(Secret::new(text))
}

fn seeded<I: KeyedInventory>(
    factory: &mut impl FnMut(KeyedOpen) -> Result<I, InventoryError>,
    key: &KeySource,
) -> I {
    let mut inv = factory(KeyedOpen::Fresh(key)).expect("a fresh store");
    inv.upsert_device(&sample_device("SN-KEYED")).unwrap();
    inv.put_pending(
        "SN-KEYED",
        "web-admin",
        "admin",
        &Secret::new("Current-Secret-1"),
    )
    .unwrap();
    inv.activate_pending("SN-KEYED", "web-admin").unwrap();
    inv.put_pending(
        "SN-KEYED",
        "shell-root",
        "root",
        &Secret::new("Pending-Secret-2"),
    )
    .unwrap();
    inv
}

fn secrets<I: Inventory>(inv: &I) -> Vec<(String, Option<Secret>, Option<Secret>)> {
    inv.credentials("SN-KEYED")
        .unwrap()
        .into_iter()
        .map(|c| (c.store, c.current, c.pending))
        .collect()
}

/// A rekey keeps every secret (current and pending), only the new key and the new recovery key open the store
/// afterwards, and the rekey is on the audit trail.
pub fn rekey_keeps_every_secret_and_switches_keys<I: KeyedInventory>(
    factory: &mut impl FnMut(KeyedOpen) -> Result<I, InventoryError>,
) {
    let old = passphrase("amber-canyon-whistle-9134");
    let new = passphrase("violet-harbor-compass-5520");
    let mut inv = seeded(factory, &old);
    inv.put_station_ca(&super::sample_ca()).unwrap();
    let before = secrets(&inv);
    let mut recovery = None;
    inv.rekey(
        &new,
        &mut |key| recovery = Some(key.to_display_string()),
        &mut |_| {},
    )
    .expect("rekey");
    drop(inv);
    let inv = factory(KeyedOpen::Reopen(&new)).expect("the new key opens the store");
    assert_eq!(secrets(&inv), before, "every secret survives the re-seal");
    assert_eq!(
        inv.station_ca().unwrap().map(|ca| ca.key_pem),
        Some(super::sample_ca().key_pem),
        "the station CA's key survives the re-seal"
    );
    assert!(inv
        .audit_events(None)
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::Rekey));
    inv.verify_audit().unwrap();
    drop(inv);
    assert!(
        matches!(
            factory(KeyedOpen::Reopen(&old)),
            Err(InventoryError::WrongKey)
        ),
        "the old key no longer opens the store"
    );
    let recovery = KeySource::Recovery(recovery.expect("a new recovery key is shown"));
    let inv = factory(KeyedOpen::Reopen(&recovery)).expect("the new recovery key opens the store");
    assert_eq!(secrets(&inv), before);
}

/// A backup restores with the recovery key alone, with every secret and its audit trail (backup and restore
/// events included).
pub fn backup_restores_with_the_recovery_key_alone<I: KeyedInventory>(
    factory: &mut impl FnMut(KeyedOpen) -> Result<I, InventoryError>,
    backup_file: &Path,
) {
    let key = passphrase("saffron-glacier-meadow-6671");
    let mut inv = seeded(factory, &key);
    // A rekey to the same kind of key shows a recovery key this test can keep.
    let mut recovery = None;
    inv.rekey(
        &key,
        &mut |k| recovery = Some(k.to_display_string()),
        &mut |_| {},
    )
    .unwrap();
    let before = secrets(&inv);
    inv.backup(backup_file).expect("backup");
    drop(inv);
    let recovery = KeySource::Recovery(recovery.unwrap());
    let restored = factory(KeyedOpen::Restore {
        backup: backup_file,
        with: &recovery,
    })
    .expect("restore");
    assert_eq!(secrets(&restored), before, "every secret restored");
    let actions: Vec<AuditAction> = restored
        .audit_events(None)
        .unwrap()
        .iter()
        .map(|e| e.action)
        .collect();
    assert!(
        actions.contains(&AuditAction::Backup) && actions.contains(&AuditAction::Restore),
        "{actions:?}"
    );
    restored.verify_audit().unwrap();
}
