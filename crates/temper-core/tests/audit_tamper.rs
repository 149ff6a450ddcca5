//! The audit-tampering conformance cases against the SQLCipher backend, with an attacker who edits the stored
//! files directly. The attacker unwraps the database key only to reach the encrypted rows (SQLCipher alone would
//! stop it earlier); it never uses the audit key, which is what the trail's protection rests on.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};
use temper_core::inventory::audit::{self, sidecar_path};
use temper_core::inventory::conformance::{self, Open, Tamper};
use temper_core::inventory::keys::{self, KeyHeader, KeySource};
use temper_core::inventory::SqlCipherInventory;
use temper_core::Secret;

const PASSPHRASE: &str = "ledger-walnut-frost-harbor-2290";

fn passphrase() -> Secret {
    Secret::new(PASSPHRASE)
}

/// A raw connection to the encrypted database, with the append-only guards dropped (the attacker can).
fn raw(path: &Path) -> Connection {
    let header = KeyHeader::read(&keys::header_path(path)).unwrap();
    let bundle = header.unlock(&KeySource::Passphrase(passphrase())).unwrap();
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA key = \"x'{}'\";",
        hex::encode(bundle.database_key())
    ))
    .unwrap();
    conn.execute_batch(
        "DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete;",
    )
    .unwrap();
    conn
}

fn without_wal(path: &Path) {
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

struct Attacker {
    saved_db: Option<Vec<u8>>,
    saved_sidecar: Option<Vec<u8>>,
}

impl Attacker {
    fn act(&mut self, path: &Path, how: Tamper) {
        match how {
            Tamper::EditEvent(seq) => {
                raw(path)
                    .execute(
                        "UPDATE audit_events SET outcome = 'forged' WHERE seq = ?1",
                        [seq],
                    )
                    .unwrap();
            }
            Tamper::DeleteEvent(seq) => {
                raw(path)
                    .execute("DELETE FROM audit_events WHERE seq = ?1", [seq])
                    .unwrap();
            }
            Tamper::DeleteFrom(seq) => {
                raw(path)
                    .execute("DELETE FROM audit_events WHERE seq >= ?1", [seq])
                    .unwrap();
            }
            Tamper::SwapEvents(a, b) => {
                let conn = raw(path);
                conn.execute_batch(&format!(
                    "CREATE TEMP TABLE pair AS SELECT * FROM audit_events WHERE seq IN ({a}, {b});
                     UPDATE audit_events SET (at, actor, action, device, outcome, detail, prev_hash, hash, mac) =
                       (SELECT at, actor, action, device, outcome, detail, prev_hash, hash, mac FROM pair
                        WHERE pair.seq = CASE audit_events.seq WHEN {a} THEN {b} ELSE {a} END)
                     WHERE seq IN ({a}, {b});"
                ))
                .unwrap();
            }
            Tamper::EditAndRechain(seq) => {
                let conn = raw(path);
                let mut events = audit::list(&conn, None).unwrap();
                let mut prev = events
                    .iter()
                    .find(|e| e.seq == seq - 1)
                    .map(|e| e.hash)
                    .unwrap_or([0; 32]);
                for event in events.iter_mut().filter(|e| e.seq >= seq) {
                    if event.seq == seq {
                        event.outcome = "forged".into();
                    }
                    event.prev_hash = prev;
                    event.hash = event.expected_hash();
                    prev = event.hash;
                    conn.execute(
                        "UPDATE audit_events SET outcome = ?2, prev_hash = ?3, hash = ?4 WHERE seq = ?1",
                        params![event.seq, event.outcome, event.prev_hash.to_vec(), event.hash.to_vec()],
                    )
                    .unwrap();
                }
            }
            Tamper::SaveDatabase => self.saved_db = Some(std::fs::read(path).unwrap()),
            Tamper::RestoreDatabase => {
                std::fs::write(path, self.saved_db.take().unwrap()).unwrap();
                without_wal(path);
            }
            Tamper::SaveAll => {
                self.saved_db = Some(std::fs::read(path).unwrap());
                self.saved_sidecar = Some(std::fs::read(sidecar_path(path)).unwrap());
            }
            Tamper::RestoreAll => {
                std::fs::write(path, self.saved_db.take().unwrap()).unwrap();
                std::fs::write(sidecar_path(path), self.saved_sidecar.take().unwrap()).unwrap();
                without_wal(path);
            }
        }
    }
}

fn run(check: impl FnOnce(&mut dyn FnMut(Open) -> SqlCipherInventory, &mut dyn FnMut(Tamper))) {
    let dir = tempfile::tempdir().unwrap();
    let count = Cell::new(0usize);
    let path = |n: usize| -> PathBuf { dir.path().join(format!("inventory-{n}.db")) };
    let mut factory = |open: Open| {
        if open == Open::Fresh {
            count.set(count.get() + 1);
        }
        match open {
            Open::Fresh => SqlCipherInventory::create(path(count.get()), &passphrase()).unwrap(),
            Open::Reopen => SqlCipherInventory::open(path(count.get()), &passphrase()).unwrap(),
        }
    };
    let attacker = RefCell::new(Attacker {
        saved_db: None,
        saved_sidecar: None,
    });
    let mut tamper = |how: Tamper| attacker.borrow_mut().act(&path(count.get()), how);
    check(&mut factory, &mut tamper);
}

#[test]
fn sqlcipher_tampering_is_detected_at_the_first_bad_event() {
    run(|mut factory, mut tamper| {
        conformance::tampering_is_detected_at_the_first_bad_event(&mut factory, &mut tamper)
    });
}

#[test]
fn sqlcipher_documented_limit_rolling_back_database_and_sidecar_together_is_not_detected() {
    run(|mut factory, mut tamper| {
        conformance::documented_limit_rolling_back_everything_together_is_not_detected(
            &mut factory,
            &mut tamper,
        )
    });
}
