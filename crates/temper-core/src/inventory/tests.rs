//! Tests that need the crate internals (migration lists, the raw connection). The public behaviour is tested in
//! `tests/inventory.rs`.

use std::path::Path;

use super::conformance::sample_device;
use super::keys::{self, KeySource};
use super::migrations::{Migration, MIGRATIONS};
use super::{Inventory, InventoryError, SqlCipherInventory, SCHEMA_VERSION};
use crate::Secret;

fn passphrase() -> Secret {
    Secret::new("umbrella-giraffe-pocket-thunder-41")
}

fn source() -> KeySource {
    KeySource::Passphrase(passphrase())
}

/// Migrations up to and including the audit trail: the oldest schema `create` can still write to.
const OLDEST: usize = 2;

const FAKE_V2: Migration = Migration {
    name: "v2 (test only): device notes",
    sql: "ALTER TABLE devices ADD COLUMN notes TEXT NOT NULL DEFAULT '';",
};

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    all.sort();
    all
}

#[test]
fn an_older_inventory_is_migrated_to_the_latest_schema_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    let (mut v1, _) =
        SqlCipherInventory::create_with(&path, &source(), "test", &MIGRATIONS[..OLDEST]).unwrap();
    assert_eq!(v1.schema_version().unwrap(), OLDEST as u32);
    v1.upsert_device(&sample_device("SN-OLD")).unwrap();
    drop(v1);

    let inv = SqlCipherInventory::open(&path, &passphrase()).unwrap();
    assert_eq!(inv.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(inv.device("SN-OLD").unwrap(), Some(sample_device("SN-OLD")));
}

#[test]
fn an_encrypted_inventory_takes_a_second_migration_and_an_older_build_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    let mut inv = SqlCipherInventory::create(&path, &passphrase()).unwrap();
    inv.upsert_device(&sample_device("SN-1")).unwrap();
    drop(inv);

    let mut with_v2 = MIGRATIONS.to_vec();
    with_v2.push(FAKE_V2);
    let newer = with_v2.len() as u32;
    let inv = SqlCipherInventory::open_with(&path, &source(), "test", &with_v2).unwrap();
    assert_eq!(inv.schema_version().unwrap(), newer);
    let notes: String = inv
        .connection()
        .query_row("SELECT notes FROM devices WHERE serial = 'SN-1'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(notes, "");
    drop(inv);

    let before = files(dir.path());
    let err = SqlCipherInventory::open(&path, &passphrase()).unwrap_err();
    assert!(
        matches!(
            err,
            InventoryError::SchemaTooNew { found, supported }
                if found == newer && supported == SCHEMA_VERSION
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade Temper"), "{err}");
    assert_eq!(
        files(dir.path()),
        before,
        "refusing a newer schema must not change the files"
    );
}

#[test]
fn connections_use_the_required_pragmas() {
    let dir = tempfile::tempdir().unwrap();
    let inv = SqlCipherInventory::create(dir.path().join("inventory.db"), &passphrase()).unwrap();
    let conn = inv.connection();
    let text =
        |name: &str| -> String { conn.pragma_query_value(None, name, |r| r.get(0)).unwrap() };
    let int = |name: &str| -> i64 { conn.pragma_query_value(None, name, |r| r.get(0)).unwrap() };
    assert_eq!(text("journal_mode"), "wal");
    assert_eq!(int("synchronous"), 2, "synchronous must be FULL");
    assert_eq!(int("temp_store"), 2, "temp_store must be MEMORY");
    assert_eq!(int("foreign_keys"), 1);
    assert_eq!(int("user_version"), i64::from(SCHEMA_VERSION));
}

#[test]
fn a_failed_create_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    let broken = [Migration {
        name: "broken",
        sql: "SELECT * FROM no_such_table;",
    }];
    let err = SqlCipherInventory::create_with(&path, &source(), "test", &broken).unwrap_err();
    assert!(err.to_string().contains("migration"), "{err}");
    assert!(
        files(dir.path()).is_empty(),
        "left behind: {:?}",
        files(dir.path())
    );
}

#[test]
fn the_database_key_is_the_bundle_key_of_the_header_not_the_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    let mut inv = SqlCipherInventory::create(&path, &passphrase()).unwrap();
    inv.upsert_device(&sample_device("SN-RAW")).unwrap();
    drop(inv);
    // Unwrap the bundle from the header alone and key a plain connection with its database key.
    let header = keys::KeyHeader::read(&keys::header_path(&path)).unwrap();
    let bundle = header.unlock(&source()).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{}'\";",
        hex::encode(bundle.database_key())
    ))
    .unwrap();
    let serial: String = conn
        .query_row("SELECT serial FROM devices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(serial, "SN-RAW");
    // Secret columns are sealed: even with the database key they are not plaintext.
}
