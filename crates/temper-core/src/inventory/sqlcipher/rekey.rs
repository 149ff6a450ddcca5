//! Rekey: a new inventory key (and recovery key) and a new data key that re-seals every secret, atomically.
//!
//! The key header is the single switch point. Before it is replaced, the re-sealed secrets wait in
//! `rekey_staging` beside the new data key sealed under the old one (`rekey_state`), committed in one
//! transaction; then the new header is written atomically; then one transaction moves the staged secrets into
//! place. A crash before the header is replaced leaves the old inventory as it was (the old key opens it and the
//! staging is discarded); a crash after it leaves the new key opening an inventory whose open finishes the move.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::{sealing, SqlCipherInventory};
use crate::inventory::audit::{AuditAction, NewAuditEvent};
use crate::inventory::keys::{self, KeyHeader, KeySource, RecoveryKey};
use crate::inventory::InventoryError;

const NEXT_KEY_AAD: &[u8] = b"temper-rekey-next-data-key-v1";

impl SqlCipherInventory {
    /// Replaces the inventory key with `new_primary` and the recovery key with a new one, and re-seals every
    /// secret under a new data key. `show_recovery` receives the new recovery key BEFORE anything changes (show
    /// it to the user: it becomes valid when the new header is written). `phase` is called after each durable
    /// phase (`staged`, `header-written`, `done`) so tests can interrupt the rekey there.
    pub fn rekey(
        &mut self,
        new_primary: &KeySource,
        show_recovery: &mut dyn FnMut(&RecoveryKey),
        phase: &mut dyn FnMut(&str),
    ) -> Result<(), InventoryError> {
        self.ensure_trusted()?;
        let next = self.keys.with_new_data_key();
        let recovery = RecoveryKey::generate();
        let new_header = self.header.rewrapped(&next, new_primary, &recovery)?;
        show_recovery(&recovery);

        // 1. Stage: every secret re-sealed under the next data key, and that key sealed under the current one.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM rekey_staging", [])?;
        tx.execute("DELETE FROM rekey_state", [])?;
        let sealed_next = keys::seal(self.keys.data_key(), next.data_key(), NEXT_KEY_AAD);
        tx.execute(
            "INSERT INTO rekey_state (id, next_sealed) VALUES (1, ?1)",
            [hex::encode(sealed_next)],
        )?;
        let rows: Vec<(String, String, Option<String>, Option<String>)> = {
            let mut stmt = tx
                .prepare("SELECT serial, store, current_secret, pending_secret FROM credentials")?;
            let mapped =
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            mapped.collect::<Result<_, _>>()?
        };
        for (serial, store, current, pending) in rows {
            for (which, sealed) in [("current", current), ("pending", pending)] {
                let Some(sealed) = sealed else { continue };
                let secret = sealing::open(&self.keys, &serial, &store, which, &sealed)?;
                let resealed = sealing::seal(&next, &serial, &store, which, &secret);
                tx.execute(
                    "INSERT INTO rekey_staging (serial, store, which, sealed) VALUES (?1, ?2, ?3, ?4)",
                    params![serial, store, which, resealed],
                )?;
            }
        }
        // The station CA's key, sealed like a credential.
        let ca_sealed: Option<String> = tx
            .query_row("SELECT key_sealed FROM station_ca WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(sealed) = ca_sealed {
            let (serial, store, which) = super::certs::CA_ROW;
            let key = sealing::open(&self.keys, serial, store, which, &sealed)?;
            let resealed = sealing::seal(&next, serial, store, which, &key);
            tx.execute(
                "INSERT INTO rekey_staging (serial, store, which, sealed) VALUES (?1, ?2, ?3, ?4)",
                params![serial, store, which, resealed],
            )?;
        }
        tx.commit()?;
        phase("staged");

        // 2. Switch: the new header, atomically.
        let old_entries = self.header.keyring_entries();
        new_header.write_atomic(&keys::header_path(&self.path))?;
        self.keys = next;
        self.header = new_header;
        phase("header-written");

        // 3. Move the staged secrets into place, audited.
        self.finish_rekey(new_primary.kind().as_str())?;
        for (service, account) in old_entries {
            if !self
                .header
                .keyring_entries()
                .contains(&(service.clone(), account.clone()))
            {
                if let Err(error) = keys::delete_keyring_key(&service, &account) {
                    tracing::warn!(%error, "could not delete the old keyring entry");
                }
            }
        }
        phase("done");
        Ok(())
    }

    /// Moves staged secrets into place (the current data key must be the staged one).
    fn finish_rekey(&mut self, source_kind: &str) -> Result<(), InventoryError> {
        let now = self.clock.now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE credentials SET current_secret = (SELECT sealed FROM rekey_staging s
                 WHERE s.serial = credentials.serial AND s.store = credentials.store AND s.which = 'current')
             WHERE current_secret IS NOT NULL",
            [],
        )?;
        tx.execute(
            "UPDATE credentials SET pending_secret = (SELECT sealed FROM rekey_staging s
                 WHERE s.serial = credentials.serial AND s.store = credentials.store AND s.which = 'pending')
             WHERE pending_secret IS NOT NULL",
            [],
        )?;
        let (serial, store, which) = super::certs::CA_ROW;
        tx.execute(
            "UPDATE station_ca SET key_sealed = (SELECT sealed FROM rekey_staging
                 WHERE serial = ?1 AND store = ?2 AND which = ?3)
             WHERE id = 1 AND EXISTS (SELECT 1 FROM rekey_staging WHERE serial = ?1 AND store = ?2 AND which = ?3)",
            params![serial, store, which],
        )?;
        tx.execute("DELETE FROM rekey_staging", [])?;
        tx.execute("DELETE FROM rekey_state", [])?;
        let event = NewAuditEvent::new(&self.actor, AuditAction::Rekey)
            .detail(serde_json::json!({ "new_key_source": source_kind }));
        let appended = crate::inventory::audit::append(&tx, &self.audit_key, &event, now)?;
        tx.commit()?;
        self.sign_head(&crate::inventory::audit::AuditHead {
            seq: appended.seq,
            hash: appended.hash,
        })
    }

    /// At open: finishes or discards a rekey that a crash interrupted.
    pub(super) fn resume_rekey(&mut self) -> Result<(), InventoryError> {
        let staged: Option<String> = self
            .conn
            .query_row(
                "SELECT next_sealed FROM rekey_state WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let Some(staged) = staged else { return Ok(()) };
        let sealed = hex::decode(&staged)
            .map_err(|_| InventoryError::Database("the staged rekey state is damaged".into()))?;
        if keys::open(self.keys.data_key(), &sealed, NEXT_KEY_AAD).is_ok() {
            // The old header is still in place: the rekey never switched. Discard the staging.
            self.conn.execute_batch(
                "BEGIN IMMEDIATE; DELETE FROM rekey_staging; DELETE FROM rekey_state; COMMIT;",
            )?;
            tracing::info!("discarded an interrupted rekey that had not switched keys");
            Ok(())
        } else {
            // The new header was written: finish moving the secrets sealed under the new data key.
            let kinds: Vec<&str> = self
                .header
                .slot_kinds()
                .iter()
                .map(|k| k.as_str())
                .collect();
            self.finish_rekey(&format!("resumed ({})", kinds.join(", ")))
        }
    }

    /// The header of this inventory (for tests and the CLI).
    pub fn header(&self) -> &KeyHeader {
        &self.header
    }
}
