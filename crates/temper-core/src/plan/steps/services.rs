//! Disable services: stop now and disable at boot every service the profile does not allow.

use crate::event::StepOutcome;
use crate::plan::context::Run;
use crate::plan::PlanError;
use crate::profile::ServiceSpec;

pub(crate) async fn run(run: &mut Run<'_, '_>) -> Result<StepOutcome, PlanError> {
    let services: Vec<ServiceSpec> = run
        .profile
        .services
        .iter()
        .filter(|s| !s.allowed)
        .cloned()
        .collect();
    let mut changed = false;
    for service in &services {
        let (Some(status), Some(stop), Some(disable), Some(disabled)) = (
            &service.status_command,
            &service.stop_command,
            &service.disable_command,
            &service.disabled_pattern,
        ) else {
            return Err(PlanError::ProfileIncomplete {
                profile: run.profile.id.clone(),
                message: format!(
                    "service {} is not allowed but has no stop/disable/status commands",
                    service.id
                ),
            });
        };
        let before = run.session.run(status).await?;
        if disabled.is_match(&before) {
            continue;
        }
        run.progress(
            format!("closing {} ({})", service.id, service.description),
            None,
            None,
        );
        run.session.run(stop).await?;
        run.session.run(disable).await?;
        changed = true;
        let after = run.session.run(status).await?;
        if !disabled.is_match(&after) {
            return Err(PlanError::DeviceMisbehaved(format!(
                "service {} still reports {:?} after `{stop}` and `{disable}`",
                service.id,
                after.lines().last().unwrap_or("")
            )));
        }
    }
    Ok(if changed {
        StepOutcome::Done
    } else {
        StepOutcome::AlreadyDone
    })
}
