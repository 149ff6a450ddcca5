//! The hardening plan: identify → baseline → rotate credentials → lock accounts → default-credential trials →
//! disable services → verify → record.
//!
//! Every step checks the device first, acts only if needed, verifies, and then records its state in the
//! inventory, so a run interrupted at any point (a kill, an unplug, a power cycle) resumes when run again.
//!
//! Crash safety of credentials: a new credential is generated, durably committed to the inventory as *pending*
//! before the first byte of it goes to the device, then sent, confirmed from outside (or by a fresh console login),
//! and only then marked current. On a re-run the device is found with the old or the new credential, and the
//! inventory holds both, so the only copy of a new credential is never lost.

mod context;
mod error;
pub mod over_ble;
mod renew;
mod report;
mod session;
mod smp_session;
mod steps;

use std::net::IpAddr;

pub use error::PlanError;
pub use over_ble::{commission_over_ble, BleRunError};
pub use renew::{renew_certificate, RenewOptions, RENEW_STEPS};
pub use report::{CertificateSummary, CredentialSummary, Report, StepSummary};

use crate::event::{Event, EventSink, StepId};
use crate::inventory::audit::{AuditAction, NewAuditEvent};
use crate::inventory::{HardenedState, Inventory};
use crate::profile::Profile;
use crate::transport::Link;
use context::Run;

/// What to commission and how.
#[derive(Clone)]
pub struct CommissionOptions {
    /// The port path, for messages and the report (the device is keyed by its serial, never by this).
    pub port: String,
    /// Profiles to choose from. With one, that one is used; with several, the first whose identity matches.
    pub profiles: Vec<Profile>,
    /// The device's address as the operator knows it; by default Temper reads it from the device.
    pub address: Option<IpAddr>,
    /// A loopback address nothing uses, scanned beside a loopback device to tell the host's ports from the
    /// device's. Ignored for devices on other addresses.
    pub control_address: IpAddr,
    /// An optional site label recorded with the device (no other personal data is stored).
    pub site: Option<String>,
    /// Seconds added to the system clock for certificate times, the device's clock and TLS verification.
    /// 0 in real use; tests move the station's clock with it (renewal before expiry, for example).
    pub clock_offset_secs: i64,
    /// Rotate every credential store even if its current credential is still valid ("rotate now"): the same
    /// crash-safe path as an expired credential (a new one committed as pending before it is sent, confirmed
    /// from outside, then made current). Every run with this set rotates again; a resumed run first finishes
    /// a pending credential the device already took.
    pub rotate_now: bool,
    /// How the station reaches the device (transport, BLE bond), recorded with it once it is identified.
    pub link: Option<crate::inventory::link::DeviceLink>,
}

impl CommissionOptions {
    /// The control address Temper uses by default: an address in 127/8 that no simulator takes.
    pub const DEFAULT_CONTROL_ADDRESS: [u8; 4] = [127, 254, 254, 254];
}

/// Commissions the device behind `link`: runs every step of the plan, emitting events to `events`.
///
/// Returns the report when the plan ran to its end; `report.hardened` says whether every check passed.
/// Errors stop the plan; what was done so far is in the inventory and a re-run resumes.
pub async fn commission(
    link: Box<dyn Link>,
    options: CommissionOptions,
    inventory: &mut dyn Inventory,
    events: EventSink<'_>,
) -> Result<Report, PlanError> {
    events(&Event::PlanStarted {
        port: options.port.clone(),
        steps: StepId::ALL.to_vec(),
    });
    let mut run = steps::identify::run(link, &options, inventory, events).await?;
    run.clock_offset_secs = options.clock_offset_secs;
    run.rotate_now = options.rotate_now;
    let result = run_remaining(&mut run, &options).await;
    if let Err(error) = &result {
        let serial = run.device.serial.clone();
        if let Err(e) = run.set_state(HardenedState::Failed) {
            tracing::warn!(error = %e, serial, "could not record the failed state");
        }
        let event = NewAuditEvent::new(run.inventory.actor(), AuditAction::Commission)
            .device(&serial)
            .outcome("failed")
            .detail(serde_json::json!({ "port": options.port, "error": error.to_string() }));
        if let Err(e) = run.inventory.record_event(&event) {
            tracing::warn!(error = %e, serial, "could not audit the failed commissioning");
        }
        tracing::warn!(%error, "plan stopped");
    }
    result
}

async fn run_remaining(
    run: &mut Run<'_, '_>,
    options: &CommissionOptions,
) -> Result<Report, PlanError> {
    let control = options.control_address;
    run.begin(StepId::Baseline);
    let outcome = steps::baseline::run(run, control).await;
    run.end(StepId::Baseline, outcome)?;
    run.begin(StepId::RotateCredentials);
    let outcome = steps::rotate::run(run).await;
    run.end(StepId::RotateCredentials, outcome)?;
    run.begin(StepId::LockAccounts);
    let outcome = steps::accounts::run(run).await;
    run.end(StepId::LockAccounts, outcome)?;
    run.begin(StepId::DefaultCredentialTrials);
    let outcome = steps::trials::run(run).await;
    run.end(StepId::DefaultCredentialTrials, outcome)?;
    run.begin(StepId::DisableServices);
    let outcome = steps::services::run(run).await;
    run.end(StepId::DisableServices, outcome)?;
    run.begin(StepId::Certificate);
    let outcome = steps::certificate::run(run, steps::certificate::Purpose::Commission).await;
    run.end(StepId::Certificate, outcome)?;
    run.begin(StepId::Verify);
    let outcome = steps::verify::run(run, control).await;
    run.end(StepId::Verify, outcome)?;
    let hardened = run.all_checks_passed();
    run.begin(StepId::Record);
    let outcome = steps::record::run(run, hardened).await;
    run.end(StepId::Record, outcome)?;
    let report = run.report(hardened)?;
    (run.events)(&Event::PlanFinished { hardened });
    Ok(report)
}
