//! The key-operation conformance suite (rekey, backup and restore) against the SQLCipher backend.

use std::cell::Cell;
use std::path::PathBuf;

use temper_core::inventory::conformance::{self, KeyedOpen};
use temper_core::inventory::SqlCipherInventory;

fn with_factory(
    check: impl FnOnce(
        &mut dyn FnMut(
            KeyedOpen,
        )
            -> Result<SqlCipherInventory, temper_core::inventory::InventoryError>,
        PathBuf,
    ),
) {
    let dir = tempfile::tempdir().unwrap();
    let count = Cell::new(0usize);
    let path = |n: usize| -> PathBuf { dir.path().join(format!("inventory-{n}.db")) };
    let mut factory = |open: KeyedOpen| match open {
        KeyedOpen::Fresh(key) => {
            count.set(count.get() + 1);
            SqlCipherInventory::create_keyed(path(count.get()), key, "conformance")
                .map(|(inv, _)| inv)
        }
        KeyedOpen::Reopen(key) => {
            SqlCipherInventory::open_keyed(path(count.get()), key, "conformance")
        }
        KeyedOpen::Restore { backup, with } => {
            count.set(count.get() + 1);
            SqlCipherInventory::restore(backup, &path(count.get()), with, "conformance")
        }
    };
    check(&mut factory, dir.path().join("inventory.backup"));
}

#[test]
fn sqlcipher_rekey_keeps_every_secret_and_switches_keys() {
    with_factory(|mut factory, _| {
        conformance::rekey_keeps_every_secret_and_switches_keys(&mut factory)
    });
}

#[test]
fn sqlcipher_backup_restores_with_the_recovery_key_alone() {
    with_factory(|mut factory, backup| {
        conformance::backup_restores_with_the_recovery_key_alone(&mut factory, &backup)
    });
}
