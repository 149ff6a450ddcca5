//! Certificate: set the device's clock → the device makes a key → it prints a CSR carrying a fresh challenge →
//! the CSR is checked → the station CA signs the CSR's key under the profile's policy → the certificate is
//! committed to the inventory as pending → installed (fingerprint read back) → the TLS service switched to it
//! → verified from outside → marked active.
//!
//! Resumable at every point: a pending certificate in the inventory is looked for on the device (served,
//! installed, or installable with the device's current key) before a new key is made. The device's private
//! key never leaves the device; only public data (CSR key, certificate) passes through Temper.

use rand::RngCore;

use crate::event::{CertStage, Event, StepOutcome};
use crate::inventory::{CertState, DeviceCertRecord, StationCaRecord};
use crate::pki::{self, check_csr, DeviceIdentity, StationCa};
use crate::plan::context::Run;
use crate::plan::PlanError;
use crate::profile::{render_csr_command, CertificateSpec};

pub(super) mod client;
mod device;

use super::station::{self, DeviceCerts};

/// Why the certificate step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Commissioning: issue a certificate unless an active one is served already.
    Commission,
    /// Renewal: issue a new one even though the active one is served.
    Renew,
}

pub(crate) async fn run(run: &mut Run<'_, '_>, purpose: Purpose) -> Result<StepOutcome, PlanError> {
    let Some(spec) = run.profile.certificate.clone() else {
        run.progress(
            "this model has no certificate section in its profile",
            None,
            None,
        );
        return Ok(StepOutcome::AlreadyDone);
    };
    let ca = ensure_station_ca(run)?;
    // Every time, not only before a new key: a device power-cycled since the last run is back in 1970.
    station::set_clock(run).await?;
    stage(run, CertStage::ClockSet, None);
    let status = station::device_status(run, &spec).await?;
    let certs = DeviceCerts::load(run)?;

    if let Some(pending) = certs.pending.clone() {
        if resume_pending(run, &spec, &ca, &pending, &status).await? {
            device::plain_http(run, &spec).await?;
            return Ok(StepOutcome::Done);
        }
    }
    let served_active = certs
        .active
        .as_ref()
        .filter(|a| status.serving.as_deref() == Some(a.fingerprint.as_str()));
    if purpose == Purpose::Commission && served_active.is_some() {
        let changed = device::plain_http(run, &spec).await?;
        return Ok(if changed {
            StepOutcome::Done
        } else {
            StepOutcome::AlreadyDone
        });
    }
    if served_active.is_some() && spec.slots == 1 {
        // With two slots the old certificate keeps serving until the switch, and comes back on failure.
        run.progress(
            format!(
                "this model has one certificate slot: {} is down for a moment while it switches to the new certificate",
                spec.service.as_deref().unwrap_or("its TLS service")
            ),
            None,
            None,
        );
    }
    let (old_slot, target) = device::slots_for_new(&spec, &status);
    let pending = issue(run, &spec, &ca, target).await?;
    if let Err(error) = device::install(run, &spec, &ca, &pending, target).await {
        return Err(revoke_refused(run, &pending, error)?);
    }
    device::switch_and_confirm(run, &spec, &ca, &pending, target, old_slot).await?;
    device::plain_http(run, &spec).await?;
    Ok(StepOutcome::Done)
}

/// The station CA from the inventory; made (ECDSA P-256) and stored on first use, so a newcomer's first
/// commissioning needs no `temper ca init`.
fn ensure_station_ca(run: &mut Run<'_, '_>) -> Result<StationCaRecord, PlanError> {
    if let Some(record) = run.inventory.station_ca()? {
        return Ok(record);
    }
    let ca = StationCa::generate(
        pki::CaKeyKind::EcdsaP256,
        "Temper station CA",
        run.station_now(),
    )
    .map_err(|e| PlanError::Pki(e.to_string()))?;
    let record = StationCaRecord {
        cert_pem: ca.cert_pem().to_string(),
        key_pem: ca.key_pem(),
        kind: "ecdsa-p256".into(),
        imported: false,
        created_at: 0,
    };
    run.inventory.put_station_ca(&record)?;
    run.progress(
        format!(
            "made this station's CA (fingerprint {}); export it with `temper ca export`",
            pki::fingerprint_sha256(ca.cert_der())
        ),
        None,
        None,
    );
    Ok(record)
}

/// Carries a pending certificate from an interrupted run to the end. False when the device can no longer
/// take it (its key changed): the pending certificate is then superseded and a new one issued.
async fn resume_pending(
    run: &mut Run<'_, '_>,
    spec: &CertificateSpec,
    ca: &StationCaRecord,
    pending: &DeviceCertRecord,
    status: &station::DeviceStatus,
) -> Result<bool, PlanError> {
    let fp = pending.fingerprint.as_str();
    if status.serving.as_deref() == Some(fp) {
        run.progress(
            "the device already serves the pending certificate",
            None,
            None,
        );
        device::confirm(run, spec, ca, pending).await?;
        device::delete_unused(run, spec).await?;
        return Ok(true);
    }
    let (old_slot, target) = device::slots_for_new(spec, status);
    if let Some(slot) = status.slot_of(fp) {
        run.progress(
            "the pending certificate is installed; switching to it",
            None,
            None,
        );
        let old_slot = status.active_slot.filter(|s| *s != slot).or(old_slot);
        device::switch_and_confirm(run, spec, ca, pending, slot, old_slot).await?;
        return Ok(true);
    }
    run.progress(
        "installing the pending certificate from the last run",
        None,
        None,
    );
    match device::install(run, spec, ca, pending, target).await {
        Ok(()) => {
            device::switch_and_confirm(run, spec, ca, pending, target, old_slot).await?;
            Ok(true)
        }
        Err(PlanError::DeviceMisbehaved(why)) => {
            run.progress(
                format!(
                    "the device cannot take the pending certificate ({why}); it is revoked and a new one issued"
                ),
                None,
                None,
            );
            station::set_cert_state(run, pending, CertState::Revoked)?;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// A certificate the device refused to install (its key is not the device's) could still be used by
/// whoever holds that key: it is revoked, so it goes on the next CRL. Other errors (a dropped link) leave
/// it pending for the next run.
fn revoke_refused(
    run: &mut Run<'_, '_>,
    cert: &DeviceCertRecord,
    error: PlanError,
) -> Result<PlanError, PlanError> {
    let PlanError::DeviceMisbehaved(why) = error else {
        return Ok(error);
    };
    station::set_cert_state(run, cert, CertState::Revoked)?;
    Ok(PlanError::DeviceMisbehaved(format!(
        "{why}. The certificate signed for its CSR was revoked (publish `temper ca crl`): the CSR was not made \
         with the key the device uses, and running again will not help with this firmware"
    )))
}

/// Clock, key, CSR, checks, signature; the certificate is durably pending when this returns.
async fn issue(
    run: &mut Run<'_, '_>,
    spec: &CertificateSpec,
    ca_record: &StationCaRecord,
    slot: u8,
) -> Result<DeviceCertRecord, PlanError> {
    let template = spec
        .genkey()
        .map_err(|message| PlanError::ProfileIncomplete {
            profile: run.profile.id.clone(),
            message,
        })?;
    if let Some(kind) = spec.key_kind().filter(|_| spec.chooses_key()) {
        run.progress(format!("the device makes its own {kind} key"), None, None);
    }
    let genkey = CertificateSpec::for_slot(&template, slot);
    let out = run.session.run(&genkey).await?;
    if !spec.genkey_success.is_match(&out) {
        return Err(PlanError::DeviceMisbehaved(format!(
            "`{genkey}` did not report a new key: {:?}",
            last_line(&out)
        )));
    }
    stage(run, CertStage::KeyGenerated, None);

    let identity = DeviceIdentity {
        serial: run.device.serial.clone(),
        dns: spec
            .dns_name
            .as_ref()
            .map(|t| t.replace("{serial}", &run.device.serial)),
        ip: Some(run.address),
    };
    let challenge = new_challenge();
    let cn = spec.policy.common_name(&identity);
    let ip = run.address.to_string();
    let slot_text = slot.to_string();
    let command = render_csr_command(
        &spec.csr_command,
        &[
            ("{cn}", cn.as_str()),
            ("{challenge}", challenge.as_str()),
            ("{ip}", ip.as_str()),
            ("{dns}", identity.dns.as_deref().unwrap_or("")),
            ("{serial}", identity.serial.as_str()),
            ("{slot}", slot_text.as_str()),
        ],
    );
    let out = run.session.run(&command).await?;
    let csr_pem = station::pem_block(&out, "CERTIFICATE REQUEST").ok_or_else(|| {
        PlanError::DeviceMisbehaved(format!(
            "the CSR command printed no CERTIFICATE REQUEST: {:?}",
            last_line(&out)
        ))
    })?;
    let checked = check_csr(&csr_pem, &spec.policy, &identity, challenge.as_str())
        .map_err(|e| PlanError::CsrRefused(e.to_string()))?;
    stage(run, CertStage::CsrChecked, None);

    let ca = StationCa::from_pem(&ca_record.cert_pem, &ca_record.key_pem)
        .map_err(|e| PlanError::Pki(e.to_string()))?;
    let signed = ca
        .sign(&checked, &spec.policy, &identity, run.station_now())
        .map_err(|e| PlanError::Pki(e.to_string()))?;
    let record = DeviceCertRecord {
        fingerprint: signed.fingerprint_sha256.clone(),
        cert_pem: signed.pem.clone(),
        not_after: station::unix(signed.not_after),
        state: CertState::Pending,
        at: 0,
    };
    run.inventory.put_device_cert(&identity.serial, &record)?;
    stage(run, CertStage::Pending, Some(&record.fingerprint));
    Ok(record)
}

pub(super) fn stage(run: &mut Run<'_, '_>, stage: CertStage, fingerprint: Option<&str>) {
    run.emit(Event::Certificate {
        stage,
        fingerprint: fingerprint.map(str::to_string),
    });
}

/// 128 random bits as hex: the CSR's freshness challenge (printable in any shell quoting).
fn new_challenge() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub(super) fn last_line(out: &str) -> &str {
    out.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

pub(super) fn is_base64(line: &str) -> bool {
    !line.is_empty()
        && line
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
}
