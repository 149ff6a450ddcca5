//! Default-credential trials: after rotation and before any service is closed, the factory default and the
//! well-known default credentials (the Mirai botnet's list) are tried against every still-open service that a
//! credential store guards. Every one must be refused.

use crate::checks::{mirai_credentials, try_all, AuthOutcome, CheckKind, TrialResult};
use crate::event::{StepId, StepOutcome};
use crate::plan::context::Run;
use crate::plan::PlanError;
use crate::Secret;

use super::outside::Trial;

pub(crate) async fn run(run: &mut Run<'_, '_>) -> Result<StepOutcome, PlanError> {
    if run.step_done_before(StepId::DefaultCredentialTrials)? {
        return Ok(StepOutcome::AlreadyDone);
    }
    for store in run.profile.credentials.clone() {
        let Some((trial, service)) = Trial::defaults_for(run, &store) else {
            continue;
        };
        if !crate::checks::scan::port_open(trial.addr()).await {
            run.progress(
                format!("{} is closed already: no trial needed", service.id),
                None,
                None,
            );
            continue;
        }
        let mut creds: Vec<(String, Secret)> =
            vec![(store.username.clone(), store.default_password.clone())];
        for pair in mirai_credentials() {
            if !creds.contains(&pair) {
                creds.push(pair);
            }
        }
        let total = creds.len();
        run.progress(
            format!(
                "trying {total} default credentials over {} on {}",
                trial.protocol(),
                trial.addr()
            ),
            None,
            None,
        );
        let profile = run.profile.clone();
        let results: Vec<TrialResult> = try_all(
            |user, secret| {
                let trial = trial.clone();
                let profile = profile.clone();
                async move { trial.attempt(&profile, &user, &secret).await }
            },
            creds,
            profile.trial_concurrency,
        )
        .await;
        let accepted: Vec<&str> = results
            .iter()
            .filter(|r| r.outcome == Ok(AuthOutcome::Accepted))
            .map(|r| r.user.as_str())
            .collect();
        let undecided: Vec<String> = results
            .iter()
            .filter_map(|r| r.outcome.as_ref().err().map(|e| format!("{}: {e}", r.user)))
            .collect();
        let passed = accepted.is_empty() && undecided.is_empty();
        let detail = if passed {
            format!("all {total} refused (the factory default and the Mirai list)")
        } else if !accepted.is_empty() {
            format!(
                "ACCEPTED a default credential for user(s) {}",
                accepted.join(", ")
            )
        } else {
            format!(
                "{} trials could not decide: {}",
                undecided.len(),
                undecided.join("; ")
            )
        };
        let subject = format!("{} {} ({})", service.id, trial.addr(), store.id);
        run.record_check(
            "trials",
            CheckKind::DefaultCredentialRefused.record(subject, passed, detail),
        )?;
    }
    Ok(StepOutcome::Done)
}
