//! Baseline: scan the device from outside before anything changes, and note which factory defaults open which
//! service. Kept in the inventory, so a resumed run compares against the state before the first run.

use std::net::IpAddr;

use serde_json::json;

use crate::checks::{attack_surface, AuthOutcome, Surface};
use crate::event::StepOutcome;
use crate::plan::context::Run;
use crate::plan::PlanError;

use super::outside::Trial;

pub(crate) async fn run(run: &mut Run<'_, '_>, control: IpAddr) -> Result<StepOutcome, PlanError> {
    let serial = run.device.serial.clone();
    if run.inventory.document(&serial, "baseline")?.is_some() {
        return Ok(StepOutcome::AlreadyDone);
    }
    let surface = scan(run, control, crate::event::StepId::Baseline).await;
    let mut defaults = Vec::new();
    for store in run.profile.credentials.clone() {
        let Some((trial, service)) = Trial::defaults_for(run, &store) else {
            continue;
        };
        if !surface.tcp_open.contains(&service.port) {
            continue;
        }
        let outcome = trial
            .attempt(&run.profile, &store.username, &store.default_password)
            .await;
        let accepted = matches!(outcome, Ok(AuthOutcome::Accepted));
        run.progress(
            format!(
                "factory default of {} {} over {} on port {}",
                store.id,
                if accepted { "WORKS" } else { "does not work" },
                trial.protocol(),
                service.port
            ),
            None,
            None,
        );
        defaults.push(json!({"store": store.id, "service": service.id, "port": service.port, "accepted": accepted}));
    }
    let mut document = serde_json::to_value(&surface).unwrap_or_default();
    document["factory_defaults"] = json!(defaults);
    document["factory_certificate"] = factory_certificate(run, &surface).await;
    run.inventory.put_document(&serial, "baseline", &document)?;
    Ok(StepOutcome::Done)
}

/// The certificate the device serves before hardening (fingerprint, subject, expiry), read without trusting
/// it; `null` when the profile has no certificate section or the TLS port is closed.
async fn factory_certificate(run: &mut Run<'_, '_>, surface: &Surface) -> serde_json::Value {
    let Some(port) = run.profile.tls_service().map(|s| s.port) else {
        return serde_json::Value::Null;
    };
    if !surface.tcp_open.contains(&port) {
        return serde_json::Value::Null;
    }
    let addr = std::net::SocketAddr::new(run.address, port);
    match crate::checks::served_certificate(addr).await {
        Ok(cert) => {
            run.progress(
                format!(
                    "{addr} serves factory certificate {} ({})",
                    &cert.fingerprint_sha256[..16],
                    cert.subject
                ),
                None,
                None,
            );
            json!({
                "fingerprint": cert.fingerprint_sha256,
                "subject": cert.subject,
                "not_after": humantime::format_rfc3339_seconds(cert.not_after).to_string(),
            })
        }
        Err(e) => {
            run.progress(
                format!("could not read the factory certificate: {e}"),
                None,
                None,
            );
            serde_json::Value::Null
        }
    }
}

/// A full outside scan with progress events.
pub(crate) async fn scan(
    run: &mut Run<'_, '_>,
    control: IpAddr,
    step: crate::event::StepId,
) -> Surface {
    let ip = run.address;
    // A control address only makes sense beside a loopback device; elsewhere nothing is excluded.
    let control = if ip.is_loopback() { control } else { ip };
    let extra = run.profile.extra_udp_ports.clone();
    let events = &mut run.events;
    let mut last = 0u64;
    let mut progress = |done: u64, total: u64| {
        if done == total || done >= last + 8192 {
            last = done;
            events(&crate::event::Event::Progress {
                step,
                message: format!("scanning {ip}"),
                done: Some(done),
                total: Some(total),
            });
        }
    };
    attack_surface(ip, control, &extra, &mut progress).await
}
