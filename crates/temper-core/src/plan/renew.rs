//! Certificate renewal of a commissioned device: identify → certificate (a new key and certificate, switched
//! to and verified from outside) → the TLS checks of verify. Crash-safe like commissioning: the new
//! certificate is pending in the inventory before it is sent, and a re-run picks it up wherever it stopped.

use std::time::Duration;

use crate::event::{Event, EventSink, StepId, StepOutcome};
use crate::inventory::{CertState, HardenedState, Inventory};
use crate::transport::Link;

use super::steps::certificate::{self, Purpose};
use super::{steps, CommissionOptions, PlanError, Report};

/// What to renew.
#[derive(Debug, Clone, Default)]
pub struct RenewOptions {
    /// The serial the device on the port must have; renewal refuses another device.
    pub device: Option<String>,
    /// Renew only if the active certificate expires within this long (station time); `None`: always.
    pub due_within: Option<Duration>,
}

/// The steps a renewal runs.
pub const RENEW_STEPS: [StepId; 3] = [StepId::Identify, StepId::Certificate, StepId::Verify];

/// Renews the certificate of the commissioned device behind `link`.
pub async fn renew_certificate(
    link: Box<dyn Link>,
    options: CommissionOptions,
    renew: RenewOptions,
    inventory: &mut dyn Inventory,
    events: EventSink<'_>,
) -> Result<Report, PlanError> {
    events(&Event::PlanStarted {
        port: options.port.clone(),
        steps: RENEW_STEPS.to_vec(),
    });
    let mut run = steps::identify::run(link, &options, inventory, events).await?;
    run.clock_offset_secs = options.clock_offset_secs;
    let serial = run.device.serial.clone();
    if let Some(expected) = &renew.device {
        if *expected != serial {
            let _ = run.session.close().await;
            return Err(PlanError::WrongDevice {
                expected: expected.clone(),
                found: serial,
                port: options.port.clone(),
            });
        }
    }
    let certs = run.inventory.device_certs(&serial)?;
    let has_pending = certs.iter().any(|c| c.state == CertState::Pending);
    let active = certs
        .iter()
        .rev()
        .find(|c| c.state == CertState::Active)
        .cloned();
    if run.device.state != HardenedState::Hardened && active.is_none() && !has_pending {
        let _ = run.session.close().await;
        return Err(PlanError::NotCommissioned(serial));
    }
    run.begin(StepId::Certificate);
    let due = match (renew.due_within, &active) {
        (Some(within), Some(active)) if !has_pending => {
            let limit = run.station_now() + within;
            let not_after = std::time::UNIX_EPOCH + Duration::from_secs(active.not_after);
            (not_after <= limit).then_some(()).ok_or(not_after)
        }
        _ => Ok(()),
    };
    let outcome = match due {
        Ok(()) => certificate::run(&mut run, Purpose::Renew).await,
        Err(not_after) => {
            run.progress(
                format!(
                    "not due: the certificate is valid until {}",
                    humantime::format_rfc3339_seconds(not_after)
                ),
                None,
                None,
            );
            Ok(StepOutcome::AlreadyDone)
        }
    };
    run.end(StepId::Certificate, outcome)?;
    run.begin(StepId::Verify);
    let outcome = steps::verify_tls::run(&mut run)
        .await
        .map(|()| StepOutcome::Done);
    run.end(StepId::Verify, outcome)?;
    let passed = run.all_checks_passed();
    let mut report = run.report(passed)?;
    report.run = "renew-certificate";
    run.session.close().await?;
    (run.events)(&Event::PlanFinished { hardened: passed });
    Ok(report)
}
