//! Disable services: stop now and disable at boot every service the profile does not allow: by its stop,
//! disable and status commands (console), or by writing its SMP setting, committing and reading it back.

use crate::event::StepOutcome;
use crate::plan::context::Run;
use crate::plan::PlanError;
use crate::profile::{ServiceSpec, SettingValue};

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
        if let Some(setting) = &service.close_setting {
            changed |= close_by_setting(run, service, setting).await?;
            continue;
        }
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

/// Closes `service` through its SMP setting; returns whether anything changed. The setting is written and
/// committed (the device applies it now and keeps it across boots) and read back.
async fn close_by_setting(
    run: &mut Run<'_, '_>,
    service: &ServiceSpec,
    setting: &SettingValue,
) -> Result<bool, PlanError> {
    let wanted = setting.value.as_bytes();
    if run.session.read_setting(&setting.name).await?.as_deref() == Some(wanted) {
        return Ok(false);
    }
    run.progress(
        format!(
            "closing {} ({}): {} = {:?}",
            service.id, service.description, setting.name, setting.value
        ),
        None,
        None,
    );
    run.session.write_setting(&setting.name, wanted).await?;
    run.session.commit_settings().await?;
    let after = run.session.read_setting(&setting.name).await?;
    if after.as_deref() != Some(wanted) {
        return Err(PlanError::DeviceMisbehaved(format!(
            "setting {} reads {:?} after Temper wrote {:?} to close {}",
            setting.name,
            after.as_deref().map(String::from_utf8_lossy),
            setting.value,
            service.id
        )));
    }
    Ok(true)
}
