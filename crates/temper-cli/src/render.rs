//! Turning core events and reports into terminal output: indicatif on a terminal, plain lines otherwise,
//! JSON lines with `--json`. Secrets never reach any of these (core events carry none).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use temper_core::event::{CertStage, Event, StepOutcome};
use temper_core::plan::Report;

/// Renders one plan run's events.
pub struct Renderer {
    json: bool,
    bar: Option<ProgressBar>,
}

impl Renderer {
    /// A renderer for `--json` or for people.
    pub fn new(json: bool) -> Self {
        Renderer { json, bar: None }
    }

    /// Renders one event.
    pub fn event(&mut self, event: &Event) {
        if self.json {
            if let Ok(line) = serde_json::to_string(event) {
                println!("{line}");
            }
            return;
        }
        match event {
            Event::PlanStarted { port, steps } => {
                eprintln!("Commissioning the device on {port} ({} steps)", steps.len())
            }
            Event::DeviceIdentified {
                serial,
                model,
                firmware,
                profile,
                known,
            } => eprintln!(
                "  device: {model}, firmware {firmware}, serial {serial} (profile {profile}{})",
                if *known { ", known: resuming" } else { "" }
            ),
            Event::StepStarted { step } => self.start_bar(step.title()),
            Event::Progress {
                message,
                done,
                total,
                ..
            } => match (&self.bar, done, total) {
                (Some(bar), Some(done), Some(total)) => {
                    bar.set_message(format!("{message} ({done}/{total})"));
                }
                (Some(bar), _, _) => bar.set_message(message.clone()),
                (None, _, _) => eprintln!("    {message}"),
            },
            Event::CredentialPending { store } => {
                self.note(format!("{store}: new credential saved (pending)"))
            }
            Event::CredentialSent { store } => self.note(format!("{store}: sent to the device")),
            Event::CredentialAccepted { store } => {
                self.note(format!("{store}: the device took it"))
            }
            Event::CredentialActive { store } => {
                self.note(format!("{store}: confirmed and active"))
            }
            Event::Certificate { stage, fingerprint } => {
                let what = match stage {
                    CertStage::ClockSet => "device clock set",
                    CertStage::KeyGenerated => "the device made its own key",
                    CertStage::CsrChecked => "its certificate request passed every check",
                    CertStage::Pending => "certificate signed and saved (pending)",
                    CertStage::Installed => "installed on the device (fingerprint read back)",
                    CertStage::Switched => "the TLS service switched to it",
                    CertStage::Active => "verified from outside: active",
                    CertStage::EndpointPointed => {
                        "the device points at Temper's endpoint for one connection"
                    }
                };
                match fingerprint {
                    Some(fp) => {
                        self.note(format!("certificate: {what} [{}]", &fp[..16.min(fp.len())]))
                    }
                    None => self.note(format!("certificate: {what}")),
                }
            }
            Event::Check(check) => {
                let mark = if check.passed { "ok  " } else { "FAIL" };
                self.note(format!("{mark} {} {}", check.id, check.subject));
            }
            Event::StepFinished { step, outcome } => {
                let line = match outcome {
                    StepOutcome::Done => format!("✔ {}", step.title()),
                    StepOutcome::AlreadyDone => format!("✔ {} (already done)", step.title()),
                    StepOutcome::Failed { message } => format!("✘ {}: {message}", step.title()),
                };
                self.finish_bar(line);
            }
            Event::LinkLost {
                message,
                retry_in_ms,
                ..
            } => {
                self.finish();
                eprintln!(
                    "{message}; reconnecting in {:.1} s to resume",
                    *retry_in_ms as f64 / 1000.0
                );
            }
            Event::PlanFinished { hardened } => {
                eprintln!(
                    "{}",
                    if *hardened {
                        "Device hardened."
                    } else {
                        "Device NOT hardened."
                    }
                )
            }
        }
    }

    /// Clears any progress bar left (after an error).
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn start_bar(&mut self, title: &str) {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix} {wide_msg}") {
                bar.set_style(style);
            }
            bar.set_prefix(title.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            self.bar = Some(bar);
        } else {
            eprintln!("… {title}");
        }
    }

    fn note(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(format!("    {line}")),
            None => eprintln!("    {line}"),
        }
    }

    fn finish_bar(&mut self, line: String) {
        match self.bar.take() {
            Some(bar) => {
                bar.finish_and_clear();
                eprintln!("{line}");
            }
            None => eprintln!("{line}"),
        }
    }
}

/// Prints the final report: a JSON line with `--json`, else a table for people on stdout.
pub fn print_report(report: &Report, json: bool) {
    if json {
        let line = serde_json::json!({"event": "report", "report": report});
        println!("{line}");
        return;
    }
    print!("{}", report_text(report));
}

fn ports(surface: &Option<serde_json::Value>, field: &str) -> Vec<u64> {
    surface
        .as_ref()
        .and_then(|s| s.get(field))
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|p| p.as_u64()).collect())
        .unwrap_or_default()
}

fn list(ports: &[u64]) -> String {
    if ports.is_empty() {
        "none".into()
    } else {
        ports
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn ssdp(surface: &Option<serde_json::Value>) -> &'static str {
    match surface.as_ref().and_then(|s| s.get("ssdp")) {
        Some(v) if !v.is_null() => "answers M-SEARCH",
        Some(_) => "silent",
        None => "not scanned",
    }
}

/// The report as text for people. Never includes a secret.
pub fn report_text(report: &Report) -> String {
    let d = &report.device;
    let mut out = String::new();
    out.push_str(if report.run == "renew-certificate" {
        "\nTemper certificate renewal report\n"
    } else {
        "\nTemper commissioning report\n"
    });
    out.push_str(&format!(
        "  device    {} (serial {}, firmware {})\n",
        d.model, d.serial, d.firmware
    ));
    out.push_str(&format!(
        "  profile   {} (sha256 {})\n",
        report.profile_id,
        &report.profile_hash[..report.profile_hash.len().min(16)]
    ));
    out.push_str(&format!(
        "  port      {}   address {}\n",
        report.port, report.address
    ));
    let verdict = if report.hardened {
        "HARDENED and verified from outside"
    } else {
        "NOT hardened"
    };
    out.push_str(&format!("  result    {verdict}\n\n"));
    out.push_str(&format!(
        "  open TCP ports   before: {}\n                   after:  {}\n",
        list(&ports(&report.surface_before, "tcp_open")),
        list(&ports(&report.surface_after, "tcp_open"))
    ));
    let excluded = ports(&report.surface_after, "excluded_tcp");
    if !excluded.is_empty() {
        out.push_str(&format!(
            "  excluded         {} (also open on an unused loopback address: the host's, not the device's)\n",
            list(&excluded)
        ));
    }
    out.push_str(&format!(
        "  UPnP (SSDP)      before: {}; after: {}\n\n",
        ssdp(&report.surface_before),
        ssdp(&report.surface_after)
    ));
    if let Some(cert) = &report.certificate {
        let until = humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(cert.not_after),
        );
        out.push_str(&format!(
            "  certificate      {} ({}), valid until {until}\n",
            cert.fingerprint, cert.state
        ));
        if let Some(ca) = &cert.ca_fingerprint {
            out.push_str(&format!("  signed by        station CA {ca}\n"));
        }
        if let Some(factory) = &cert.factory_fingerprint {
            let shared = if cert.factory_shared_with.is_empty() {
                "no other unit in this inventory shipped with it".to_string()
            } else {
                format!(
                    "SHARED FACTORY CERTIFICATE: also on units {}",
                    cert.factory_shared_with.join(", ")
                )
            };
            out.push_str(&format!("  factory cert     {factory} ({shared})\n"));
        }
        out.push('\n');
    }
    out.push_str("  credentials (secrets stay in the encrypted inventory)\n");
    for c in &report.credentials {
        let state = match (c.rotated, c.pending) {
            (_, true) => "PENDING confirmation",
            (true, false) => "replaced with a unique strong password",
            (false, false) => "factory default",
        };
        out.push_str(&format!("    {:<12} {:<8} {state}\n", c.store, c.username));
    }
    out.push_str("\n  outside checks\n");
    let mut guideline: Vec<(&str, String)> = Vec::new();
    for c in &report.checks {
        let mark = if c.passed { "ok  " } else { "FAIL" };
        out.push_str(&format!(
            "    {mark} {:<29} {:<38} {}\n",
            c.id, c.subject, c.detail
        ));
        if !guideline.iter().any(|(id, _)| *id == c.id) {
            guideline.push((&c.id, c.guideline.join("; ")));
        }
    }
    out.push_str("\n  what each check proves\n");
    for (id, refs) in guideline {
        out.push_str(&format!("    {id:<29} {refs}\n"));
    }
    out
}
