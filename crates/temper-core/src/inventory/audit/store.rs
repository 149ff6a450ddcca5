//! The trail in SQL: schema, append, list, head, verify. Works on any rusqlite connection (SQLCipher or plain).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::chain::{self, HashInput};
use super::{
    canonical_json, AuditAction, AuditError, AuditEvent, AuditHead, AuditKey, NewAuditEvent,
    Sidecar, VerifiedTrail,
};

/// The schema of the trail, to run once as a migration. The triggers make UPDATE and DELETE fail, which stops
/// bugs, not attackers (who can drop them): tampering is caught by [`verify`].
pub const SCHEMA_SQL: &str = r#"
    CREATE TABLE audit_events (
        seq       INTEGER PRIMARY KEY,
        at        INTEGER NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        device    TEXT,
        outcome   TEXT NOT NULL,
        detail    TEXT NOT NULL,
        prev_hash BLOB NOT NULL,
        hash      BLOB NOT NULL,
        mac       BLOB NOT NULL
    ) STRICT;
    CREATE INDEX audit_events_by_device ON audit_events (device, seq);
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
    CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
"#;

const COLUMNS: &str = "seq, at, actor, action, device, outcome, detail, prev_hash, hash, mac";

/// Appends `event` at time `at` (seconds since the Unix epoch) as the next sequence number and returns it.
///
/// Call it inside the caller's write transaction (a `Transaction` derefs to `Connection`), so the event commits
/// with the change it records; after the commit, write [`Sidecar::signed`] for the returned event's head.
/// It refuses to chain onto a last event whose MAC is wrong. It does not walk the whole chain: [`verify`] the
/// trail (with the sidecar) when the inventory is unlocked, before the first append, or a truncation made
/// before that append would be signed over.
pub fn append(
    conn: &Connection,
    key: &AuditKey,
    event: &NewAuditEvent,
    at: u64,
) -> Result<AuditEvent, AuditError> {
    let last = conn
        .query_row(
            "SELECT seq, hash, mac FROM audit_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            },
        )
        .optional()?;
    let (seq, prev_hash) = match last {
        None => (1u64, [0u8; 32]),
        Some((last_seq, hash, mac)) => {
            let bad = |what: &str| AuditError::Tampered {
                first_bad_seq: u64::try_from(last_seq).unwrap_or(0),
                what: what.to_string(),
            };
            let seq = u64::try_from(last_seq).map_err(|_| bad("invalid sequence number"))?;
            let hash: [u8; 32] = hash
                .try_into()
                .map_err(|_| bad("its stored hash is not 32 bytes"))?;
            if !chain::event_mac_ok(key, &hash, &mac) {
                return Err(bad(
                    "the last event has an invalid MAC; refusing to append after it",
                ));
            }
            (seq + 1, hash)
        }
    };
    let at_sql = i64::try_from(at)
        .map_err(|_| AuditError::Database(format!("event time {at} is out of range")))?;
    let detail = canonical_json(&event.detail);
    let hash = chain::event_hash(&HashInput {
        seq,
        at,
        actor: &event.actor,
        action: event.action.as_str(),
        device: event.device.as_deref(),
        outcome: &event.outcome,
        detail: &detail,
        prev_hash: &prev_hash,
    });
    let mac = chain::event_mac(key, &hash);
    conn.execute(
        &format!(
            "INSERT INTO audit_events ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            seq as i64,
            at_sql,
            event.actor,
            event.action.as_str(),
            event.device,
            event.outcome,
            detail,
            &prev_hash[..],
            &hash[..],
            &mac[..]
        ],
    )?;
    Ok(AuditEvent {
        seq,
        at,
        actor: event.actor.clone(),
        action: event.action,
        device: event.device.clone(),
        outcome: event.outcome.clone(),
        detail: event.detail.clone(),
        prev_hash,
        hash,
        mac,
    })
}

fn to_32(bytes: Vec<u8>, seq: i64, column: &str) -> Result<[u8; 32], AuditError> {
    bytes.try_into().map_err(|_| {
        AuditError::Database(format!(
            "event #{seq}: {column} is not 32 bytes; run `temper audit verify`"
        ))
    })
}

/// Every event in sequence order, or only those of `device`. Does NOT check the chain: run [`verify`] first
/// when the answer matters.
pub fn list(conn: &Connection, device: Option<&str>) -> Result<Vec<AuditEvent>, AuditError> {
    let sql =
        format!("SELECT {COLUMNS} FROM audit_events WHERE ?1 IS NULL OR device = ?1 ORDER BY seq");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([device], RawRow::read)?;
    let mut events = Vec::new();
    for row in rows {
        let raw = row?;
        let seq = raw.seq;
        let unreadable = |what: String| {
            AuditError::Database(format!(
                "event #{seq}: {what}; run `temper audit verify`, or upgrade Temper if a newer version wrote it"
            ))
        };
        let action = AuditAction::parse(&raw.action)
            .ok_or_else(|| unreadable(format!("unknown action {:?}", raw.action)))?;
        let detail = serde_json::from_str(&raw.detail)
            .map_err(|e| unreadable(format!("detail is not JSON ({e})")))?;
        events.push(AuditEvent {
            seq: u64::try_from(seq).map_err(|_| unreadable("invalid sequence number".into()))?,
            at: u64::try_from(raw.at).map_err(|_| unreadable("invalid time".into()))?,
            actor: raw.actor,
            action,
            device: raw.device,
            outcome: raw.outcome,
            detail,
            prev_hash: to_32(raw.prev_hash, seq, "prev_hash")?,
            hash: to_32(raw.hash, seq, "hash")?,
            mac: to_32(raw.mac, seq, "mac")?,
        });
    }
    Ok(events)
}

/// The newest event's sequence number and hash, `None` for an empty trail. Not checked: see [`verify`].
pub fn head(conn: &Connection) -> Result<Option<AuditHead>, AuditError> {
    let last = conn
        .query_row(
            "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .optional()?;
    last.map(|(seq, hash)| {
        Ok(AuditHead {
            seq: u64::try_from(seq)
                .map_err(|_| AuditError::Database(format!("invalid sequence number {seq}")))?,
            hash: to_32(hash, seq, "hash")?,
        })
    })
    .transpose()
}

/// One stored row, as stored: the hash is checked over exactly these values.
struct RawRow {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    device: Option<String>,
    outcome: String,
    detail: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
    mac: Vec<u8>,
}

impl RawRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<RawRow> {
        Ok(RawRow {
            seq: row.get(0)?,
            at: row.get(1)?,
            actor: row.get(2)?,
            action: row.get(3)?,
            device: row.get(4)?,
            outcome: row.get(5)?,
            detail: row.get(6)?,
            prev_hash: row.get(7)?,
            hash: row.get(8)?,
            mac: row.get(9)?,
        })
    }
}

/// Checks the whole trail from event #1 and, if given, the sidecar's signed head.
///
/// Fails with [`AuditError::Tampered`] naming the first bad sequence number for: a missing event (gap), an
/// event that does not link to the one before (reordered or replaced), an event whose fields do not match its
/// hash (edited), an event whose MAC is wrong (edited and the chain recomputed without the key), a trail that
/// ends before the signed head (deleted last events, or an older database copy; first bad = last + 1), and an
/// event at the signed sequence number whose hash differs from the signed one. A head MAC that does not verify
/// is [`AuditError::SidecarTampered`]; a non-empty trail without a signed head is [`AuditError::SidecarMissing`].
pub fn verify(
    conn: &Connection,
    key: &AuditKey,
    sidecar: Option<&Sidecar>,
) -> Result<VerifiedTrail, AuditError> {
    let signed = match sidecar {
        Some(side) => side.authentic_head(key)?,
        None => None,
    };
    let tampered = |first_bad_seq: u64, what: String| AuditError::Tampered {
        first_bad_seq,
        what,
    };
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM audit_events ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    let mut prev = [0u8; 32];
    let mut expected: u64 = 1;
    let mut hash_at_signed = None;
    while let Some(row) = rows.next()? {
        let stored_seq: i64 = row.get(0)?;
        if stored_seq != expected as i64 {
            let what = if stored_seq > expected as i64 {
                format!("event #{expected} is missing (deleted): the next stored event is #{stored_seq}")
            } else {
                format!("an event with the invalid sequence number {stored_seq} was inserted")
            };
            return Err(tampered(expected, what));
        }
        let seq = expected;
        let raw = RawRow::read(row).map_err(|e| {
            tampered(
                seq,
                format!("event #{seq} has a field of the wrong type ({e})"),
            )
        })?;
        let at = u64::try_from(raw.at)
            .map_err(|_| tampered(seq, format!("event #{seq} has an invalid time")))?;
        if raw.prev_hash.as_slice() != prev.as_slice() {
            let what = if seq == 1 {
                "event #1 does not start the chain (its previous hash is not zero)".to_string()
            } else {
                format!(
                    "event #{seq} does not follow event #{}: events were reordered, replaced or removed",
                    seq - 1
                )
            };
            return Err(tampered(seq, what));
        }
        let computed = chain::event_hash(&HashInput {
            seq,
            at,
            actor: &raw.actor,
            action: &raw.action,
            device: raw.device.as_deref(),
            outcome: &raw.outcome,
            detail: &raw.detail,
            prev_hash: &prev,
        });
        if raw.hash.as_slice() != computed.as_slice() {
            return Err(tampered(
                seq,
                format!("event #{seq} was edited: its fields do not match its hash"),
            ));
        }
        if !chain::event_mac_ok(key, &computed, &raw.mac) {
            return Err(tampered(
                seq,
                format!(
                    "event #{seq} has an invalid MAC: it was edited or inserted and the hash chain recomputed \
                     without the audit key (or the audit key is not this inventory's)"
                ),
            ));
        }
        if signed.is_some_and(|h| h.seq == seq) {
            hash_at_signed = Some(computed);
        }
        prev = computed;
        expected += 1;
    }
    let events = expected - 1;
    let head = (events > 0).then_some(AuditHead {
        seq: events,
        hash: prev,
    });
    let Some(signed) = signed else {
        if events > 0 {
            return Err(AuditError::SidecarMissing { events });
        }
        return Ok(VerifiedTrail {
            events,
            head,
            sidecar_behind: false,
        });
    };
    if events < signed.seq {
        let first = events + 1;
        let range = if first == signed.seq {
            format!("event #{first} was")
        } else {
            format!("events #{first} to #{} were", signed.seq)
        };
        return Err(tampered(
            first,
            format!(
                "the trail ends at event #{events} but the sidecar signed event #{}: {range} deleted, or an \
                 older copy of the database was put in place",
                signed.seq
            ),
        ));
    }
    let found = if signed.seq == 0 {
        Some([0u8; 32])
    } else {
        hash_at_signed
    };
    if found != Some(signed.hash) {
        return Err(tampered(
            signed.seq.max(1),
            format!(
                "event #{} is not the event the sidecar signed: the database was replaced by a different copy",
                signed.seq
            ),
        ));
    }
    Ok(VerifiedTrail {
        events,
        head,
        sidecar_behind: events > signed.seq,
    })
}
