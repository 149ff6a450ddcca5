//! What the certificate step does on the device after signing: install (fingerprint read back), switch,
//! prove from outside, switch back on failure (two slots), delete the old slot, move plain HTTP off.

use std::net::SocketAddr;

use base64::Engine as _;

use super::{is_base64, last_line, stage};
use crate::checks::tls_handshake;
use crate::event::CertStage;
use crate::inventory::{CertState, DeviceCertRecord, StationCaRecord};
use crate::pki::ServerName;
use crate::plan::context::Run;
use crate::plan::steps::station::{self, DeviceCerts};
use crate::plan::PlanError;
use crate::profile::{CertInstall, CertificateSpec, CHUNK};

/// Sends the chain (leaf, then the CA when it is an imported intermediate; a device taking DER chunks gets the
/// leaf only) and checks the fingerprint the device reads back.
pub(super) async fn install(
    run: &mut Run<'_, '_>,
    spec: &CertificateSpec,
    ca: &StationCaRecord,
    cert: &DeviceCertRecord,
    slot: u8,
) -> Result<(), PlanError> {
    let mut chain = cert.cert_pem.clone();
    if ca.imported {
        chain.push_str(&ca.cert_pem);
    }
    let command = CertificateSpec::for_slot(&spec.install_command, slot);
    let out = send_certificate(run, &spec.install, &command, &chain).await?;
    let refusal = || {
        let line = out
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty() && !l.starts_with("-----") && !is_base64(l))
            .unwrap_or("");
        PlanError::DeviceMisbehaved(format!(
            "the device did not install the certificate: {line:?}"
        ))
    };
    let Some(captures) = spec.install_success.captures(&out) else {
        return Err(refusal());
    };
    let read_back = match captures.name("fingerprint") {
        Some(m) => station::normalise_fingerprint(m.as_str()).ok_or_else(refusal)?,
        // The install output does not say which certificate it took: the status does.
        None => station::device_status(run, spec)
            .await?
            .installed
            .get(usize::from(slot) - 1)
            .cloned()
            .flatten()
            .unwrap_or_else(|| "nothing".into()),
    };
    if read_back != cert.fingerprint {
        return Err(PlanError::DeviceMisbehaved(format!(
            "the device reports installing certificate {read_back}, not the one sent ({})",
            cert.fingerprint
        )));
    }
    stage(run, CertStage::Installed, Some(&cert.fingerprint));
    Ok(())
}

/// Sends a PEM chain to the device with `command`, the way the profile says: typed PEM lines ended by the
/// end line, or the leaf's DER in base64 pieces through the chunk command before `command`. Returns the
/// output of `command`.
pub(super) async fn send_certificate(
    run: &mut Run<'_, '_>,
    install: &CertInstall,
    command: &str,
    chain_pem: &str,
) -> Result<String, PlanError> {
    match install {
        CertInstall::Lines { end } => {
            let mut lines: Vec<&str> = chain_pem.lines().filter(|l| !l.trim().is_empty()).collect();
            lines.push(end);
            run.session.run_with_input(command, &lines).await
        }
        CertInstall::Chunks {
            clear_command,
            chunk_command,
            chunk_size,
        } => {
            let der = leaf_der(chain_pem)?;
            if let Some(clear) = clear_command {
                run.session.run(clear).await?;
            }
            let text = base64::engine::general_purpose::STANDARD.encode(der);
            for piece in text.as_bytes().chunks(*chunk_size) {
                let piece = std::str::from_utf8(piece).expect("base64 is ASCII");
                run.session
                    .run(&chunk_command.replace(CHUNK, piece))
                    .await?;
            }
            run.session.run(command).await
        }
    }
}

/// The DER of the first certificate of a PEM chain.
fn leaf_der(chain_pem: &str) -> Result<Vec<u8>, PlanError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(chain_pem.as_bytes())
        .map_err(|e| PlanError::Pki(format!("certificate is not PEM: {e}")))?;
    Ok(pem.contents)
}

/// Switches to `slot`, proves it from outside and marks it active; then deletes the slot no longer used.
/// On a two-slot model a failure after the switch switches back to `old_slot` (make-before-break).
pub(super) async fn switch_and_confirm(
    run: &mut Run<'_, '_>,
    spec: &CertificateSpec,
    ca: &StationCaRecord,
    cert: &DeviceCertRecord,
    slot: u8,
    old_slot: Option<u8>,
) -> Result<(), PlanError> {
    let mut proven = switch(run, spec, slot, &cert.fingerprint).await;
    if proven.is_ok() {
        stage(run, CertStage::Switched, Some(&cert.fingerprint));
        proven = confirm(run, spec, ca, cert).await;
    }
    if let Err(error) = proven {
        let (Some(old), 2) = (old_slot, spec.slots) else {
            return Err(error);
        };
        let status = station::device_status(run, spec).await?;
        let Some(old_fp) = status
            .installed
            .get(usize::from(old) - 1)
            .cloned()
            .flatten()
        else {
            return Err(error);
        };
        switch(run, spec, old, &old_fp).await?;
        let why = match error {
            PlanError::DeviceMisbehaved(why) => why,
            other => other.to_string(),
        };
        return Err(PlanError::DeviceMisbehaved(format!(
            "{why}; switched back to the previous certificate in slot {old}, which the device serves again"
        )));
    }
    delete_unused(run, spec).await
}

/// Runs the activate command for `slot` and checks the device then serves `fingerprint`.
async fn switch(
    run: &mut Run<'_, '_>,
    spec: &CertificateSpec,
    slot: u8,
    fingerprint: &str,
) -> Result<(), PlanError> {
    let command = match (&spec.activate_command, &spec.activate_success) {
        (Some(template), Some(success)) => {
            let command = CertificateSpec::for_slot(template, slot);
            let out = run.session.run(&command).await?;
            if !success.is_match(&out) {
                return Err(PlanError::DeviceMisbehaved(format!(
                    "`{command}` failed: {:?}",
                    last_line(&out)
                )));
            }
            command
        }
        _ => "installing it".to_string(),
    };
    let status = station::device_status(run, spec).await?;
    if status.serving.as_deref() != Some(fingerprint) {
        return Err(PlanError::DeviceMisbehaved(format!(
            "after `{command}` the device serves {}, not the certificate sent ({fingerprint})",
            status.serving.as_deref().unwrap_or("nothing"),
        )));
    }
    Ok(())
}

/// Two-slot models: the slot the old certificate is in (if any) and the slot a new one goes to.
/// One-slot models: (None, 1).
pub(super) fn slots_for_new(
    spec: &CertificateSpec,
    status: &station::DeviceStatus,
) -> (Option<u8>, u8) {
    if spec.slots < 2 {
        return (None, 1);
    }
    match status.active_slot {
        Some(1) => (Some(1), 2),
        Some(2) => (Some(2), 1),
        _ => (None, 1),
    }
}

/// Two-slot models: clears every slot the device does not serve (the old key and certificate go only
/// after the new ones are proven from outside).
pub(super) async fn delete_unused(
    run: &mut Run<'_, '_>,
    spec: &CertificateSpec,
) -> Result<(), PlanError> {
    let (Some(delete), Some(success), 2) = (&spec.delete_command, &spec.delete_success, spec.slots)
    else {
        return Ok(());
    };
    let status = station::device_status(run, spec).await?;
    for slot in 1..=spec.slots {
        let holds = status
            .installed
            .get(usize::from(slot) - 1)
            .is_some_and(Option::is_some);
        if Some(slot) == status.active_slot || !holds {
            continue;
        }
        let command = CertificateSpec::for_slot(delete, slot);
        let out = run.session.run(&command).await?;
        if !success.is_match(&out) {
            return Err(PlanError::DeviceMisbehaved(format!(
                "`{command}` failed: {:?}",
                last_line(&out)
            )));
        }
        run.progress(
            format!("deleted the old key and certificate in slot {slot}"),
            None,
            None,
        );
    }
    Ok(())
}

/// Proves from outside that the device presents `cert` with the key it certifies, chained to the station CA
/// (a server: served on its TLS service, valid for its address; a client: presented to Temper's own
/// endpoint); then marks it active and the earlier active one superseded.
pub(super) async fn confirm(
    run: &mut Run<'_, '_>,
    spec: &CertificateSpec,
    ca: &StationCaRecord,
    cert: &DeviceCertRecord,
) -> Result<(), PlanError> {
    if let Some(check) = &spec.client_check {
        let proof = super::client::prove(run, spec, check, ca, cert).await?;
        return activate(run, cert, &format!("the device {}", proof.summary()));
    }
    let port =
        run.profile
            .tls_service()
            .map(|s| s.port)
            .ok_or_else(|| PlanError::ProfileIncomplete {
                profile: run.profile.id.clone(),
                message: "the certificate section names no service it is served on".into(),
            })?;
    let spki = station::cert_spki(&cert.cert_pem)?;
    let addr = SocketAddr::new(run.address, port);
    let report = tls_handshake(
        addr,
        &ca.cert_pem,
        ServerName::IpAddress(run.address.into()),
        Some(&spki),
        run.station_unix_time(),
    )
    .await
    .map_err(|e| PlanError::DeviceMisbehaved(format!("TLS check of {addr} failed: {e}")))?;
    if report.leaf_fingerprint_sha256 != cert.fingerprint {
        return Err(PlanError::DeviceMisbehaved(format!(
            "{addr} serves certificate {}, not the one installed ({})",
            report.leaf_fingerprint_sha256, cert.fingerprint
        )));
    }
    let proof = format!(
        "{addr} serves it over {} ({})",
        report.protocol, report.cipher_suite
    );
    activate(run, cert, &proof)
}

/// Marks `cert` active (proven from outside: `proof` says how) and every other active or pending one
/// superseded.
fn activate(run: &mut Run<'_, '_>, cert: &DeviceCertRecord, proof: &str) -> Result<(), PlanError> {
    let certs = DeviceCerts::load(run)?;
    for old in certs.all.iter().filter(|c| {
        c.fingerprint != cert.fingerprint
            && matches!(c.state, CertState::Active | CertState::Pending)
    }) {
        station::set_cert_state(run, old, CertState::Superseded)?;
    }
    station::set_cert_state(run, cert, CertState::Active)?;
    run.progress(proof.to_string(), None, None);
    stage(run, CertStage::Active, Some(&cert.fingerprint));
    Ok(())
}

/// Moves plain HTTP to a redirect or closes it, as the profile says. True when a command was run.
pub(super) async fn plain_http(
    run: &mut Run<'_, '_>,
    spec: &CertificateSpec,
) -> Result<bool, PlanError> {
    let Some(http) = &spec.plain_http else {
        return Ok(false);
    };
    let out = run.session.run(&http.command).await?;
    if !http.success.is_match(&out) {
        return Err(PlanError::DeviceMisbehaved(format!(
            "`{}` failed: {:?}",
            http.command,
            last_line(&out)
        )));
    }
    Ok(true)
}
