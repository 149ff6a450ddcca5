//! Versioned schema migrations, tracked by `PRAGMA user_version`.
//!
//! [`MIGRATIONS`] is ordered: entry `i` takes the schema from version `i` to `i + 1`. Each runs in its own
//! transaction together with the `user_version` bump, so a failed migration leaves the previous version intact.
//! To change the schema, append one entry; never edit a released one.

use rusqlite::{Connection, TransactionBehavior};

use super::InventoryError;

/// One schema step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// What it does, for error messages.
    pub name: &'static str,
    /// The SQL, run as one batch inside the migration's transaction.
    pub sql: &'static str,
}

/// Every migration, in order. The schema version of a database is the number of entries applied.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "v1: devices, credentials, steps, checks, documents",
        sql: r#"
        CREATE TABLE devices (
            serial       TEXT NOT NULL PRIMARY KEY,
            model        TEXT NOT NULL,
            firmware     TEXT NOT NULL,
            profile_id   TEXT NOT NULL,
            profile_hash TEXT NOT NULL,
            site         TEXT,
            address      TEXT,
            state        TEXT NOT NULL,
            first_seen   INTEGER NOT NULL,
            updated_at   INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE credentials (
            serial           TEXT NOT NULL REFERENCES devices(serial) ON DELETE CASCADE,
            store            TEXT NOT NULL,
            current_username TEXT,
            current_secret   TEXT,
            pending_username TEXT,
            pending_secret   TEXT,
            changed_at       INTEGER,
            PRIMARY KEY (serial, store)
        ) STRICT;
        CREATE TABLE steps (
            serial  TEXT NOT NULL REFERENCES devices(serial) ON DELETE CASCADE,
            step    TEXT NOT NULL,
            state   TEXT NOT NULL,
            message TEXT,
            at      INTEGER NOT NULL,
            PRIMARY KEY (serial, step)
        ) STRICT;
        CREATE TABLE checks (
            serial   TEXT NOT NULL REFERENCES devices(serial) ON DELETE CASCADE,
            phase    TEXT NOT NULL,
            check_id TEXT NOT NULL,
            subject  TEXT NOT NULL,
            record   TEXT NOT NULL,
            PRIMARY KEY (serial, phase, check_id, subject)
        ) STRICT;
        CREATE TABLE documents (
            serial     TEXT NOT NULL REFERENCES devices(serial) ON DELETE CASCADE,
            name       TEXT NOT NULL,
            value      TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (serial, name)
        ) STRICT;
    "#,
    },
    Migration {
        name: "v2: tamper-evident audit trail",
        sql: super::audit::SCHEMA_SQL,
    },
    Migration {
        name: "v3: staging area of an interrupted rekey",
        sql: r#"
        CREATE TABLE rekey_state (
            id          INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
            next_sealed TEXT NOT NULL
        ) STRICT;
        CREATE TABLE rekey_staging (
            serial  TEXT NOT NULL,
            store   TEXT NOT NULL,
            which   TEXT NOT NULL,
            sealed  TEXT NOT NULL,
            PRIMARY KEY (serial, store, which)
        ) STRICT;
    "#,
    },
    Migration {
        name: "v4: station CA (key sealed with the data key) and device certificates",
        sql: r#"
        CREATE TABLE station_ca (
            id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
            cert_pem   TEXT NOT NULL,
            key_sealed TEXT NOT NULL,
            kind       TEXT NOT NULL,
            imported   INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        ) STRICT;
        CREATE TABLE device_certs (
            serial      TEXT NOT NULL REFERENCES devices(serial) ON DELETE CASCADE,
            fingerprint TEXT NOT NULL,
            cert_pem    TEXT NOT NULL,
            not_after   INTEGER NOT NULL,
            state       TEXT NOT NULL,
            at          INTEGER NOT NULL,
            PRIMARY KEY (serial, fingerprint)
        ) STRICT;
    "#,
    },
];

/// The schema version this build creates and reads: the number of migrations.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The schema version of the database (`PRAGMA user_version`).
pub(crate) fn schema_version(conn: &Connection) -> Result<u32, InventoryError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    u32::try_from(version)
        .map_err(|_| InventoryError::Database(format!("invalid schema version {version}")))
}

/// Applies the migrations of `migrations` that the database lacks, each in its own transaction.
/// Returns the resulting version. Refuses a database newer than `migrations` without touching it.
pub(crate) fn migrate(
    conn: &mut Connection,
    migrations: &[Migration],
) -> Result<u32, InventoryError> {
    let latest = migrations.len() as u32;
    let found = schema_version(conn)?;
    if found > latest {
        return Err(InventoryError::SchemaTooNew {
            found,
            supported: latest,
        });
    }
    for (index, migration) in migrations.iter().enumerate().skip(found as usize) {
        let version = index as u32 + 1;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-check inside the write lock: another process may have migrated meanwhile.
        if schema_version(&tx)? >= version {
            continue;
        }
        tx.execute_batch(migration.sql).map_err(|e| {
            InventoryError::Database(format!(
                "schema migration to version {version} ({}) failed: {e}",
                migration.name
            ))
        })?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    schema_version(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAKE_V2: Migration = Migration {
        name: "v2 (test only): device notes",
        sql: "ALTER TABLE devices ADD COLUMN notes TEXT NOT NULL DEFAULT '';",
    };

    const BROKEN_V2: Migration = Migration {
        name: "v2 (test only): broken",
        sql: "CREATE TABLE half_done (x INTEGER); SELECT * FROM no_such_table;",
    };

    fn insert_device(conn: &Connection) {
        conn.execute(
            "INSERT INTO devices VALUES ('SN1', 'm', 'fw', 'p', 'h', NULL, NULL, 'new', 1, 2)",
            [],
        )
        .unwrap();
    }

    #[test]
    fn a_v1_database_migrates_to_a_second_migration_and_keeps_its_data() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(schema_version(&conn).unwrap(), 0);
        assert_eq!(migrate(&mut conn, &MIGRATIONS[..1]).unwrap(), 1);
        insert_device(&conn);

        let with_v2 = [MIGRATIONS[0], FAKE_V2];
        assert_eq!(migrate(&mut conn, &with_v2).unwrap(), 2);
        let (serial, notes): (String, String) = conn
            .query_row("SELECT serial, notes FROM devices", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((serial.as_str(), notes.as_str()), ("SN1", ""));
        // Running again is a no-op.
        assert_eq!(migrate(&mut conn, &with_v2).unwrap(), 2);
    }

    #[test]
    fn a_failed_migration_rolls_back_and_leaves_the_previous_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &MIGRATIONS[..1]).unwrap();
        insert_device(&conn);
        let err = migrate(&mut conn, &[MIGRATIONS[0], BROKEN_V2]).unwrap_err();
        assert!(err.to_string().contains("migration to version 2"), "{err}");
        assert_eq!(schema_version(&conn).unwrap(), 1);
        let half_done: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'half_done'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(half_done, 0, "the failed migration must be rolled back");
        let devices: i64 = conn
            .query_row("SELECT count(*) FROM devices", [], |r| r.get(0))
            .unwrap();
        assert_eq!(devices, 1);
    }

    #[test]
    fn a_newer_database_is_refused_and_left_alone() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &[MIGRATIONS[0], FAKE_V2]).unwrap();
        let err = migrate(&mut conn, &MIGRATIONS[..1]).unwrap_err();
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
        assert_eq!(schema_version(&conn).unwrap(), 2);
    }

    #[test]
    fn schema_version_is_the_number_of_migrations() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn, MIGRATIONS).unwrap(), SCHEMA_VERSION);
    }
}
