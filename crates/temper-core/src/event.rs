//! Progress as a typed event stream.
//!
//! A plan run emits, in order: one [`Event::PlanStarted`]; then for each step a [`Event::StepStarted`], any number
//! of step-scoped events ([`Event::Progress`], credential events, [`Event::Check`]), and one
//! [`Event::StepFinished`]; and last one [`Event::PlanFinished`]. Front ends render these; the library never prints.
//!
//! Credential events for one store always come in this order, and each is emitted only after the fact it states
//! is true: `CredentialPending` (the new secret is durably in the inventory, nothing sent yet), `CredentialSent`
//! (the first entry went to the device), `CredentialAccepted` (the device reported the change),
//! `CredentialActive` (confirmed from outside and marked current in the inventory).

use serde::Serialize;

use crate::checks::CheckRecord;

/// One hardening step of a plan, in the order a plan runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepId {
    /// Log in and read model, firmware, serial and address from the device.
    Identify,
    /// Scan the device from outside before changing anything.
    Baseline,
    /// Replace each factory credential with a strong unique one.
    RotateCredentials,
    /// Lock the extra accounts the profile names.
    LockAccounts,
    /// Try factory defaults and well-known default credentials against every still-open service.
    DefaultCredentialTrials,
    /// Stop and disable at boot the services the profile does not allow.
    DisableServices,
    /// Set the device's clock, have it make a key and a CSR, sign it with the station CA, install and switch.
    Certificate,
    /// Scan again from outside and compare with the baseline.
    Verify,
    /// Record the hardened state in the inventory.
    Record,
}

impl StepId {
    /// All steps in plan order.
    pub const ALL: [StepId; 9] = [
        StepId::Identify,
        StepId::Baseline,
        StepId::RotateCredentials,
        StepId::LockAccounts,
        StepId::DefaultCredentialTrials,
        StepId::DisableServices,
        StepId::Certificate,
        StepId::Verify,
        StepId::Record,
    ];

    /// Stable kebab-case name, as stored in the inventory and shown in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            StepId::Identify => "identify",
            StepId::Baseline => "baseline",
            StepId::RotateCredentials => "rotate-credentials",
            StepId::LockAccounts => "lock-accounts",
            StepId::DefaultCredentialTrials => "default-credential-trials",
            StepId::DisableServices => "disable-services",
            StepId::Certificate => "certificate",
            StepId::Verify => "verify",
            StepId::Record => "record",
        }
    }

    /// Parses [`StepId::as_str`] output.
    pub fn parse(name: &str) -> Option<StepId> {
        StepId::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// What the step does, in plain words for people.
    pub fn title(self) -> &'static str {
        match self {
            StepId::Identify => "Identifying the device",
            StepId::Baseline => "Scanning the device from outside (before)",
            StepId::RotateCredentials => "Replacing the factory passwords",
            StepId::LockAccounts => "Locking extra accounts",
            StepId::DefaultCredentialTrials => "Trying default passwords against open services",
            StepId::DisableServices => "Closing services that are not needed",
            StepId::Certificate => "Giving the device its own certificate",
            StepId::Verify => "Checking the result from outside",
            StepId::Record => "Recording the hardened state",
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum StepOutcome {
    /// The step changed what it had to and verified it.
    Done,
    /// Nothing to change: the device was already in the wanted state (a resumed or repeated run).
    AlreadyDone,
    /// The step failed; the message says what to do.
    Failed {
        /// What failed, for people.
        message: String,
    },
}

/// The stages of the certificate step, in order. Each event is emitted only after its fact is true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertStage {
    /// The device's clock was set and read back.
    ClockSet,
    /// The device made a new private key (it never leaves the device).
    KeyGenerated,
    /// The device's CSR passed every check (signature, key, challenge, names).
    CsrChecked,
    /// The signed certificate is durably in the inventory as pending; nothing was sent yet.
    Pending,
    /// The device installed it and read back its fingerprint.
    Installed,
    /// The TLS service was switched to it.
    Switched,
    /// Verified from outside and marked active in the inventory.
    Active,
    /// A TLS client's endpoint setting points at Temper's verification endpoint for one connection (the
    /// site's value is kept in the inventory until it is written back and read back).
    EndpointPointed,
}

impl CertStage {
    /// Stable kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            CertStage::ClockSet => "clock-set",
            CertStage::KeyGenerated => "key-generated",
            CertStage::CsrChecked => "csr-checked",
            CertStage::Pending => "pending",
            CertStage::Installed => "installed",
            CertStage::Switched => "switched",
            CertStage::Active => "active",
            CertStage::EndpointPointed => "endpoint-pointed",
        }
    }
}

/// A progress event. See the module docs for the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "event")]
pub enum Event {
    /// A plan starts on the device at `port`.
    PlanStarted {
        /// The port path used for this run (informational; devices are keyed by serial).
        port: String,
        /// The steps in order.
        steps: Vec<StepId>,
    },
    /// The device was identified.
    DeviceIdentified {
        /// Serial number read from the device.
        serial: String,
        /// Model read from the device.
        model: String,
        /// Firmware version read from the device.
        firmware: String,
        /// Profile that matched.
        profile: String,
        /// True if the inventory already knew this device (a resumed or repeated run).
        known: bool,
    },
    /// A step starts.
    StepStarted {
        /// The step.
        step: StepId,
    },
    /// Free-form progress inside a step (never carries a secret).
    Progress {
        /// The step.
        step: StepId,
        /// What is happening.
        message: String,
        /// Work done so far, if countable.
        done: Option<u64>,
        /// Total work, if countable.
        total: Option<u64>,
    },
    /// A new credential for `store` is durably in the inventory as pending; nothing was sent yet.
    CredentialPending {
        /// Credential store id from the profile.
        store: String,
    },
    /// The first entry of the pending credential went to the device.
    CredentialSent {
        /// Credential store id.
        store: String,
    },
    /// The device reported that it took the new credential.
    CredentialAccepted {
        /// Credential store id.
        store: String,
    },
    /// The new credential was confirmed and is now the current one in the inventory.
    CredentialActive {
        /// Credential store id.
        store: String,
    },
    /// A stage of the certificate step is done (see [`CertStage`]); the fingerprint once there is a certificate.
    Certificate {
        /// The stage just completed.
        stage: CertStage,
        /// SHA-256 of the certificate (lower-case hex), from [`CertStage::Pending`] on.
        fingerprint: Option<String>,
    },
    /// An outside check finished.
    Check(CheckRecord),
    /// A step ended.
    StepFinished {
        /// The step.
        step: StepId,
        /// How it ended.
        #[serde(flatten)]
        outcome: StepOutcome,
    },
    /// The plan ended.
    PlanFinished {
        /// True when every step succeeded and every check passed.
        hardened: bool,
    },
    /// The link dropped (a BLE connection lost); Temper reconnects after `retry_in_ms` and runs the plan
    /// again, which resumes where it stopped.
    LinkLost {
        /// What happened, for people.
        message: String,
        /// Reconnect attempt number, from 1.
        attempt: u32,
        /// The back-off before the attempt.
        retry_in_ms: u64,
    },
}

impl Event {
    /// A short stable key for this event, e.g. `step-finished:baseline` or `credential-pending:web-admin`.
    /// Test harnesses use it to name points in a run.
    pub fn key(&self) -> String {
        match self {
            Event::PlanStarted { .. } => "plan-started".into(),
            Event::DeviceIdentified { .. } => "device-identified".into(),
            Event::StepStarted { step } => format!("step-started:{}", step.as_str()),
            Event::Progress { step, .. } => format!("progress:{}", step.as_str()),
            Event::CredentialPending { store } => format!("credential-pending:{store}"),
            Event::CredentialSent { store } => format!("credential-sent:{store}"),
            Event::CredentialAccepted { store } => format!("credential-accepted:{store}"),
            Event::CredentialActive { store } => format!("credential-active:{store}"),
            Event::Certificate { stage, .. } => format!("certificate:{}", stage.as_str()),
            Event::Check(c) => format!("check:{}", c.id),
            Event::StepFinished { step, .. } => format!("step-finished:{}", step.as_str()),
            Event::PlanFinished { .. } => "plan-finished".into(),
            Event::LinkLost { attempt, .. } => format!("link-lost:{attempt}"),
        }
    }
}

/// Where a plan sends its events. Called synchronously, in order, before the plan goes on.
pub type EventSink<'a> = &'a mut (dyn FnMut(&Event) + Send);
