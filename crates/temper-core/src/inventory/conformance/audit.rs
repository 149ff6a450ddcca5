//! Conformance: the audit trail every backend keeps (credential changes, reveals, events, verification).

use super::{with_device, Open};
use crate::inventory::audit::{AuditAction, NewAuditEvent};
use crate::inventory::Inventory;
use crate::Secret;

/// Each credential change leaves an event naming the device and the store, and never the secret.
pub fn credential_changes_are_audited<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let mut inv = with_device(factory, "SN-AUD");
    inv.put_pending(
        "SN-AUD",
        "web-admin",
        "admin",
        &Secret::new("Audited-Secret-123"),
    )
    .unwrap();
    inv.activate_pending("SN-AUD", "web-admin").unwrap();
    let events = inv.audit_events(Some("SN-AUD")).unwrap();
    let actions: Vec<AuditAction> = events.iter().map(|e| e.action).collect();
    assert!(
        actions.contains(&AuditAction::CredentialPending)
            && actions.contains(&AuditAction::CredentialActive),
        "pending and active must be audited: {actions:?}"
    );
    for event in &events {
        assert_eq!(event.device.as_deref(), Some("SN-AUD"));
        assert_eq!(event.actor, inv.actor(), "events name the actor");
        assert!(
            !event.detail.to_string().contains("Audited-Secret-123"),
            "no secret in the trail"
        );
    }
    inv.verify_audit()
        .expect("a trail written by the backend verifies");
}

/// A reveal is on the trail with the device and the actor before the secrets are returned.
pub fn reveal_is_audited<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let mut inv = with_device(factory, "SN-REV");
    inv.put_pending(
        "SN-REV",
        "shell-root",
        "root",
        &Secret::new("Reveal-Me-456"),
    )
    .unwrap();
    let before = inv.audit_events(Some("SN-REV")).unwrap().len();
    let revealed = inv.reveal("SN-REV").unwrap();
    assert_eq!(revealed[0].pending, Some(Secret::new("Reveal-Me-456")));
    let events = inv.audit_events(Some("SN-REV")).unwrap();
    assert_eq!(events.len(), before + 1, "one event per reveal");
    let last = events.last().unwrap();
    assert_eq!(last.action, AuditAction::Reveal);
    assert_eq!(last.device.as_deref(), Some("SN-REV"));
    assert_eq!(last.actor, inv.actor());
}

/// Events recorded by the caller come back in order, survive a reopen, and the trail still verifies.
pub fn recorded_events_survive_reopen_and_verify<I: Inventory>(
    factory: &mut impl FnMut(Open) -> I,
) {
    let mut inv = with_device(factory, "SN-EVT");
    let event = NewAuditEvent::new(inv.actor(), AuditAction::ProfileLoaded)
        .device("SN-EVT")
        .detail(serde_json::json!({"profile": "ipcam", "sha256": "00ff"}));
    inv.record_event(&event).unwrap();
    drop(inv);
    let inv = factory(Open::Reopen);
    let events = inv.audit_events(Some("SN-EVT")).unwrap();
    let loaded = events
        .iter()
        .find(|e| e.action == AuditAction::ProfileLoaded)
        .expect("recorded event");
    assert_eq!(loaded.detail["profile"], "ipcam");
    let all = inv.audit_events(None).unwrap();
    assert!(
        all.windows(2).all(|w| w[0].seq < w[1].seq),
        "events in sequence order"
    );
    let trail = inv.verify_audit().unwrap();
    assert_eq!(trail.events, all.len() as u64);
}
