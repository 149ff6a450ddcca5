//! A plan's events as the window shows them: the same order and facts as [`temper_core::event::Event`], in
//! plain words for people who are not security engineers. One commissioning run's events carry its job id.

use serde::Serialize;
use temper_core::event::{CertStage, Event, StepId, StepOutcome};
use ts_rs::TS;

use crate::error::ApiError;

/// One step of the plan as listed before it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct StepTitle {
    /// Stable step id, e.g. `rotate-credentials`.
    pub step: String,
    /// What it does, in plain words.
    pub title: String,
}

/// What the window hears about one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum RunEvent {
    /// The run started; these are its steps in order.
    Started {
        /// The steps.
        steps: Vec<StepTitle>,
    },
    /// The device said who it is.
    Identified {
        /// Its serial number.
        serial: String,
        /// Its model.
        model: String,
        /// Its firmware version.
        firmware: String,
        /// True when Temper had seen it before (the run resumes).
        known: bool,
    },
    /// A step started.
    StepStarted {
        /// Step id.
        step: String,
        /// Plain words.
        title: String,
    },
    /// What is happening now, in plain words.
    Activity {
        /// Step id.
        step: String,
        /// Plain words, ending with "…" while it goes on.
        text: String,
    },
    /// An outside check finished.
    Check {
        /// Check id.
        id: String,
        /// What was checked.
        subject: String,
        /// True when the device passed.
        passed: bool,
        /// What was seen.
        detail: String,
        /// The guideline items it proves.
        guideline: Vec<String>,
    },
    /// A step ended.
    StepFinished {
        /// Step id.
        step: String,
        /// False when it failed.
        ok: bool,
        /// True when there was nothing to do (a resumed run).
        skipped: bool,
        /// Why it failed.
        message: Option<String>,
    },
    /// The run ended.
    Finished {
        /// True when every step succeeded and every check passed.
        hardened: bool,
        /// The device's serial.
        serial: String,
    },
    /// The run stopped; the error says what to do (usually Retry).
    Failed {
        /// What went wrong.
        error: ApiError,
    },
}

/// A run's event with the run it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct JobEvent {
    /// The run.
    pub job: u32,
    /// The attached device it runs on (its discovery id).
    pub device: String,
    /// What happened.
    pub event: RunEvent,
}

/// Tracks the current step so that step-less events (credential, certificate) get one.
#[derive(Default)]
pub struct Translator {
    step: Option<StepId>,
    serial: String,
}

impl Translator {
    /// The window's view of `event`, if it shows one.
    pub fn translate(&mut self, event: &Event) -> Option<RunEvent> {
        let step = self
            .step
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        let activity = |text: String| {
            Some(RunEvent::Activity {
                step: step.clone(),
                text,
            })
        };
        match event {
            Event::PlanStarted { steps, .. } => Some(RunEvent::Started {
                steps: steps
                    .iter()
                    .map(|s| StepTitle {
                        step: s.as_str().into(),
                        title: s.title().into(),
                    })
                    .collect(),
            }),
            Event::DeviceIdentified {
                serial,
                model,
                firmware,
                known,
                ..
            } => {
                self.serial = serial.clone();
                Some(RunEvent::Identified {
                    serial: serial.clone(),
                    model: model.clone(),
                    firmware: firmware.clone(),
                    known: *known,
                })
            }
            Event::StepStarted { step } => {
                self.step = Some(*step);
                Some(RunEvent::StepStarted {
                    step: step.as_str().into(),
                    title: format!("{}…", step.title()),
                })
            }
            Event::Progress { message, .. } => activity(plain_progress(message)),
            Event::CredentialPending { store } => activity(format!(
                "Saving a new password for {} before sending it…",
                store_name(store)
            )),
            Event::CredentialSent { store } => activity(format!(
                "Replacing the factory password of {}…",
                store_name(store)
            )),
            Event::CredentialAccepted { store } => activity(format!(
                "The device took the new password of {}; confirming it…",
                store_name(store)
            )),
            Event::CredentialActive { store } => {
                activity(format!("The new password of {} works.", store_name(store)))
            }
            Event::Certificate { stage, .. } => activity(cert_stage(*stage).into()),
            Event::Check(c) => Some(RunEvent::Check {
                id: c.id.clone(),
                subject: c.subject.clone(),
                passed: c.passed,
                detail: c.detail.clone(),
                guideline: c.guideline.clone(),
            }),
            Event::StepFinished { step, outcome } => {
                let (ok, skipped, message) = match outcome {
                    StepOutcome::Done => (true, false, None),
                    StepOutcome::AlreadyDone => (true, true, None),
                    StepOutcome::Failed { message } => (false, false, Some(message.clone())),
                };
                Some(RunEvent::StepFinished {
                    step: step.as_str().into(),
                    ok,
                    skipped,
                    message,
                })
            }
            Event::LinkLost { message, .. } => {
                activity(format!("{message}; reconnecting to resume"))
            }
            Event::PlanFinished { hardened } => Some(RunEvent::Finished {
                hardened: *hardened,
                serial: self.serial.clone(),
            }),
        }
    }
}

/// A credential store as people say it.
fn store_name(store: &str) -> String {
    match store {
        "shell-root" | "console-root" => "the device's administrator account".into(),
        "web-admin" => "the web page".into(),
        "rtsp-admin" => "the video stream".into(),
        other => format!("\"{other}\""),
    }
}

fn cert_stage(stage: CertStage) -> &'static str {
    match stage {
        CertStage::ClockSet => "Setting the device's clock…",
        CertStage::KeyGenerated => {
            "The device made its own secret key (it never leaves the device)."
        }
        CertStage::CsrChecked => "Checking the device's certificate request…",
        CertStage::Pending => "Signed the device's certificate and saved it…",
        CertStage::Installed => "The device installed its certificate…",
        CertStage::Switched => "The device now uses its own certificate; checking it from outside…",
        CertStage::Active => "The device's certificate is verified.",
        CertStage::EndpointPointed => "The device is connecting to Temper to show its certificate…",
    }
}

/// Core progress text made into a sentence: services get their plain name ("Closing remote access (telnet)…").
fn plain_progress(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("closing ") {
        let id = rest.split_whitespace().next().unwrap_or(rest);
        let what = match id {
            "telnet" => "remote access (telnet)".to_string(),
            "ssdp" | "upnp" => "automatic network discovery (UPnP)".to_string(),
            "http" => "the unencrypted web page (http)".to_string(),
            "ftp" => "file transfer (ftp)".to_string(),
            _ => rest.to_string(),
        };
        return format!("Closing {what}…");
    }
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!("{}{}", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards the end-user wording the issue asks for, and that step-less events get the current step.
    #[test]
    fn events_become_plain_words_with_their_step() {
        let mut t = Translator::default();
        let started = t.translate(&Event::StepStarted {
            step: StepId::DisableServices,
        });
        assert!(
            matches!(started, Some(RunEvent::StepStarted { ref title, .. }) if title.ends_with('…'))
        );
        let closing = t.translate(&Event::Progress {
            step: StepId::DisableServices,
            message: "closing telnet (remote shell)".into(),
            done: None,
            total: None,
        });
        assert_eq!(
            closing,
            Some(RunEvent::Activity {
                step: "disable-services".into(),
                text: "Closing remote access (telnet)…".into()
            })
        );
        t.translate(&Event::StepStarted {
            step: StepId::RotateCredentials,
        });
        let sent = t.translate(&Event::CredentialSent {
            store: "web-admin".into(),
        });
        assert_eq!(
            sent,
            Some(RunEvent::Activity {
                step: "rotate-credentials".into(),
                text: "Replacing the factory password of the web page…".into()
            })
        );
    }

    #[test]
    fn failed_step_carries_its_message() {
        let mut t = Translator::default();
        let e = t.translate(&Event::StepFinished {
            step: StepId::Verify,
            outcome: StepOutcome::Failed {
                message: "port 23 open".into(),
            },
        });
        assert_eq!(
            e,
            Some(RunEvent::StepFinished {
                step: "verify".into(),
                ok: false,
                skipped: false,
                message: Some("port 23 open".into())
            })
        );
    }
}
