//! Record: the hardened state and the report go into the inventory; the session on the device is closed.

use crate::event::StepOutcome;
use crate::inventory::audit::{AuditAction, NewAuditEvent};
use crate::inventory::HardenedState;
use crate::plan::context::Run;
use crate::plan::PlanError;

pub(crate) async fn run(run: &mut Run<'_, '_>, hardened: bool) -> Result<StepOutcome, PlanError> {
    run.set_state(if hardened {
        HardenedState::Hardened
    } else {
        HardenedState::Failed
    })?;
    let report = run.report(hardened)?;
    let value = serde_json::to_value(&report)
        .map_err(|e| PlanError::DeviceMisbehaved(format!("report not serialisable: {e}")))?;
    let serial = run.device.serial.clone();
    run.inventory.put_document(&serial, "report", &value)?;
    let failed: Vec<&str> = run
        .checks
        .iter()
        .filter(|(_, c)| !c.passed)
        .map(|(_, c)| c.id.as_str())
        .collect();
    let event = NewAuditEvent::new(run.inventory.actor(), AuditAction::Commission)
        .device(&serial)
        .outcome(if hardened { "hardened" } else { "not-hardened" })
        .detail(serde_json::json!({ "port": run.port, "checks": run.checks.len(), "failed_checks": failed }));
    run.inventory.record_event(&event)?;
    // Never leave a root shell open on the console.
    run.session.close().await?;
    Ok(StepOutcome::Done)
}
