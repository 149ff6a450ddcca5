//! The conformance suite every [`Inventory`] backend must pass.
//!
//! Each behaviour is one function taking a factory: `factory(Open::Fresh)` returns a new, empty store;
//! `factory(Open::Reopen)` opens again the store made by the latest `Open::Fresh` (the caller drops the old handle
//! first when the behaviour needs it). The functions panic with a message naming the broken behaviour.
//! [`run_all`] runs them all; `tests/inventory.rs` shows a factory for [`super::SqlCipherInventory`].

use serde_json::json;

mod audit;
mod certs;
mod credentials;
mod keyed;
mod records;
mod tamper;

pub use audit::{
    credential_changes_are_audited, recorded_events_survive_reopen_and_verify, reveal_is_audited,
};
pub use certs::{
    device_certs_roundtrip_and_issuing_is_audited, sample_ca,
    station_ca_is_stored_once_and_survives_reopen,
};
pub use credentials::{
    activate_moves_pending_to_current, activate_without_pending_is_an_error,
    credential_debug_never_shows_secrets, credentials_are_sorted_by_store_and_kept_per_device,
    pending_is_visible_after_reopen, put_pending_replaces_pending_keeps_current,
    secrets_roundtrip_exactly,
};
pub use keyed::{
    backup_restores_with_the_recovery_key_alone, rekey_keeps_every_secret_and_switches_keys,
    KeyedInventory, KeyedOpen,
};
pub use records::{
    checks_roundtrip, documents_roundtrip, everything_survives_reopen, steps_roundtrip,
};
pub use tamper::{
    documented_limit_rolling_back_everything_together_is_not_detected,
    tampering_is_detected_at_the_first_bad_event, Tamper,
};

use super::{CredentialRecord, DeviceRecord, HardenedState, Inventory, InventoryError, StepState};
use crate::checks::CheckRecord;
use crate::Secret;

/// What the factory must return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// A new, empty store.
    Fresh,
    /// The store made by the latest [`Open::Fresh`], opened again.
    Reopen,
}

/// A sample device record for tests.
pub fn sample_device(serial: &str) -> DeviceRecord {
    DeviceRecord {
        serial: serial.to_string(),
        model: "ACME-CAM-200".into(),
        firmware: "1.4.2".into(),
        profile_id: "acme-cam".into(),
        profile_hash: "sha256:0f1e2d".into(),
        site: Some("Warehouse 3".into()),
        address: Some("192.0.2.10".into()),
        state: HardenedState::New,
        first_seen: 1_700_000_000,
        updated_at: 1_700_000_000,
    }
}

/// A sample check record for tests.
pub fn sample_check(id: &str, subject: &str, passed: bool) -> CheckRecord {
    CheckRecord {
        id: id.to_string(),
        guideline: vec!["ETSI EN 303 645 5.1-1".into()],
        subject: subject.to_string(),
        passed,
        detail: format!("{id} on {subject}"),
        at: 1_700_000_100,
    }
}

fn with_device<I: Inventory>(factory: &mut impl FnMut(Open) -> I, serial: &str) -> I {
    let mut inv = factory(Open::Fresh);
    inv.upsert_device(&sample_device(serial))
        .expect("upsert_device");
    inv
}

fn credential<I: Inventory>(inv: &I, serial: &str, store: &str) -> CredentialRecord {
    let all = inv.credentials(serial).expect("credentials");
    all.into_iter()
        .find(|c| c.store == store)
        .unwrap_or_else(|| panic!("no credential record for store {store}"))
}

/// Runs every behaviour of the suite.
pub fn run_all<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    unknown_device_is_none(factory);
    writes_for_an_unknown_device_are_refused(factory);
    upsert_inserts_and_reads_back(factory);
    upsert_updates(factory);
    devices_are_sorted_by_serial(factory);
    pending_is_visible_after_reopen(factory);
    activate_moves_pending_to_current(factory);
    activate_without_pending_is_an_error(factory);
    put_pending_replaces_pending_keeps_current(factory);
    credentials_are_sorted_by_store_and_kept_per_device(factory);
    secrets_roundtrip_exactly(factory);
    credential_debug_never_shows_secrets(factory);
    steps_roundtrip(factory);
    checks_roundtrip(factory);
    documents_roundtrip(factory);
    everything_survives_reopen(factory);
    credential_changes_are_audited(factory);
    reveal_is_audited(factory);
    recorded_events_survive_reopen_and_verify(factory);
    station_ca_is_stored_once_and_survives_reopen(factory);
    device_certs_roundtrip_and_issuing_is_audited(factory);
}

/// Reads about an unknown serial return nothing.
pub fn unknown_device_is_none<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let inv = with_device(factory, "SN-KNOWN");
    assert_eq!(
        inv.device("SN-NOPE").unwrap(),
        None,
        "unknown device must be None"
    );
    assert!(inv.credentials("SN-NOPE").unwrap().is_empty());
    assert!(inv.steps("SN-NOPE").unwrap().is_empty());
    assert!(inv.checks("SN-NOPE").unwrap().is_empty());
    assert_eq!(inv.document("SN-NOPE", "report").unwrap(), None);
    assert_eq!(inv.document("SN-KNOWN", "no-such-document").unwrap(), None);
}

/// Writes about an unknown serial fail with `UnknownDevice` and store nothing.
pub fn writes_for_an_unknown_device_are_refused<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let mut inv = factory(Open::Fresh);
    let unknown = |r: Result<(), InventoryError>, what: &str| match r {
        Err(InventoryError::UnknownDevice { serial }) => assert_eq!(serial, "SN-GHOST"),
        other => panic!("{what} on an unknown device must fail with UnknownDevice, got {other:?}"),
    };
    unknown(
        inv.put_pending("SN-GHOST", "root", "root", &Secret::new("x")),
        "put_pending",
    );
    unknown(inv.activate_pending("SN-GHOST", "root"), "activate_pending");
    unknown(
        inv.set_step("SN-GHOST", "identify", &StepState::Done),
        "set_step",
    );
    unknown(
        inv.put_check("SN-GHOST", "baseline", &sample_check("c", "s", true)),
        "put_check",
    );
    unknown(
        inv.put_document("SN-GHOST", "report", &json!({})),
        "put_document",
    );
    assert!(inv.devices().unwrap().is_empty());
    assert!(inv.credentials("SN-GHOST").unwrap().is_empty());
}

/// A device reads back exactly as written, with and without optional fields.
pub fn upsert_inserts_and_reads_back<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let mut inv = factory(Open::Fresh);
    let full = sample_device("SN-FULL");
    let bare = DeviceRecord {
        site: None,
        address: None,
        state: HardenedState::InProgress,
        ..sample_device("SN-BARE")
    };
    inv.upsert_device(&full).unwrap();
    inv.upsert_device(&bare).unwrap();
    assert_eq!(inv.device("SN-FULL").unwrap(), Some(full));
    assert_eq!(inv.device("SN-BARE").unwrap(), Some(bare));
}

/// Upserting a known serial updates every field but `first_seen`, and adds no record.
pub fn upsert_updates<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let mut inv = with_device(factory, "SN-1");
    for (i, state) in [
        HardenedState::InProgress,
        HardenedState::Failed,
        HardenedState::Hardened,
    ]
    .into_iter()
    .enumerate()
    {
        let changed = DeviceRecord {
            model: format!("ACME-CAM-20{i}"),
            firmware: format!("2.0.{i}"),
            profile_id: "acme-cam-v2".into(),
            profile_hash: format!("sha256:{i}"),
            site: None,
            address: Some(format!("192.0.2.{}", 20 + i)),
            state,
            first_seen: 1_800_000_000,
            updated_at: 1_800_000_000 + i as u64,
            ..sample_device("SN-1")
        };
        inv.upsert_device(&changed).unwrap();
        let expected = DeviceRecord {
            first_seen: sample_device("SN-1").first_seen,
            ..changed
        };
        assert_eq!(
            inv.device("SN-1").unwrap(),
            Some(expected),
            "upsert must update all fields but first_seen"
        );
    }
    assert_eq!(
        inv.devices().unwrap().len(),
        1,
        "upsert must not add a second record"
    );
}

/// `devices` lists every device sorted by serial.
pub fn devices_are_sorted_by_serial<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let mut inv = factory(Open::Fresh);
    for serial in ["SN-C", "SN-A", "SN-B"] {
        inv.upsert_device(&sample_device(serial)).unwrap();
    }
    let serials: Vec<String> = inv
        .devices()
        .unwrap()
        .into_iter()
        .map(|d| d.serial)
        .collect();
    assert_eq!(serials, ["SN-A", "SN-B", "SN-C"]);
}
