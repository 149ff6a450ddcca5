//! The inventory: the conformance suite against SqlCipherInventory, key handling, durability, no plaintext.
//!
//! Everything sits in `mod inventory` so that `cargo test -p temper-core inventory` selects all of it.

mod inventory {
    use std::collections::BTreeMap;
    use std::hash::{Hash, Hasher};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use serde_json::json;
    use temper_core::checks::CheckRecord;
    use temper_core::inventory::conformance::{self, sample_device, Open};
    use temper_core::inventory::keys;
    use temper_core::inventory::{
        leak_scan, DeviceRecord, HardenedState, Inventory, InventoryError, ManualClock,
        SqlCipherInventory, StepState,
    };
    use temper_core::Secret;

    const PASSPHRASE: &str = "correct horse battery staple quantum lighthouse";

    fn passphrase() -> Secret {
        Secret::new(PASSPHRASE)
    }

    /// Every file in `dir` with its bytes.
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    }

    /// Every file in `dir` with its length and a hash of its bytes (readable in a failed assertion).
    fn snapshot(dir: &Path) -> BTreeMap<String, (usize, u64)> {
        files(dir)
            .into_iter()
            .map(|(name, bytes)| {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                bytes.hash(&mut hasher);
                (name, (bytes.len(), hasher.finish()))
            })
            .collect()
    }

    /// The snapshot of every file but the audit sidecar, which counts failed unlocks (by design, see
    /// docs/security.md): a wrong key changes nothing else.
    fn snapshot_but_sidecar(dir: &Path) -> BTreeMap<String, (usize, u64)> {
        let mut all = snapshot(dir);
        all.retain(|name, _| !name.ends_with(".audit"));
        all
    }

    fn failed_unlocks(path: &Path) -> u32 {
        temper_core::inventory::audit::Sidecar::read(&temper_core::inventory::audit::sidecar_path(
            path,
        ))
        .unwrap()
        .map_or(0, |s| s.failed_unlocks)
    }

    fn new_inventory(dir: &Path) -> (PathBuf, SqlCipherInventory) {
        let path = dir.join("inventory.db");
        let inv = SqlCipherInventory::create(&path, &passphrase()).unwrap();
        (path, inv)
    }

    #[test]
    fn sqlcipher_inventory_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let mut count = 0;
        let mut factory = |open: Open| {
            if open == Open::Fresh {
                count += 1;
            }
            let path = dir.path().join(format!("inventory-{count}.db"));
            match open {
                Open::Fresh => SqlCipherInventory::create(&path, &passphrase()).unwrap(),
                Open::Reopen => SqlCipherInventory::open(&path, &passphrase()).unwrap(),
            }
        };
        conformance::run_all(&mut factory);
    }

    #[test]
    fn create_refuses_an_existing_database_or_header() {
        let dir = tempfile::tempdir().unwrap();
        let (path, inv) = new_inventory(dir.path());
        drop(inv);
        let before = snapshot(dir.path());
        match SqlCipherInventory::create(&path, &passphrase()) {
            Err(e @ InventoryError::AlreadyExists { .. }) => {
                assert!(e.to_string().contains("never overwrites"), "{e}")
            }
            other => panic!("expected AlreadyExists, got {other:?}"),
        }
        assert_eq!(snapshot(dir.path()), before);

        let lone_header = dir.path().join("other.db");
        std::fs::write(keys::header_path(&lone_header), b"{}").unwrap();
        assert!(matches!(
            SqlCipherInventory::create(&lone_header, &passphrase()),
            Err(InventoryError::AlreadyExists { path }) if path == keys::header_path(&lone_header)
        ));
        assert!(!lone_header.exists());
    }

    #[test]
    fn create_refuses_a_weak_passphrase_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.db");
        for weak in ["", "password1", "temper2024", "qwertyuiop"] {
            let err = SqlCipherInventory::create(&path, &Secret::new(weak)).unwrap_err();
            let text = err.to_string();
            match err {
                InventoryError::WeakPassphrase { reason } => {
                    assert!(!reason.trim().is_empty(), "no reason for {weak:?}")
                }
                other => panic!("{weak:?} must be refused as weak, got {other:?}"),
            }
            assert!(text.contains("help: "), "{text}");
            assert!(
                weak.is_empty() || !text.contains(weak),
                "the error shows the passphrase: {text}"
            );
        }
        assert!(
            snapshot(dir.path()).is_empty(),
            "a refused create must write nothing"
        );
    }

    #[test]
    fn open_without_an_inventory_says_how_to_make_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.db");
        assert!(!SqlCipherInventory::exists(&path));
        let err = SqlCipherInventory::open(&path, &passphrase()).unwrap_err();
        assert!(matches!(err, InventoryError::NotFound { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("temper commission") && text.contains("--inventory"),
            "{text}"
        );
        assert!(
            snapshot(dir.path()).is_empty(),
            "open must not create a database"
        );
    }

    #[test]
    fn open_without_the_key_header_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let (path, inv) = new_inventory(dir.path());
        drop(inv);
        assert!(SqlCipherInventory::exists(&path));
        std::fs::remove_file(keys::header_path(&path)).unwrap();
        let err = SqlCipherInventory::open(&path, &passphrase()).unwrap_err();
        assert!(
            matches!(err, InventoryError::Key(keys::KeyError::Header { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn a_wrong_key_is_reported_and_changes_nothing_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut inv) = new_inventory(dir.path());
        inv.upsert_device(&sample_device("SN-1")).unwrap();
        inv.put_pending("SN-1", "root", "root", &Secret::new("s3cret-Pending"))
            .unwrap();
        let wrong = Secret::new("wrong horse battery staple quantum lighthouse");

        // While the first handle is open (WAL and shared-memory files present) and after it is closed.
        for open_handle in [true, false] {
            if !open_handle {
                drop(std::mem::replace(
                    &mut inv,
                    SqlCipherInventory::open(&path, &passphrase()).unwrap(),
                ));
            }
            let before = snapshot_but_sidecar(dir.path());
            let counted = failed_unlocks(&path);
            let err = SqlCipherInventory::open(&path, &wrong).unwrap_err();
            assert!(matches!(err, InventoryError::WrongKey), "{err:?}");
            let text = err.to_string();
            let mut lines = text.lines();
            assert_eq!(lines.next(), Some("wrong inventory key"));
            assert!(
                lines.next().is_some_and(|l| l.starts_with("help: ")),
                "{text}"
            );
            assert_eq!(
                snapshot_but_sidecar(dir.path()),
                before,
                "a wrong key changed files on disk"
            );
            assert_eq!(
                failed_unlocks(&path),
                counted + 1,
                "the failed unlock is counted in the sidecar"
            );
        }
        drop(inv);
        let before = snapshot_but_sidecar(dir.path());
        let counted = failed_unlocks(&path);
        assert!(matches!(
            SqlCipherInventory::open(&path, &wrong),
            Err(InventoryError::WrongKey)
        ));
        assert_eq!(
            snapshot_but_sidecar(dir.path()),
            before,
            "a wrong key changed files on disk (no handle open)"
        );
        assert_eq!(failed_unlocks(&path), counted + 1);
        // The right key still works afterwards, and the failed attempts are then on the audit trail.
        let inv = SqlCipherInventory::open(&path, &passphrase()).unwrap();
        assert_eq!(
            failed_unlocks(&path),
            0,
            "moved from the sidecar into the chain"
        );
        let failed: Vec<_> = inv
            .audit_events(None)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == temper_core::inventory::audit::AuditAction::FailedUnlock)
            .collect();
        assert!(
            !failed.is_empty(),
            "failed unlocks are audited at the next unlock"
        );
        inv.verify_audit().unwrap();
        assert_eq!(
            inv.credentials("SN-1").unwrap()[0].pending,
            Some(Secret::new("s3cret-Pending"))
        );
    }

    #[test]
    fn a_second_handle_sees_a_pending_credential_as_soon_as_put_pending_returns() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut first) = new_inventory(dir.path());
        first.upsert_device(&sample_device("SN-1")).unwrap();
        let second = SqlCipherInventory::open(&path, &passphrase()).unwrap();
        first
            .put_pending("SN-1", "console-root", "root", &Secret::new("just-written"))
            .unwrap();
        let seen = second.credentials("SN-1").unwrap();
        assert_eq!(seen[0].pending, Some(Secret::new("just-written")));
        first.activate_pending("SN-1", "console-root").unwrap();
        assert_eq!(
            second.credentials("SN-1").unwrap()[0].current,
            Some(Secret::new("just-written"))
        );
    }

    const CHILD_ENV: &str = "TEMPER_INVENTORY_TEST_CHILD_DB";

    /// Not a test on its own: the child process of the test below. Does nothing unless started by it.
    #[test]
    fn child_process_writes_a_pending_credential_and_waits_to_be_killed() {
        let Some(path) = std::env::var_os(CHILD_ENV) else {
            return;
        };
        let path = PathBuf::from(path);
        let mut inv = SqlCipherInventory::open(&path, &passphrase()).unwrap();
        inv.put_pending(
            "SN-1",
            "console-root",
            "root",
            &Secret::new("from-the-child"),
        )
        .unwrap();
        std::fs::write(path.with_extension("ready"), b"").unwrap();
        std::thread::sleep(Duration::from_secs(120));
    }

    struct KillOnDrop(Child);

    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn another_process_sees_a_pending_credential_while_the_writer_is_still_open_and_after_it_is_killed(
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut inv) = new_inventory(dir.path());
        inv.upsert_device(&sample_device("SN-1")).unwrap();
        drop(inv);
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "inventory::child_process_writes_a_pending_credential_and_waits_to_be_killed",
                "--exact",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut child = KillOnDrop(child);
        let ready = path.with_extension("ready");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready.exists() {
            assert!(
                child.0.try_wait().unwrap().is_none(),
                "the child process ended early"
            );
            assert!(
                Instant::now() < deadline,
                "the child process did not write in time"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let reader = SqlCipherInventory::open(&path, &passphrase()).unwrap();
        assert_eq!(
            reader.credentials("SN-1").unwrap()[0].pending,
            Some(Secret::new("from-the-child"))
        );
        drop(reader);

        child.0.kill().unwrap();
        child.0.wait().unwrap();
        let reader = SqlCipherInventory::open(&path, &passphrase()).unwrap();
        assert_eq!(
            reader.credentials("SN-1").unwrap()[0].pending,
            Some(Secret::new("from-the-child"))
        );
    }

    #[test]
    fn times_come_from_the_injected_clock() {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(1_750_000_000);
        let (_, inv) = new_inventory(dir.path());
        let mut inv = inv.with_clock(clock.clone());
        inv.upsert_device(&sample_device("SN-1")).unwrap();
        inv.put_pending("SN-1", "root", "root", &Secret::new("x"))
            .unwrap();
        clock.advance(5);
        inv.activate_pending("SN-1", "root").unwrap();
        inv.set_step("SN-1", "rotate-credentials", &StepState::Done)
            .unwrap();
        assert_eq!(
            inv.credentials("SN-1").unwrap()[0].changed_at,
            Some(1_750_000_005)
        );
        assert_eq!(inv.steps("SN-1").unwrap()[0].at, 1_750_000_005);
    }

    /// Strings written to the inventory below; none may appear in any file in any encoding.
    const MARKERS: [&str; 11] = [
        "SN-LEAKCHECK-7Q4Z9",
        "Model-Xylophone-88",
        "Firmware-Marimba-3.1",
        "Site-Lighthouse-Quay",
        "198.51.100.77",
        "leakcheck-admin-user",
        "Current-Secret-Quokka-4471",
        "Pending-Secret-Wombat-9932",
        "Document-Marker-Narwhal",
        "Check-Detail-Axolotl",
        PASSPHRASE,
    ];

    fn assert_no_marker_in(dir: &Path) {
        for (name, bytes) in files(dir) {
            for marker in MARKERS {
                if let Some(encoding) = leak_scan::find(&bytes, marker) {
                    panic!("{marker:?} is readable in {name} as {encoding}");
                }
            }
        }
    }

    #[test]
    fn no_inventory_file_holds_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut inv) = new_inventory(dir.path());
        let serial = MARKERS[0];
        let device = DeviceRecord {
            serial: serial.into(),
            model: MARKERS[1].into(),
            firmware: MARKERS[2].into(),
            site: Some(MARKERS[3].into()),
            address: Some(MARKERS[4].into()),
            state: HardenedState::InProgress,
            ..sample_device(serial)
        };
        inv.upsert_device(&device).unwrap();
        inv.put_pending(serial, "web-admin", MARKERS[5], &Secret::new(MARKERS[6]))
            .unwrap();
        inv.activate_pending(serial, "web-admin").unwrap();
        inv.put_pending(serial, "web-admin", MARKERS[5], &Secret::new(MARKERS[7]))
            .unwrap();
        inv.put_document(serial, "report", &json!({ "note": MARKERS[8] }))
            .unwrap();
        let check = CheckRecord {
            detail: MARKERS[9].into(),
            ..conformance::sample_check("c", "s", true)
        };
        inv.put_check(serial, "verify", &check).unwrap();
        inv.set_step(
            serial,
            "verify",
            &StepState::Failed {
                message: MARKERS[9].into(),
            },
        )
        .unwrap();

        let names = snapshot(dir.path()).into_keys().collect::<Vec<_>>();
        for expected in [
            "inventory.db",
            "inventory.db.keys",
            "inventory.db.audit",
            "inventory.db-wal",
            "inventory.db-shm",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing: {names:?}"
            );
        }
        assert_no_marker_in(dir.path());
        drop(inv);
        let inv = SqlCipherInventory::open(&path, &passphrase()).unwrap();
        drop(inv);
        assert_no_marker_in(dir.path());
    }

    #[test]
    fn the_leak_scan_does_find_strings_in_an_unencrypted_sqlite_file() {
        // Control for the test above: the same scan finds the markers in a database written without a key.
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("plain.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (a TEXT, b BLOB)")
            .unwrap();
        conn.execute(
            "INSERT INTO t VALUES (?1, ?2)",
            rusqlite::params![MARKERS[0], MARKERS[6].as_bytes()],
        )
        .unwrap();
        drop(conn);
        let bytes = std::fs::read(dir.path().join("plain.db")).unwrap();
        assert_eq!(leak_scan::find(&bytes, MARKERS[0]), Some("utf-8"));
        assert_eq!(leak_scan::find(&bytes, MARKERS[6]), Some("utf-8"));
    }
}
