//! Conformance behaviours of the credential lifecycle: pending, activation, exact secrets.

use super::{credential, sample_device, with_device, Open};
use crate::inventory::{Inventory, InventoryError};
use crate::Secret;

/// A pending credential survives closing and reopening the store.
pub fn pending_is_visible_after_reopen<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let mut inv = with_device(factory, "SN-1");
    inv.put_pending(
        "SN-1",
        "console-root",
        "root",
        &Secret::new("n3w-Pending-Secret"),
    )
    .unwrap();
    drop(inv);
    let inv = factory(Open::Reopen);
    let cred = credential(&inv, "SN-1", "console-root");
    assert_eq!(
        cred.pending,
        Some(Secret::new("n3w-Pending-Secret")),
        "pending lost on reopen"
    );
    assert_eq!(cred.current, None);
    assert_eq!(cred.username, "root");
    assert_eq!(cred.changed_at, None);
}

/// Activation makes the pending credential current, clears pending and sets `changed_at`.
pub fn activate_moves_pending_to_current<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let mut inv = with_device(factory, "SN-1");
    inv.put_pending("SN-1", "web-admin", "admin", &Secret::new("first-secret"))
        .unwrap();
    inv.activate_pending("SN-1", "web-admin").unwrap();
    let cred = credential(&inv, "SN-1", "web-admin");
    assert_eq!(cred.current, Some(Secret::new("first-secret")));
    assert_eq!(cred.pending, None, "activation must clear pending");
    assert_eq!(cred.username, "admin");
    assert!(cred.changed_at.is_some(), "activation must set changed_at");
}

/// Activation without a pending credential fails with `NoPending` and changes nothing.
pub fn activate_without_pending_is_an_error<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let mut inv = with_device(factory, "SN-1");
    match inv.activate_pending("SN-1", "web-admin") {
        Err(InventoryError::NoPending { serial, store }) => {
            assert_eq!((serial.as_str(), store.as_str()), ("SN-1", "web-admin"))
        }
        other => panic!("activate without any credential must fail with NoPending, got {other:?}"),
    }
    inv.put_pending("SN-1", "web-admin", "admin", &Secret::new("only-secret"))
        .unwrap();
    inv.activate_pending("SN-1", "web-admin").unwrap();
    let before = credential(&inv, "SN-1", "web-admin");
    assert!(
        matches!(
            inv.activate_pending("SN-1", "web-admin"),
            Err(InventoryError::NoPending { .. })
        ),
        "a second activate must fail with NoPending"
    );
    assert_eq!(
        credential(&inv, "SN-1", "web-admin"),
        before,
        "a failed activate must change nothing"
    );
}

/// A new pending replaces the old pending; the current credential stays until activation.
pub fn put_pending_replaces_pending_keeps_current<I: Inventory>(
    factory: &mut impl FnMut(Open) -> I,
) {
    let mut inv = with_device(factory, "SN-1");
    inv.put_pending("SN-1", "console-root", "root", &Secret::new("current-one"))
        .unwrap();
    inv.activate_pending("SN-1", "console-root").unwrap();
    let changed_at = credential(&inv, "SN-1", "console-root").changed_at;
    inv.put_pending("SN-1", "console-root", "root", &Secret::new("pending-one"))
        .unwrap();
    inv.put_pending("SN-1", "console-root", "root", &Secret::new("pending-two"))
        .unwrap();
    let cred = credential(&inv, "SN-1", "console-root");
    assert_eq!(
        cred.current,
        Some(Secret::new("current-one")),
        "put_pending must keep current"
    );
    assert_eq!(
        cred.pending,
        Some(Secret::new("pending-two")),
        "put_pending must replace pending"
    );
    assert_eq!(
        cred.changed_at, changed_at,
        "put_pending must not touch changed_at"
    );
    inv.activate_pending("SN-1", "console-root").unwrap();
    let cred = credential(&inv, "SN-1", "console-root");
    assert_eq!(
        (cred.current, cred.pending),
        (Some(Secret::new("pending-two")), None)
    );
}

/// Credentials are listed by store and never mixed between devices.
pub fn credentials_are_sorted_by_store_and_kept_per_device<I: Inventory>(
    factory: &mut impl FnMut(Open) -> I,
) {
    let mut inv = with_device(factory, "SN-1");
    inv.upsert_device(&sample_device("SN-2")).unwrap();
    for store in ["web-admin", "console-root", "ftp"] {
        inv.put_pending(
            "SN-1",
            store,
            store,
            &Secret::new(format!("{store}-secret")),
        )
        .unwrap();
    }
    inv.put_pending("SN-2", "console-root", "root", &Secret::new("other-device"))
        .unwrap();
    let stores: Vec<String> = inv
        .credentials("SN-1")
        .unwrap()
        .into_iter()
        .map(|c| c.store)
        .collect();
    assert_eq!(stores, ["console-root", "ftp", "web-admin"]);
    let other = inv.credentials("SN-2").unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].pending, Some(Secret::new("other-device")));
}

/// Secrets come back byte for byte: empty (some factory accounts), Unicode, quotes, long.
pub fn secrets_roundtrip_exactly<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let mut inv = with_device(factory, "SN-1");
    let secrets = [
        "",
        "pässwörd-密码-🔑",
        "quote' \"double\" ; DROP TABLE devices; --",
        &"x".repeat(4096),
    ];
    for (i, secret) in secrets.iter().enumerate() {
        let store = format!("store-{i}");
        inv.put_pending("SN-1", &store, "user", &Secret::new(*secret))
            .unwrap();
        inv.activate_pending("SN-1", &store).unwrap();
        assert_eq!(
            credential(&inv, "SN-1", &store).current,
            Some(Secret::new(*secret)),
            "secret {i} changed"
        );
    }
}

/// `Debug` of a credential record shows no secret.
pub fn credential_debug_never_shows_secrets<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let mut inv = with_device(factory, "SN-1");
    inv.put_pending(
        "SN-1",
        "web-admin",
        "admin",
        &Secret::new("Visible-If-Leaked-1"),
    )
    .unwrap();
    inv.activate_pending("SN-1", "web-admin").unwrap();
    inv.put_pending(
        "SN-1",
        "web-admin",
        "admin",
        &Secret::new("Visible-If-Leaked-2"),
    )
    .unwrap();
    let shown = format!("{:?}", inv.credentials("SN-1").unwrap());
    assert!(
        !shown.contains("Visible-If-Leaked"),
        "Debug shows a secret: {shown}"
    );
}
