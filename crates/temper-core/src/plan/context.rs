//! The state one plan run carries from step to step.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::checks::CheckRecord;
use crate::event::{Event, EventSink, StepId, StepOutcome};
use crate::inventory::{DeviceRecord, HardenedState, Inventory, StepState};
use crate::profile::Profile;
use crate::Secret;

use super::report::{CredentialSummary, Report, StepSummary};
use super::session::DeviceSession;
use super::PlanError;

/// What identification found: the session on the device and the device behind it.
pub(crate) struct Opened {
    pub session: DeviceSession,
    pub profile: Profile,
    pub device: DeviceRecord,
    pub address: IpAddr,
    pub port: String,
    pub console_password: Option<Secret>,
}

/// One plan run on one identified device.
pub(crate) struct Run<'i, 'e> {
    pub session: DeviceSession,
    pub profile: Profile,
    pub inventory: &'i mut dyn Inventory,
    pub events: EventSink<'e>,
    pub device: DeviceRecord,
    pub address: IpAddr,
    pub port: String,
    /// The console password that opened the current console session (the shell store's value on the device);
    /// `None` for a driver without a login.
    pub console_password: Option<Secret>,
    /// Checks made in this run, with their phase (`rotation`, `trials`, `verify`...).
    pub checks: Vec<(String, CheckRecord)>,
    pub steps: Vec<StepSummary>,
    /// Seconds added to the system clock for every certificate time and the device's clock (tests move it).
    pub clock_offset_secs: i64,
    /// True when every credential is due for rotation whatever its age ([`super::CommissionOptions::rotate_now`]).
    pub rotate_now: bool,
    current_step: Option<StepId>,
}

impl<'i, 'e> Run<'i, 'e> {
    pub fn new(opened: Opened, inventory: &'i mut dyn Inventory, events: EventSink<'e>) -> Self {
        Run {
            session: opened.session,
            profile: opened.profile,
            inventory,
            events,
            device: opened.device,
            address: opened.address,
            port: opened.port,
            console_password: opened.console_password,
            checks: Vec::new(),
            steps: Vec::new(),
            clock_offset_secs: 0,
            rotate_now: false,
            current_step: None,
        }
    }

    /// The station's time: the system clock moved by [`Run::clock_offset_secs`].
    pub fn station_now(&self) -> SystemTime {
        let offset = std::time::Duration::from_secs(self.clock_offset_secs.unsigned_abs());
        if self.clock_offset_secs >= 0 {
            SystemTime::now() + offset
        } else {
            SystemTime::now() - offset
        }
    }

    /// [`Run::station_now`] as rustls wants it.
    pub fn station_unix_time(&self) -> rustls::pki_types::UnixTime {
        rustls::pki_types::UnixTime::since_unix_epoch(
            self.station_now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
        )
    }

    /// Starts a step: emits `StepStarted`.
    pub fn begin(&mut self, step: StepId) {
        self.current_step = Some(step);
        (self.events)(&Event::StepStarted { step });
    }

    /// Ends a step: records its state in the inventory, then emits `StepFinished`.
    pub fn end(
        &mut self,
        step: StepId,
        outcome: Result<StepOutcome, PlanError>,
    ) -> Result<(), PlanError> {
        let serial = self.device.serial.clone();
        let (state, event_outcome, result) = match outcome {
            Ok(outcome) => (StepState::Done, outcome, Ok(())),
            Err(error) => {
                let message = error.to_string();
                (
                    StepState::Failed {
                        message: message.clone(),
                    },
                    StepOutcome::Failed { message },
                    Err(error),
                )
            }
        };
        self.inventory.set_step(&serial, step.as_str(), &state)?;
        self.steps.push(StepSummary {
            step,
            outcome: event_outcome.clone(),
        });
        (self.events)(&Event::StepFinished {
            step,
            outcome: event_outcome,
        });
        self.current_step = None;
        result
    }

    /// Emits a progress message for the current step.
    pub fn progress(&mut self, message: impl Into<String>, done: Option<u64>, total: Option<u64>) {
        let step = self.current_step.unwrap_or(StepId::Identify);
        (self.events)(&Event::Progress {
            step,
            message: message.into(),
            done,
            total,
        });
    }

    /// Emits an event.
    pub fn emit(&mut self, event: Event) {
        (self.events)(&event);
    }

    /// Records a check: in the inventory (durably), in this run, and as an event.
    pub fn record_check(&mut self, phase: &str, check: CheckRecord) -> Result<(), PlanError> {
        self.inventory
            .put_check(&self.device.serial, phase, &check)?;
        (self.events)(&Event::Check(check.clone()));
        self.checks.push((phase.to_string(), check));
        Ok(())
    }

    /// True when a step completed in an earlier run of this device (resume).
    pub fn step_done_before(&self, step: StepId) -> Result<bool, PlanError> {
        let steps = self.inventory.steps(&self.device.serial)?;
        Ok(steps
            .iter()
            .any(|s| s.step == step.as_str() && matches!(s.state, StepState::Done)))
    }

    /// Sets the device's hardened state in the inventory.
    pub fn set_state(&mut self, state: HardenedState) -> Result<(), PlanError> {
        self.device.state = state;
        self.device.updated_at = now();
        self.inventory.upsert_device(&self.device)?;
        Ok(())
    }

    /// True when every check of this run passed.
    pub fn all_checks_passed(&self) -> bool {
        self.checks.iter().all(|(_, c)| c.passed)
    }

    /// The report of this run.
    pub fn report(&self, hardened: bool) -> Result<Report, PlanError> {
        let credentials = self
            .inventory
            .credentials(&self.device.serial)?
            .into_iter()
            .map(|c| CredentialSummary {
                store: c.store,
                username: c.username,
                rotated: c.current.is_some(),
                pending: c.pending.is_some(),
                changed_at: c.changed_at,
            })
            .collect();
        let baseline = self.inventory.document(&self.device.serial, "baseline")?;
        let after = self
            .inventory
            .document(&self.device.serial, "verify-surface")?;
        Ok(Report {
            run: "commission",
            hardened,
            port: self.port.clone(),
            device: self.device.clone(),
            address: self.address.to_string(),
            profile_id: self.profile.id.clone(),
            profile_hash: self.profile.source_hash.clone(),
            steps: self.steps.clone(),
            credentials,
            checks: self.checks.iter().map(|(_, c)| c.clone()).collect(),
            surface_before: baseline,
            surface_after: after,
            certificate: self.certificate_summary()?,
        })
    }

    fn certificate_summary(&self) -> Result<Option<super::CertificateSummary>, PlanError> {
        use crate::inventory::CertState;
        let serial = &self.device.serial;
        let certs = self.inventory.device_certs(serial)?;
        let newest = |state: CertState| certs.iter().rev().find(|c| c.state == state);
        let Some(cert) = newest(CertState::Active).or_else(|| newest(CertState::Pending)) else {
            return Ok(None);
        };
        let ca_fingerprint = self.inventory.station_ca()?.and_then(|ca| {
            rustls::pki_types::pem::PemObject::from_pem_slice(ca.cert_pem.as_bytes())
                .ok()
                .map(|der: rustls::pki_types::CertificateDer<'_>| {
                    crate::pki::fingerprint_sha256(&der)
                })
        });
        let factory = self.inventory.document(serial, "factory-certificate")?;
        let factory_fingerprint = factory
            .as_ref()
            .and_then(|f| f["fingerprint"].as_str().map(str::to_string));
        let factory_shared_with = factory
            .as_ref()
            .and_then(|f| f["shared_with"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect();
        Ok(Some(super::CertificateSummary {
            fingerprint: cert.fingerprint.clone(),
            state: cert.state.as_str().to_string(),
            not_after: cert.not_after,
            ca_fingerprint,
            factory_fingerprint,
            factory_shared_with,
        }))
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
