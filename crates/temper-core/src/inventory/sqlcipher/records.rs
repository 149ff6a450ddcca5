//! The [`Inventory`] operations of [`SqlCipherInventory`]: one SQL statement (in one transaction) each.

use rusqlite::types::Type;
use rusqlite::{params, OptionalExtension, Row};

use super::SqlCipherInventory;
use crate::checks::CheckRecord;
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

/// Reads a secret column straight into a [`Secret`], without an intermediate unzeroized `String`.
fn secret_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<Secret>> {
    Ok(row.get_ref(index)?.as_str_or_null()?.map(Secret::new))
}

impl Inventory for SqlCipherInventory {
    fn upsert_device(&mut self, device: &DeviceRecord) -> Result<(), InventoryError> {
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
        self.write_for(serial, |tx, _now| {
            tx.execute(
                "INSERT INTO credentials (serial, store, pending_username, pending_secret) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(serial, store) DO UPDATE SET pending_username = excluded.pending_username,
                   pending_secret = excluded.pending_secret",
                params![serial, store, username, secret.expose()],
            )?;
            Ok(())
        })
    }

    fn activate_pending(&mut self, serial: &str, store: &str) -> Result<(), InventoryError> {
        self.write_for(serial, |tx, now| {
            let changed = tx.execute(
                "UPDATE credentials SET current_username = pending_username, current_secret = pending_secret,
                   pending_username = NULL, pending_secret = NULL, changed_at = ?3
                 WHERE serial = ?1 AND store = ?2 AND pending_secret IS NOT NULL",
                params![serial, store, now],
            )?;
            if changed == 0 {
                return Err(InventoryError::NoPending { serial: serial.to_string(), store: store.to_string() });
            }
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
            Ok(CredentialRecord {
                store: row.get(0)?,
                username: row.get::<_, Option<String>>(1)?.unwrap_or_default(),
                current: secret_at(row, 2)?,
                pending: secret_at(row, 3)?,
                changed_at: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
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
        self.write_for(serial, |tx, now| {
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
        self.write_for(serial, |tx, _now| {
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
        self.write_for(serial, |tx, now| {
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
}
