//! Conformance behaviours of steps, checks and documents, and of reopening a store.

use serde_json::json;

use super::{sample_check, with_device, Open};
use crate::checks::CheckRecord;
use crate::inventory::{Inventory, StepRecord, StepState};
use crate::Secret;

/// Steps read back sorted by name; a later `set_step` of the same step replaces the earlier one.
pub fn steps_roundtrip<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let mut inv = with_device(factory, "SN-1");
    inv.set_step(
        "SN-1",
        "rotate-credentials",
        &StepState::Failed {
            message: "device refused".into(),
        },
    )
    .unwrap();
    inv.set_step("SN-1", "identify", &StepState::Done).unwrap();
    inv.set_step(
        "SN-1",
        "baseline",
        &StepState::Failed { message: "".into() },
    )
    .unwrap();
    let steps = inv.steps("SN-1").unwrap();
    let got: Vec<(&str, &StepState)> = steps.iter().map(|s| (s.step.as_str(), &s.state)).collect();
    assert_eq!(
        got,
        [
            ("baseline", &StepState::Failed { message: "".into() }),
            ("identify", &StepState::Done),
            (
                "rotate-credentials",
                &StepState::Failed {
                    message: "device refused".into()
                }
            ),
        ]
    );
    inv.set_step("SN-1", "rotate-credentials", &StepState::Done)
        .unwrap();
    let steps: Vec<StepRecord> = inv.steps("SN-1").unwrap();
    assert_eq!(steps.len(), 3, "set_step must replace, not add");
    assert_eq!(steps[2].state, StepState::Done);
}

/// Checks read back by phase; the same phase, id and subject replaces the earlier result.
pub fn checks_roundtrip<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let mut inv = with_device(factory, "SN-1");
    let telnet = sample_check("default-credential-refused", "telnet 192.0.2.10:23", false);
    let web = sample_check("default-credential-refused", "web-admin", true);
    let ports = sample_check("no-unexpected-ports", "192.0.2.10", true);
    inv.put_check("SN-1", "verify", &ports).unwrap();
    inv.put_check("SN-1", "baseline", &telnet).unwrap();
    inv.put_check("SN-1", "baseline", &web).unwrap();
    inv.put_check("SN-1", "verify", &telnet).unwrap();
    let fixed = CheckRecord {
        passed: true,
        detail: "refused now".into(),
        ..telnet.clone()
    };
    inv.put_check("SN-1", "verify", &fixed).unwrap();
    let expected = vec![
        ("baseline".to_string(), telnet),
        ("baseline".to_string(), web),
        ("verify".to_string(), fixed),
        ("verify".to_string(), ports),
    ];
    assert_eq!(
        inv.checks("SN-1").unwrap(),
        expected,
        "checks: replaced by (phase, id, subject), sorted by them"
    );
}

/// JSON documents read back exactly and can be replaced.
pub fn documents_roundtrip<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let mut inv = with_device(factory, "SN-1");
    let scan = json!({"ports": [22, 23, 80], "host": "192.0.2.10", "nested": {"ok": true, "n": null, "f": 1.5}});
    inv.put_document("SN-1", "baseline-scan", &scan).unwrap();
    inv.put_document("SN-1", "report", &json!("first")).unwrap();
    inv.put_document("SN-1", "report", &json!({"hardened": true}))
        .unwrap();
    assert_eq!(inv.document("SN-1", "baseline-scan").unwrap(), Some(scan));
    assert_eq!(
        inv.document("SN-1", "report").unwrap(),
        Some(json!({"hardened": true}))
    );
}

/// Every kind of record survives closing and reopening the store.
pub fn everything_survives_reopen<I: Inventory>(factory: &mut impl FnMut(Open) -> I) {
    let mut inv = with_device(factory, "SN-1");
    inv.put_pending("SN-1", "web-admin", "admin", &Secret::new("kept"))
        .unwrap();
    inv.activate_pending("SN-1", "web-admin").unwrap();
    inv.set_step("SN-1", "identify", &StepState::Done).unwrap();
    inv.put_check("SN-1", "verify", &sample_check("c", "s", true))
        .unwrap();
    inv.put_document("SN-1", "report", &json!({"a": 1}))
        .unwrap();
    let before = (
        inv.device("SN-1").unwrap(),
        inv.credentials("SN-1").unwrap(),
        inv.steps("SN-1").unwrap(),
    );
    let checks = inv.checks("SN-1").unwrap();
    drop(inv);
    let inv = factory(Open::Reopen);
    let after = (
        inv.device("SN-1").unwrap(),
        inv.credentials("SN-1").unwrap(),
        inv.steps("SN-1").unwrap(),
    );
    assert_eq!(after, before);
    assert_eq!(inv.checks("SN-1").unwrap(), checks);
    assert_eq!(
        inv.document("SN-1", "report").unwrap(),
        Some(json!({"a": 1}))
    );
}
