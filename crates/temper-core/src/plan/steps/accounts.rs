//! Lock accounts: find the extra login accounts the profile names and lock each one present.

use crate::checks::CheckKind;
use crate::event::StepOutcome;
use crate::plan::context::Run;
use crate::plan::PlanError;

pub(crate) async fn run(run: &mut Run<'_, '_>) -> Result<StepOutcome, PlanError> {
    let Some(accounts) = run.profile.accounts.clone() else {
        run.progress("this model has no extra factory accounts", None, None);
        return Ok(StepOutcome::AlreadyDone);
    };
    let listing = run.session.run(&accounts.list_command).await?;
    let mut changed = false;
    for user in &accounts.lock {
        let present = listing
            .lines()
            .any(|l| l.split(':').next() == Some(user.as_str()));
        if !present {
            run.progress(format!("account {user} not present"), None, None);
            continue;
        }
        let locked = accounts.locked_regex(user);
        let before = run.session.run(&accounts.locked_check_command).await?;
        if !locked.is_match(&before) {
            run.progress(format!("locking account {user}"), None, None);
            run.session.run(&accounts.lock_command_for(user)).await?;
            changed = true;
        }
        let after = run.session.run(&accounts.locked_check_command).await?;
        let passed = locked.is_match(&after);
        let detail = if passed {
            format!("`{}` shows {user} locked", accounts.locked_check_command)
        } else {
            format!(
                "{user} still unlocked after `{}`",
                accounts.lock_command_for(user)
            )
        };
        let check = CheckKind::ExtraAccountLocked.record(format!("account {user}"), passed, detail);
        run.record_check("accounts", check)?;
        if !passed {
            return Err(PlanError::DeviceMisbehaved(format!(
                "the device did not lock account {user}; lock it by hand or check the profile's accounts.lock_command"
            )));
        }
    }
    Ok(if changed {
        StepOutcome::Done
    } else {
        StepOutcome::AlreadyDone
    })
}
