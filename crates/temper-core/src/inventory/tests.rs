//! Tests that need the crate internals (migration lists, the raw connection). The public behaviour is tested in
//! `tests/inventory.rs`.

use std::path::Path;

use base64::Engine;
use serde_json::json;

use super::conformance::sample_device;
use super::kdf::{self, KdfHeader};
use super::migrations::{Migration, MIGRATIONS};
use super::{Inventory, InventoryError, SqlCipherInventory, SCHEMA_VERSION};
use crate::Secret;

fn passphrase() -> Secret {
    Secret::new("umbrella-giraffe-pocket-thunder-41")
}

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
fn a_v1_inventory_is_migrated_to_the_latest_schema_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    let mut v1 = SqlCipherInventory::create_with(&path, &passphrase(), &MIGRATIONS[..1]).unwrap();
    assert_eq!(v1.schema_version().unwrap(), 1);
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

    let with_v2 = [MIGRATIONS[0], FAKE_V2];
    let inv = SqlCipherInventory::open_with(&path, &passphrase(), &with_v2).unwrap();
    assert_eq!(inv.schema_version().unwrap(), 2);
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
            InventoryError::SchemaTooNew {
                found: 2,
                supported: 1
            }
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
    let err = SqlCipherInventory::create_with(&path, &passphrase(), &broken).unwrap_err();
    assert!(err.to_string().contains("migration"), "{err}");
    assert!(
        files(dir.path()).is_empty(),
        "left behind: {:?}",
        files(dir.path())
    );
}

#[test]
fn the_key_header_holds_only_format_algorithm_params_and_salt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    drop(SqlCipherInventory::create(&path, &passphrase()).unwrap());
    let header: serde_json::Value =
        serde_json::from_slice(&std::fs::read(kdf::header_path(&path)).unwrap()).unwrap();
    let keys: Vec<&str> = header
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["algorithm", "format", "params", "salt"]);
    assert_eq!(header["format"], json!(1));
    assert_eq!(header["algorithm"], json!("argon2id"));
    assert_eq!(
        header["params"],
        json!({"m_cost_kib": 65536, "t_cost": 3, "p_cost": 1})
    );
    let salt = base64::engine::general_purpose::STANDARD
        .decode(header["salt"].as_str().unwrap())
        .unwrap();
    assert_eq!(salt.len(), 16);
    assert_eq!((kdf::M_COST_KIB, kdf::T_COST, kdf::P_COST), (65_536, 3, 1));

    let other = dir.path().join("other.db");
    drop(SqlCipherInventory::create(&other, &passphrase()).unwrap());
    let other_header = KdfHeader::read(&kdf::header_path(&other)).unwrap();
    assert_ne!(
        other_header.salt,
        header["salt"].as_str().unwrap(),
        "salts must be random per inventory"
    );
}

#[test]
fn the_database_key_is_the_raw_argon2id_key_of_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.db");
    let mut inv = SqlCipherInventory::create(&path, &passphrase()).unwrap();
    inv.upsert_device(&sample_device("SN-RAW")).unwrap();
    drop(inv);
    // Derive the key independently of the inventory code, from the header alone.
    let header = KdfHeader::read(&kdf::header_path(&path)).unwrap();
    let salt = base64::engine::general_purpose::STANDARD
        .decode(&header.salt)
        .unwrap();
    let params = argon2::Params::new(65_536, 3, 1, Some(32)).unwrap();
    let mut key = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(passphrase().expose().as_bytes(), &salt, &mut key)
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex::encode(key)))
        .unwrap();
    let serial: String = conn
        .query_row("SELECT serial FROM devices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(serial, "SN-RAW");
}
