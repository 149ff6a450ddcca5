//! Rotate credentials: replace every factory credential with a strong unique one, crash-safely.
//!
//! Per store: find which credential the device holds now (from outside, or by the console login that opened
//! this session); if it holds the pending one, the last run died after the device took it: mark it current. If
//! it holds the current one, there is nothing to do (unless it is due: older than the policy's maximum age, or
//! the run was asked to rotate now). Else
//! reuse the pending credential or generate one, commit it durably as pending, and only then send it; confirm it
//! from outside (or by a fresh console login) and mark it current.

use crate::checks::{AuthOutcome, CheckKind};
use crate::event::{Event, StepOutcome};
use crate::inventory::CredentialRecord;
use crate::plan::context::{now, Run};
use crate::plan::PlanError;
use crate::profile::{Confirm, CredentialChange, CredentialKind, CredentialStore};
use crate::proto::console::{DialogStep, LoginOutcome};
use crate::Secret;

use super::outside;

pub(crate) async fn run(run: &mut Run<'_, '_>) -> Result<StepOutcome, PlanError> {
    let stores = run.profile.credentials.clone();
    let mut changed = false;
    for store in &stores {
        run.progress(format!("{}: {}", store.id, store.description), None, None);
        let changed_here = match store.kind {
            CredentialKind::ConsoleLogin => rotate_console(run, store).await?,
            CredentialKind::Command | CredentialKind::Setting => {
                rotate_confirmed_outside(run, store).await?
            }
        };
        changed |= changed_here;
    }
    Ok(if changed {
        StepOutcome::Done
    } else {
        StepOutcome::AlreadyDone
    })
}

fn record_for(
    run: &Run<'_, '_>,
    store: &CredentialStore,
) -> Result<Option<CredentialRecord>, PlanError> {
    Ok(run
        .inventory
        .credentials(&run.device.serial)?
        .into_iter()
        .find(|c| c.store == store.id))
}

/// True when the store's current credential must be replaced although the device still takes it: the run was
/// asked to rotate now, or the credential is older than the policy's maximum age.
fn due(run: &Run<'_, '_>, record: &CredentialRecord) -> bool {
    run.rotate_now || expired(run, record)
}

fn expired(run: &Run<'_, '_>, record: &CredentialRecord) -> bool {
    match (
        run.profile.password_policy.max_age_days(),
        record.changed_at,
    ) {
        (Some(days), Some(at)) => now().saturating_sub(at) > u64::from(days) * 86_400,
        _ => false,
    }
}

/// The pending credential to send: the one already committed, or a new one committed now.
fn pending_or_new(
    run: &mut Run<'_, '_>,
    store: &CredentialStore,
    record: Option<&CredentialRecord>,
) -> Result<Secret, PlanError> {
    let secret = match record.and_then(|r| r.pending.clone()) {
        Some(pending) => pending,
        None => {
            let secret = run.profile.password_policy.generate();
            // Durable before the first byte goes to the device (the inventory fsyncs on commit).
            run.inventory
                .put_pending(&run.device.serial, &store.id, &store.username, &secret)?;
            secret
        }
    };
    run.emit(Event::CredentialPending {
        store: store.id.clone(),
    });
    record_strength(run, store, &secret)?;
    Ok(secret)
}

fn record_strength(
    run: &mut Run<'_, '_>,
    store: &CredentialStore,
    secret: &Secret,
) -> Result<(), PlanError> {
    let policy = run.profile.password_policy.check(secret);
    let detail = match &policy {
        Ok(()) => format!(
            "{} characters from the profile's alphabet, CSPRNG-generated",
            secret.len()
        ),
        Err(reason) => reason.clone(),
    };
    let check = CheckKind::CredentialStrength.record(store.id.clone(), policy.is_ok(), detail);
    run.record_check("rotation", check)
}

fn activate(run: &mut Run<'_, '_>, store: &CredentialStore, how: &str) -> Result<(), PlanError> {
    run.inventory
        .activate_pending(&run.device.serial, &store.id)?;
    run.emit(Event::CredentialActive {
        store: store.id.clone(),
    });
    let check = CheckKind::NewCredentialAccepted.record(store.id.clone(), true, how.to_string());
    run.record_check("rotation", check)
}

async fn rotate_console(run: &mut Run<'_, '_>, store: &CredentialStore) -> Result<bool, PlanError> {
    let record = record_for(run, store)?;
    let CredentialChange::Command {
        command,
        dialog,
        success,
    } = &store.change
    else {
        return Err(PlanError::ProfileIncomplete {
            profile: run.profile.id.clone(),
            message: format!("{} is a console login but has no change command", store.id),
        });
    };
    let Some(on_device) = run.console_password.clone() else {
        return Err(PlanError::DeviceIncompatible(format!(
            "{} is a console login, but the session on the device did not log in",
            store.id
        )));
    };
    let pending = record.as_ref().and_then(|r| r.pending.clone());
    if pending.as_ref() == Some(&on_device) {
        // The last run died after the device took the new password: it opened this session, so it is confirmed.
        run.emit(Event::CredentialAccepted {
            store: store.id.clone(),
        });
        activate(
            run,
            store,
            "console login with the new password succeeded (resumed run)",
        )?;
        return Ok(true);
    }
    if let Some(record) = &record {
        if record.current.as_ref() == Some(&on_device)
            && record.pending.is_none()
            && !due(run, record)
        {
            return Ok(false);
        }
    }
    let new = pending_or_new(run, store, record.as_ref())?;
    let steps: Vec<DialogStep> = dialog
        .iter()
        .map(|d| DialogStep {
            expect: d.expect.clone(),
            answer: d.render(&new),
        })
        .collect();
    let store_id = store.id.clone();
    let events = &mut run.events;
    let mut on_sent = |i: usize| {
        if i == 0 {
            events(&Event::CredentialSent {
                store: store_id.clone(),
            });
        }
    };
    let console = run.session.console("a password change dialog")?;
    let output = console.dialog(command, &steps, &mut on_sent).await?;
    if !success.is_match(&output) {
        return Err(PlanError::DeviceMisbehaved(format!(
            "`{command}` did not report success for {}: {:?}. The pending credential stays in the inventory; run again",
            store.id,
            last_line(&output)
        )));
    }
    run.emit(Event::CredentialAccepted {
        store: store.id.clone(),
    });
    // Confirm with a fresh login: the new password must open the console.
    let console = run.session.console("a console login")?;
    console.logout().await?;
    if console.login(&store.username, &new).await? != LoginOutcome::Accepted {
        return Err(PlanError::DeviceMisbehaved(format!(
            "the device reported the new {} password set, but refuses it at login. The inventory keeps both; run again",
            store.id
        )));
    }
    run.console_password = Some(new);
    activate(run, store, "console login with the new password succeeded")?;
    Ok(true)
}

/// A store whose new credential is sent by a command or an SMP setting and proven from outside.
async fn rotate_confirmed_outside(
    run: &mut Run<'_, '_>,
    store: &CredentialStore,
) -> Result<bool, PlanError> {
    let record = record_for(run, store)?;
    let pending = record.as_ref().and_then(|r| r.pending.clone());
    let current = record.as_ref().and_then(|r| r.current.clone());
    if let Some(pending) = &pending {
        if confirm(run, store, pending).await? == AuthOutcome::Accepted {
            run.emit(Event::CredentialAccepted {
                store: store.id.clone(),
            });
            activate(run, store, &confirm_detail(store, "(resumed run)"))?;
            return Ok(true);
        }
    }
    let on_current = match &current {
        Some(current) => confirm(run, store, current).await? == AuthOutcome::Accepted,
        None => false,
    };
    if on_current && pending.is_none() && !record.as_ref().is_some_and(|r| due(run, r)) {
        return Ok(false);
    }
    if !on_current && confirm(run, store, &store.default_password).await? != AuthOutcome::Accepted {
        return Err(PlanError::NoWorkingCredential {
            store: store.id.clone(),
            help: "reset the device's account to its factory default, then run again".into(),
        });
    }
    let new = pending_or_new(run, store, record.as_ref())?;
    send(run, store, &new).await?;
    run.emit(Event::CredentialAccepted {
        store: store.id.clone(),
    });
    if confirm(run, store, &new).await? != AuthOutcome::Accepted {
        return Err(PlanError::DeviceMisbehaved(format!(
            "the device reported {} changed but refuses the new credential from outside. The inventory keeps both; run again",
            store.id
        )));
    }
    activate(run, store, &confirm_detail(store, ""))?;
    Ok(true)
}

/// Sends the new credential to the device the way the store is changed.
async fn send(
    run: &mut Run<'_, '_>,
    store: &CredentialStore,
    new: &Secret,
) -> Result<(), PlanError> {
    match &store.change {
        CredentialChange::Command { success, .. } => {
            let line = store
                .change
                .render_command(new)
                .expect("a command store renders a command");
            let output = run.session.run_secret(&line).await?;
            run.emit(Event::CredentialSent {
                store: store.id.clone(),
            });
            if !success.is_match(&output) {
                return Err(PlanError::DeviceMisbehaved(format!(
                    "the device did not report success changing {}: {:?}",
                    store.id,
                    last_line(&output)
                )));
            }
        }
        CredentialChange::Setting { name } => {
            run.emit(Event::CredentialSent {
                store: store.id.clone(),
            });
            run.session.write_secret_setting(name, new).await?;
        }
    }
    Ok(())
}

fn confirm_detail(store: &CredentialStore, note: &str) -> String {
    let how = match &store.confirm {
        Confirm::ConsoleLogin => "console login".to_string(),
        Confirm::HttpDigest { port, path } => format!("HTTP Digest on port {port} {path}"),
        Confirm::RtspDigest { port, path } => format!("RTSP Digest on port {port} {path}"),
    };
    format!("new credential accepted by {how} {note}")
        .trim_end()
        .to_string()
}

/// Tries one credential against the store's service from outside (a challenge-response protocol).
async fn confirm(
    run: &Run<'_, '_>,
    store: &CredentialStore,
    secret: &Secret,
) -> Result<AuthOutcome, PlanError> {
    outside::try_credential(run, store, &store.username, secret).await
}

fn last_line(output: &str) -> &str {
    output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}
