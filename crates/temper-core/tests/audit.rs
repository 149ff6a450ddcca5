//! The audit trail: a clean trail verifies, every tamper case of the acceptance list is caught at the right
//! sequence number, and the documented limit (rolling back database and sidecar together) is really not caught.
//!
//! Everything sits in `mod audit` so that `cargo test -p temper-core audit` selects all of it. The database is
//! plain SQLite (unkeyed): the trail code does not depend on SQLCipher.

mod audit {
    use std::path::{Path, PathBuf};

    use hmac::{Hmac, Mac};
    use rusqlite::{params, Connection};
    use serde_json::json;
    use sha2::Sha256;
    use temper_core::inventory::audit::{
        self, canonical_json, check_backoff, record_failed_unlock, sidecar_path, AuditAction,
        AuditError, AuditKey, NewAuditEvent, Sidecar,
    };

    const T0: u64 = 1_700_000_000;

    fn key() -> AuditKey {
        AuditKey::from_bytes([0x5a; 32])
    }

    struct Trail {
        _dir: tempfile::TempDir,
        db: PathBuf,
        side: PathBuf,
        conn: Connection,
    }

    impl Trail {
        /// A trail of `n` events, the sidecar signed after each, as the inventory will do it.
        fn new(n: u64) -> Trail {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("inventory.db");
            let conn = Connection::open(&db).unwrap();
            conn.execute_batch(audit::SCHEMA_SQL).unwrap();
            let side = sidecar_path(&db);
            let mut trail = Trail {
                _dir: dir,
                db,
                side,
                conn,
            };
            for _ in 0..n {
                trail.append();
            }
            trail
        }

        fn append(&mut self) {
            let seq = audit::head(&self.conn).unwrap().map_or(1, |h| h.seq + 1);
            let actions = [
                AuditAction::Commission,
                AuditAction::Reveal,
                AuditAction::ProfileLoaded,
            ];
            let event = NewAuditEvent::new("alice", actions[seq as usize % 3])
                .device(format!("SN-{}", seq % 3))
                .detail(json!({ "store": "console-root", "n": seq }));
            let tx = self.conn.transaction().unwrap();
            let stored = audit::append(&tx, &key(), &event, T0 + seq).unwrap();
            tx.commit().unwrap();
            let head = audit::AuditHead {
                seq: stored.seq,
                hash: stored.hash,
            };
            Sidecar::signed(&head, &key())
                .write_atomic(&self.side)
                .unwrap();
        }

        fn sidecar(&self) -> Sidecar {
            Sidecar::read(&self.side).unwrap().expect("sidecar written")
        }

        fn verify(&self) -> Result<audit::VerifiedTrail, AuditError> {
            audit::verify(
                &self.conn,
                &key(),
                Sidecar::read(&self.side).unwrap().as_ref(),
            )
        }

        /// What an attacker with write access to the file does first: drop the append-only guards.
        fn attacker(&self) -> &Connection {
            self.conn
                .execute_batch(
                    "DROP TRIGGER IF EXISTS audit_events_no_update;
                     DROP TRIGGER IF EXISTS audit_events_no_delete;",
                )
                .unwrap();
            &self.conn
        }

        /// Runs `sql` as the attacker.
        fn tamper(&self, sql: &str) {
            self.attacker().execute_batch(sql).unwrap();
        }

        fn reopen(&mut self) {
            self.conn = Connection::open(&self.db).unwrap();
        }
    }

    /// Asserts `result` is `Tampered` at `seq` and that the message names it as `#seq`.
    fn assert_tampered_at<T: std::fmt::Debug>(result: Result<T, AuditError>, seq: u64) -> String {
        let err = result.expect_err("tampering must be detected");
        let message = err.to_string();
        match err {
            AuditError::Tampered { first_bad_seq, .. } => {
                assert_eq!(first_bad_seq, seq, "{message}")
            }
            other => panic!("expected Tampered at #{seq}, got {other:?}"),
        }
        assert!(message.contains(&format!("event #{seq}")), "{message}");
        message
    }

    fn copy(from: &Path, to: &Path) {
        std::fs::copy(from, to).unwrap();
    }

    #[test]
    fn audit_clean_trail_verifies() {
        let trail = Trail::new(10);
        let verified = trail.verify().unwrap();
        assert_eq!(verified.events, 10);
        assert_eq!(verified.head, audit::head(&trail.conn).unwrap());
        assert!(!verified.sidecar_behind);
        let all = audit::list(&trail.conn, None).unwrap();
        assert_eq!(
            all.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=10).collect::<Vec<_>>()
        );
        assert_eq!(all[0].prev_hash, [0u8; 32]);
        assert!(all.windows(2).all(|w| w[1].prev_hash == w[0].hash));
        assert!(all.iter().all(|e| e.expected_hash() == e.hash));
        let sn1 = audit::list(&trail.conn, Some("SN-1")).unwrap();
        assert_eq!(
            sn1.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1, 4, 7, 10]
        );
    }

    #[test]
    fn audit_append_only_guards_refuse_update_and_delete() {
        let trail = Trail::new(3);
        let update = trail
            .conn
            .execute("UPDATE audit_events SET outcome = 'x' WHERE seq = 2", []);
        let delete = trail
            .conn
            .execute("DELETE FROM audit_events WHERE seq = 3", []);
        assert!(update.unwrap_err().to_string().contains("append-only"));
        assert!(delete.unwrap_err().to_string().contains("append-only"));
        trail.verify().unwrap();
    }

    #[test]
    fn audit_edited_event_field_is_detected_at_that_event() {
        let trail = Trail::new(10);
        trail.tamper("UPDATE audit_events SET outcome = 'ok-ish' WHERE seq = 4");
        let message = assert_tampered_at(trail.verify(), 4);
        assert!(message.contains("edited"), "{message}");
    }

    #[test]
    fn audit_edited_detail_is_detected_at_that_event() {
        let trail = Trail::new(10);
        let sql =
            "UPDATE audit_events SET detail = '{\"n\":9,\"store\":\"web-admin\"}' WHERE seq = 9";
        trail.tamper(sql);
        assert_tampered_at(trail.verify(), 9);
    }

    #[test]
    fn audit_deleted_middle_event_is_detected_as_a_gap() {
        let trail = Trail::new(10);
        trail.tamper("DELETE FROM audit_events WHERE seq = 5");
        let message = assert_tampered_at(trail.verify(), 5);
        assert!(message.contains("missing"), "{message}");
    }

    #[test]
    fn audit_deleted_last_events_are_detected_against_the_sidecar() {
        let trail = Trail::new(10);
        trail.tamper("DELETE FROM audit_events WHERE seq >= 8");
        let message = assert_tampered_at(trail.verify(), 8);
        assert!(message.contains("#8 to #10"), "{message}");
    }

    #[test]
    fn audit_deleting_every_event_is_truncation_at_1() {
        let trail = Trail::new(10);
        trail.tamper("DELETE FROM audit_events");
        assert_tampered_at(trail.verify(), 1);
    }

    #[test]
    fn audit_reordered_events_are_detected() {
        let trail = Trail::new(10);
        trail.tamper(
            "UPDATE audit_events SET seq = -1 WHERE seq = 6;
                 UPDATE audit_events SET seq = 6 WHERE seq = 7;
                 UPDATE audit_events SET seq = 7 WHERE seq = -1;",
        );
        assert_tampered_at(trail.verify(), 6);
    }

    /// Edits event 5 and recomputes every hash from there, as anyone who read the source can; `macs` is the key
    /// the attacker signs with, if any.
    fn recompute_chain_after_edit(trail: &Trail, macs: Option<&[u8]>) {
        let conn = trail.attacker();
        let mut events = audit::list(conn, None).unwrap();
        events[4].outcome = "refused".to_string();
        for i in 4..events.len() {
            if i > 4 {
                events[i].prev_hash = events[i - 1].hash;
            }
            events[i].hash = events[i].expected_hash();
            let mac: Vec<u8> = match macs {
                // Re-sign with a key of the attacker's own, exactly as Temper signs: still not the audit key.
                Some(k) => {
                    let mut m = Hmac::<Sha256>::new_from_slice(k).unwrap();
                    m.update(b"temper-audit-event-v1");
                    m.update(&events[i].hash);
                    m.finalize().into_bytes().to_vec()
                }
                None => events[i].mac.to_vec(),
            };
            let e = &events[i];
            conn.execute(
                "UPDATE audit_events SET outcome = ?1, prev_hash = ?2, hash = ?3, mac = ?4 WHERE seq = ?5",
                params![e.outcome, &e.prev_hash[..], &e.hash[..], mac, e.seq as i64],
            )
            .unwrap();
        }
    }

    #[test]
    fn audit_edit_with_recomputed_chain_without_the_key_is_detected_by_the_event_mac() {
        let trail = Trail::new(10);
        recompute_chain_after_edit(&trail, None);
        let message = assert_tampered_at(trail.verify(), 5);
        assert!(message.contains("MAC"), "{message}");
        // Appending after a forged last event is refused too.
        let next = NewAuditEvent::new("alice", AuditAction::Unlocked);
        assert!(audit::append(&trail.conn, &key(), &next, T0 + 99).is_err());
    }

    #[test]
    fn audit_edit_with_recomputed_chain_and_a_wrong_key_is_detected_by_the_event_mac() {
        let trail = Trail::new(10);
        recompute_chain_after_edit(&trail, Some(b"attacker's own key"));
        assert_tampered_at(trail.verify(), 5);
    }

    #[test]
    fn audit_older_database_copy_with_current_sidecar_is_detected() {
        let mut trail = Trail::new(6);
        let old = trail.db.with_extension("old");
        copy(&trail.db, &old);
        for _ in 0..4 {
            trail.append();
        }
        copy(&old, &trail.db);
        trail.reopen();
        let message = assert_tampered_at(trail.verify(), 7);
        assert!(message.contains("older copy of the database"), "{message}");
    }

    /// The limit written in docs/security.md: without an outside record of the head, an earlier consistent
    /// (database, sidecar) pair is indistinguishable from the current one. This test keeps that sentence true.
    #[test]
    fn audit_documented_limit_rolling_back_database_and_sidecar_together_is_not_detected() {
        let mut trail = Trail::new(6);
        let (old_db, old_side) = (
            trail.db.with_extension("old"),
            trail.side.with_extension("old"),
        );
        copy(&trail.db, &old_db);
        copy(&trail.side, &old_side);
        for _ in 0..4 {
            trail.append();
        }
        copy(&old_db, &trail.db);
        copy(&old_side, &trail.side);
        trail.reopen();
        let verified = trail
            .verify()
            .expect("a consistent rollback of both files is NOT detected");
        assert_eq!(verified.events, 6, "events #7..#10 are silently gone");
    }

    #[test]
    fn audit_sidecar_without_the_key_cannot_be_forged() {
        let trail = Trail::new(10);
        let mut flipped = trail.sidecar();
        flipped.head_mac.as_mut().unwrap()[7] ^= 0x01;
        flipped.write_atomic(&trail.side).unwrap();
        let err = trail.verify().unwrap_err();
        assert!(matches!(err, AuditError::SidecarTampered { .. }), "{err:?}");
        assert!(err.is_tampering());

        // Deleting the last events and moving the sidecar's head back to match, without the key.
        trail.tamper("DELETE FROM audit_events WHERE seq >= 8");
        let mut moved = trail.sidecar();
        moved.head = audit::head(&trail.conn).unwrap();
        moved.write_atomic(&trail.side).unwrap();
        assert!(matches!(
            trail.verify(),
            Err(AuditError::SidecarTampered { .. })
        ));

        // Deleting the sidecar (or emptying its head) to hide the truncation.
        Sidecar::empty().write_atomic(&trail.side).unwrap();
        assert!(matches!(
            trail.verify(),
            Err(AuditError::SidecarMissing { events: 7 })
        ));
        std::fs::remove_file(&trail.side).unwrap();
        assert!(matches!(
            trail.verify(),
            Err(AuditError::SidecarMissing { events: 7 })
        ));
    }

    #[test]
    fn audit_empty_trail_without_sidecar_verifies() {
        let trail = Trail::new(0);
        let verified = trail.verify().unwrap();
        assert_eq!((verified.events, verified.head), (0, None));
    }

    #[test]
    fn audit_sidecar_behind_the_database_is_accepted_and_reported() {
        let trail = Trail::new(5);
        let event = NewAuditEvent::new("alice", AuditAction::Backup);
        let stored = audit::append(&trail.conn, &key(), &event, T0 + 6).unwrap();
        let verified = trail.verify().unwrap();
        assert_eq!(verified.events, 6);
        assert!(verified.sidecar_behind);
        assert_eq!(verified.head.unwrap().hash, stored.hash);
    }

    #[test]
    fn audit_failed_unlocks_are_counted_without_the_key_then_moved_into_the_chain() {
        let trail = Trail::new(2);
        for i in 0..3 {
            record_failed_unlock(&trail.side, T0 + 100 + i).unwrap();
        }
        let mut side = trail.sidecar();
        assert_eq!(
            (side.failed_unlocks, side.last_failed_unlock_at),
            (3, T0 + 102)
        );
        trail
            .verify()
            .expect("counting failures keeps the signed head valid");
        assert!(matches!(
            check_backoff(Some(&side), T0 + 102),
            Err(AuditError::TooManyAttempts {
                retry_after_secs: 1
            })
        ));
        check_backoff(Some(&side), T0 + 103).unwrap();

        let failed = side.take_failed_unlocks().expect("3 failures");
        assert_eq!(side.failed_unlocks, 0);
        let tx = trail.conn.unchecked_transaction().unwrap();
        let stored = audit::append(&tx, &key(), &failed.event("alice"), T0 + 200).unwrap();
        tx.commit().unwrap();
        let head = audit::AuditHead {
            seq: stored.seq,
            hash: stored.hash,
        };
        Sidecar::signed(&head, &key())
            .write_atomic(&trail.side)
            .unwrap();

        assert_eq!(trail.verify().unwrap().events, 3);
        assert_eq!(trail.sidecar().failed_unlocks, 0);
        let last = audit::list(&trail.conn, None).unwrap().pop().unwrap();
        assert_eq!(last.action, AuditAction::FailedUnlock);
        assert_eq!(last.detail, json!({ "count": 3, "last_at": T0 + 102 }));
    }

    #[test]
    fn audit_detail_canonicalisation_is_stable_across_key_order() {
        let a: serde_json::Value = serde_json::from_str(
            r#"{"z":1,"a":{"y":[true,null,{"d":2,"c":"x"}],"b":1.5},"m":"é"}"#,
        )
        .unwrap();
        let b: serde_json::Value = serde_json::from_str(
            r#"{"m":"é","a":{"b":1.5,"y":[true,null,{"c":"x","d":2}]},"z":1}"#,
        )
        .unwrap();
        let text = canonical_json(&a);
        assert_eq!(
            text,
            r#"{"a":{"b":1.5,"y":[true,null,{"c":"x","d":2}]},"m":"é","z":1}"#
        );
        assert_eq!(text, canonical_json(&b));
        let reparsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            canonical_json(&reparsed),
            text,
            "canonical text is a fixed point"
        );

        let trail = Trail::new(0);
        let ea = audit::append(
            &trail.conn,
            &key(),
            &NewAuditEvent::new("x", AuditAction::Rekey).detail(a),
            1,
        );
        let mut eb = ea.unwrap();
        eb.detail = b;
        assert_eq!(
            eb.expected_hash(),
            eb.hash,
            "the hash does not depend on key order"
        );
    }
}
