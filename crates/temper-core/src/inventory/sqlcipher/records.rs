//! The [`Inventory`] operations of [`SqlCipherInventory`]: one SQL statement (in one transaction) each.

use rusqlite::types::Type;
use rusqlite::{params, OptionalExtension, Row};

use super::{sealing, SqlCipherInventory};
use crate::checks::CheckRecord;
use crate::inventory::audit::{self, AuditAction, AuditEvent, NewAuditEvent, VerifiedTrail};
use crate::inventory::{
    CredentialRecord, DeviceRecord, HardenedState, Inventory, InventoryError, StepRecord, StepState,
};
use crate::Secret;

/// Reads a device state column (kept private: no rusqlite trait on a public type).
fn state_at(row: &Row<'_>, index: usize) -> rusqlite::Result<HardenedState> {
    let name = row.get_ref(index)?.as_str()?;
    HardenedState::parse(name).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            Type::Text,
            format!("unknown device state {name:?}").into(),
        )
    })
}

const DEVICE_COLUMNS: &str =
    "serial, model, firmware, profile_id, profile_hash, site, address, state, first_seen, updated_at";

fn device_from_row(row: &Row<'_>) -> rusqlite::Result<DeviceRecord> {
    Ok(DeviceRecord {
        serial: row.get(0)?,
        model: row.get(1)?,
        firmware: row.get(2)?,
        profile_id: row.get(3)?,
        profile_hash: row.get(4)?,
        site: row.get(5)?,
        address: row.get(6)?,
        state: state_at(row, 7)?,
        first_seen: row.get(8)?,
        updated_at: row.get(9)?,
    })
}

impl Inventory for SqlCipherInventory {
    fn upsert_device(&mut self, device: &DeviceRecord) -> Result<(), InventoryError> {
        self.ensure_trusted()?;
        self.conn.execute(
            &format!(
                "INSERT INTO devices ({DEVICE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(serial) DO UPDATE SET model = excluded.model, firmware = excluded.firmware,
                   profile_id = excluded.profile_id, profile_hash = excluded.profile_hash, site = excluded.site,
                   address = excluded.address, state = excluded.state, updated_at = excluded.updated_at"
            ),
            params![
                device.serial,
                device.model,
                device.firmware,
                device.profile_id,
                device.profile_hash,
                device.site,
                device.address,
                device.state.as_str(),
                device.first_seen,
                device.updated_at
            ],
        )?;
        Ok(())
    }

    fn device(&self, serial: &str) -> Result<Option<DeviceRecord>, InventoryError> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE serial = ?1");
        Ok(self
            .conn
            .query_row(&sql, [serial], device_from_row)
            .optional()?)
    }

    fn devices(&self) -> Result<Vec<DeviceRecord>, InventoryError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices ORDER BY serial"
        ))?;
        let rows = stmt.query_map([], device_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn put_pending(
        &mut self,
        serial: &str,
        store: &str,
        username: &str,
        secret: &Secret,
    ) -> Result<(), InventoryError> {
        let event = NewAuditEvent::new(&self.actor, AuditAction::CredentialPending)
            .device(serial)
            .detail(serde_json::json!({ "store": store, "username": username }));
        self.write_for(serial, Some(event), |tx, _now, keys| {
            let sealed = sealing::seal(keys, serial, store, "pending", secret);
            tx.execute(
                "INSERT INTO credentials (serial, store, pending_username, pending_secret) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(serial, store) DO UPDATE SET pending_username = excluded.pending_username,
                   pending_secret = excluded.pending_secret",
                params![serial, store, username, sealed],
            )?;
            Ok(())
        })
    }

    fn activate_pending(&mut self, serial: &str, store: &str) -> Result<(), InventoryError> {
        let event = NewAuditEvent::new(&self.actor, AuditAction::CredentialActive)
            .device(serial)
            .detail(serde_json::json!({ "store": store }));
        self.write_for(serial, Some(event), |tx, now, keys| {
            let pending: Option<String> = tx
                .query_row(
                    "SELECT pending_secret FROM credentials WHERE serial = ?1 AND store = ?2",
                    [serial, store],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            let Some(pending) = pending else {
                return Err(InventoryError::NoPending {
                    serial: serial.to_string(),
                    store: store.to_string(),
                });
            };
            let secret = sealing::open(keys, serial, store, "pending", &pending)?;
            let current = sealing::seal(keys, serial, store, "current", &secret);
            tx.execute(
                "UPDATE credentials SET current_username = pending_username, current_secret = ?3,
                   pending_username = NULL, pending_secret = NULL, changed_at = ?4
                 WHERE serial = ?1 AND store = ?2",
                params![serial, store, current, now],
            )?;
            Ok(())
        })
    }

    fn credentials(&self, serial: &str) -> Result<Vec<CredentialRecord>, InventoryError> {
        let mut stmt = self.conn.prepare(
            "SELECT store, CASE WHEN current_secret IS NOT NULL THEN current_username ELSE pending_username END,
                    current_secret, pending_secret, changed_at
             FROM credentials WHERE serial = ?1 ORDER BY store",
        )?;
        let rows = stmt.query_map([serial], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, Option<u64>>(4)?,
            ))
        })?;
        let mut records = Vec::new();
        for row in rows {
            let (store, username, current, pending, changed_at) = row?;
            let open = |which: &str, sealed: Option<String>| {
                sealed
                    .map(|s| sealing::open(&self.keys, serial, &store, which, &s))
                    .transpose()
            };
            records.push(CredentialRecord {
                current: open("current", current)?,
                pending: open("pending", pending)?,
                store,
                username: username.unwrap_or_default(),
                changed_at,
            });
        }
        Ok(records)
    }

    fn set_step(
        &mut self,
        serial: &str,
        step: &str,
        state: &StepState,
    ) -> Result<(), InventoryError> {
        let (name, message) = match state {
            StepState::Done => ("done", None),
            StepState::Failed { message } => ("failed", Some(message.as_str())),
        };
        self.write_for(serial, None, |tx, now, _keys| {
            tx.execute(
                "INSERT INTO steps (serial, step, state, message, at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(serial, step) DO UPDATE SET state = excluded.state, message = excluded.message,
                   at = excluded.at",
                params![serial, step, name, message, now],
            )?;
            Ok(())
        })
    }

    fn steps(&self, serial: &str) -> Result<Vec<StepRecord>, InventoryError> {
        let mut stmt = self.conn.prepare(
            "SELECT step, state, message, at FROM steps WHERE serial = ?1 ORDER BY step",
        )?;
        let rows = stmt.query_map([serial], |row| {
            let state: String = row.get(1)?;
            let state = match state.as_str() {
                "done" => StepState::Done,
                "failed" => StepState::Failed {
                    message: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                },
                other => {
                    return Err(rusqlite::Error::FromSqlConversionFailure(
                        1,
                        Type::Text,
                        format!("unknown step state {other:?}").into(),
                    ))
                }
            };
            Ok(StepRecord {
                step: row.get(0)?,
                state,
                at: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn put_check(
        &mut self,
        serial: &str,
        phase: &str,
        check: &CheckRecord,
    ) -> Result<(), InventoryError> {
        let record = serde_json::to_string(check)?;
        self.write_for(serial, None, |tx, _now, _keys| {
            tx.execute(
                "INSERT INTO checks (serial, phase, check_id, subject, record) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(serial, phase, check_id, subject) DO UPDATE SET record = excluded.record",
                params![serial, phase, check.id, check.subject, record],
            )?;
            Ok(())
        })
    }

    fn checks(&self, serial: &str) -> Result<Vec<(String, CheckRecord)>, InventoryError> {
        let mut stmt = self.conn.prepare(
            "SELECT phase, record FROM checks WHERE serial = ?1 ORDER BY phase, check_id, subject",
        )?;
        let rows = stmt.query_map([serial], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut checks = Vec::new();
        for row in rows {
            let (phase, record) = row?;
            checks.push((phase, serde_json::from_str(&record)?));
        }
        Ok(checks)
    }

    fn put_document(
        &mut self,
        serial: &str,
        name: &str,
        value: &serde_json::Value,
    ) -> Result<(), InventoryError> {
        let text = serde_json::to_string(value)?;
        self.write_for(serial, None, |tx, now, _keys| {
            tx.execute(
                "INSERT INTO documents (serial, name, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(serial, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![serial, name, text, now],
            )?;
            Ok(())
        })
    }

    fn document(
        &self,
        serial: &str,
        name: &str,
    ) -> Result<Option<serde_json::Value>, InventoryError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM documents WHERE serial = ?1 AND name = ?2",
                [serial, name],
                |r| r.get(0),
            )
            .optional()?;
        Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
    }

    fn actor(&self) -> &str {
        &self.actor
    }

    fn record_event(&mut self, event: &NewAuditEvent) -> Result<(), InventoryError> {
        self.append_event(event)
    }

    fn audit_events(&self, device: Option<&str>) -> Result<Vec<AuditEvent>, InventoryError> {
        Ok(audit::list(&self.conn, device)?)
    }

    fn verify_audit(&self) -> Result<VerifiedTrail, InventoryError> {
        let sidecar = audit::Sidecar::read(&audit::sidecar_path(&self.path))?;
        Ok(audit::verify(
            &self.conn,
            &self.audit_key,
            sidecar.as_ref(),
        )?)
    }

    fn reveal(&mut self, serial: &str) -> Result<Vec<CredentialRecord>, InventoryError> {
        let records = self.credentials(serial)?;
        let stores: Vec<&str> = records.iter().map(|c| c.store.as_str()).collect();
        let event = NewAuditEvent::new(&self.actor, AuditAction::Reveal)
            .device(serial)
            .detail(serde_json::json!({ "stores": stores }));
        // The reveal is on record before any secret leaves this function.
        self.write_for(serial, Some(event), |_, _, _| Ok(()))?;
        Ok(records)
    }

    fn put_station_ca(
        &mut self,
        ca: &crate::inventory::StationCaRecord,
    ) -> Result<(), InventoryError> {
        self.store_station_ca(ca)
    }

    fn station_ca(&self) -> Result<Option<crate::inventory::StationCaRecord>, InventoryError> {
        self.load_station_ca()
    }

    fn put_device_cert(
        &mut self,
        serial: &str,
        cert: &crate::inventory::DeviceCertRecord,
    ) -> Result<(), InventoryError> {
        self.store_device_cert(serial, cert)
    }

    fn device_certs(
        &self,
        serial: &str,
    ) -> Result<Vec<crate::inventory::DeviceCertRecord>, InventoryError> {
        self.load_device_certs(serial)
    }
}
