//! Verify: scan again from outside, compare with the baseline, and prove each credential store from outside:
//! the current credential opens it (challenge-response only) and the factory default does not.

use std::net::IpAddr;

use crate::checks::{compare, AuthOutcome, CheckKind, Surface};
use crate::event::{StepId, StepOutcome};
use crate::plan::context::Run;
use crate::plan::PlanError;
use crate::profile::Protocol;

use super::baseline::scan;
use super::outside::Trial;

pub(crate) async fn run(run: &mut Run<'_, '_>, control: IpAddr) -> Result<StepOutcome, PlanError> {
    let serial = run.device.serial.clone();
    let before: Surface = run
        .inventory
        .document(&serial, "baseline")?
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| {
            PlanError::DeviceMisbehaved(
                "the baseline scan is missing from the inventory; run again".into(),
            )
        })?;
    let after = scan(run, control, StepId::Verify).await;
    run.inventory.put_document(
        &serial,
        "verify-surface",
        &serde_json::to_value(&after).unwrap_or_default(),
    )?;
    let allowed = |protocol: Protocol| -> Vec<u16> {
        run.profile
            .services
            .iter()
            .filter(|s| s.allowed && s.protocol == protocol)
            .map(|s| s.port)
            .collect()
    };
    let (allowed_tcp, allowed_udp) = (allowed(Protocol::Tcp), allowed(Protocol::Udp));
    for record in compare(&before, &after, &allowed_tcp, &allowed_udp) {
        run.record_check("verify", record)?;
    }
    let credentials = run.inventory.credentials(&serial)?;
    for store in run.profile.credentials.clone() {
        let Some(trial) = Trial::confirm_for(run, &store) else {
            continue;
        };
        let Some(current) = credentials
            .iter()
            .find(|c| c.store == store.id)
            .and_then(|c| c.current.clone())
        else {
            continue;
        };
        let works = trial
            .attempt(&run.profile, &store.username, &current)
            .await?
            == AuthOutcome::Accepted;
        let detail = format!(
            "current credential {} over {}",
            if works { "accepted" } else { "REFUSED" },
            trial.protocol()
        );
        run.record_check(
            "verify",
            CheckKind::NewCredentialAccepted.record(store.id.clone(), works, detail),
        )?;
        let default_open = trial
            .attempt(&run.profile, &store.username, &store.default_password)
            .await?
            == AuthOutcome::Accepted;
        let detail = format!(
            "factory default {} over {}",
            if default_open { "ACCEPTED" } else { "refused" },
            trial.protocol()
        );
        run.record_check(
            "verify",
            CheckKind::DefaultCredentialRefused.record(
                format!("{} {}", store.id, trial.addr()),
                !default_open,
                detail,
            ),
        )?;
    }
    super::verify_tls::run(run).await?;
    Ok(StepOutcome::Done)
}
