//! The station CA and device certificates in SQL: the CA key sealed with the data key, certificates in clear
//! (they are public).

use rusqlite::{params, OptionalExtension};

use super::{sealing, SqlCipherInventory};
use crate::inventory::audit::{AuditAction, NewAuditEvent};
use crate::inventory::{CertState, DeviceCertRecord, InventoryError, StationCaRecord};

/// The row and column the CA key's seal is bound to.
pub(super) const CA_ROW: (&str, &str, &str) = ("", "station-ca", "key");

impl SqlCipherInventory {
    pub(super) fn store_station_ca(&mut self, ca: &StationCaRecord) -> Result<(), InventoryError> {
        self.ensure_trusted()?;
        if self.load_station_ca()?.is_some() {
            return Err(InventoryError::CaExists);
        }
        let (serial, store, which) = CA_ROW;
        let sealed = sealing::seal(&self.keys, serial, store, which, &ca.key_pem);
        let now = self.clock.now();
        self.conn.execute(
            "INSERT INTO station_ca (id, cert_pem, key_sealed, kind, imported, created_at) VALUES (1, ?1, ?2, ?3, ?4, ?5)",
            params![ca.cert_pem, sealed, ca.kind, ca.imported, now],
        )?;
        let action = if ca.imported {
            AuditAction::CaImported
        } else {
            AuditAction::CaCreated
        };
        let event =
            NewAuditEvent::new(&self.actor, action).detail(serde_json::json!({ "kind": ca.kind }));
        self.append_event(&event)
    }

    pub(super) fn load_station_ca(&self) -> Result<Option<StationCaRecord>, InventoryError> {
        let row: Option<(String, String, String, bool, u64)> = self
            .conn
            .query_row(
                "SELECT cert_pem, key_sealed, kind, imported, created_at FROM station_ca WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((cert_pem, sealed, kind, imported, created_at)) = row else {
            return Ok(None);
        };
        let (serial, store, which) = CA_ROW;
        let key_pem = sealing::open(&self.keys, serial, store, which, &sealed)?;
        Ok(Some(StationCaRecord {
            cert_pem,
            key_pem,
            kind,
            imported,
            created_at,
        }))
    }

    pub(super) fn store_device_cert(
        &mut self,
        serial: &str,
        cert: &DeviceCertRecord,
    ) -> Result<(), InventoryError> {
        let before: Option<String> = self
            .conn
            .query_row(
                "SELECT state FROM device_certs WHERE serial = ?1 AND fingerprint = ?2",
                [serial, &cert.fingerprint],
                |r| r.get(0),
            )
            .optional()?;
        let detail =
            serde_json::json!({ "fingerprint": cert.fingerprint, "not_after": cert.not_after });
        let changed_to =
            |state: CertState| cert.state == state && before.as_deref() != Some(state.as_str());
        let action = if before.is_none() {
            Some(AuditAction::CertificateIssued)
        } else if changed_to(CertState::Active) {
            Some(AuditAction::CertificateActivated)
        } else if changed_to(CertState::Revoked) {
            Some(AuditAction::CertificateRevoked)
        } else {
            None
        };
        let event = action.map(|a| {
            NewAuditEvent::new(&self.actor, a)
                .device(serial)
                .detail(detail)
        });
        self.write_for(serial, event, |tx, now, _| {
            tx.execute(
                "INSERT INTO device_certs (serial, fingerprint, cert_pem, not_after, state, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(serial, fingerprint) DO UPDATE SET state = excluded.state, at = excluded.at",
                params![serial, cert.fingerprint, cert.cert_pem, cert.not_after, cert.state.as_str(), now],
            )?;
            Ok(())
        })
    }

    pub(super) fn load_device_certs(
        &self,
        serial: &str,
    ) -> Result<Vec<DeviceCertRecord>, InventoryError> {
        let mut stmt = self.conn.prepare(
            "SELECT fingerprint, cert_pem, not_after, state, at FROM device_certs WHERE serial = ?1 ORDER BY at, fingerprint",
        )?;
        let rows = stmt.query_map([serial], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, u64>(4)?,
            ))
        })?;
        let mut certs = Vec::new();
        for row in rows {
            let (fingerprint, cert_pem, not_after, state, at) = row?;
            let state = CertState::parse(&state).ok_or_else(|| {
                InventoryError::Database(format!("unknown certificate state {state:?}"))
            })?;
            certs.push(DeviceCertRecord {
                fingerprint,
                cert_pem,
                not_after,
                state,
                at,
            });
        }
        Ok(certs)
    }
}
