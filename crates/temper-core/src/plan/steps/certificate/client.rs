//! The outside proof of a TLS *client* certificate (`[certificate.client_check]`):
//!
//! 0. a check an earlier run left half done (the device still pointed at Temper) is undone first;
//! 1. the station CA is installed on the device as a trust anchor, unless it is there already;
//! 2. Temper opens a client-authenticating TLS endpoint on the address it reaches the device from, with a
//!    short-lived certificate from the station CA;
//! 3. the site's endpoint setting is read and kept in the inventory (durably, before anything changes), then
//!    pointed at Temper's endpoint;
//! 4. the device is made to connect: the handshake proves the chain to the station CA and the key of the
//!    certificate Temper expects;
//! 5. the site's setting is written back (or deleted, when it had none), committed and read back; the
//!    inventory record is cleared only then.
//!
//! A kill or an unplug anywhere leaves the site's setting in the inventory, and the next run restores it.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use base64::Engine as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;

use crate::checks::{ClientEndpoint, ClientProof, EndpointApplication};
use crate::event::CertStage;
use crate::inventory::{DeviceCertRecord, StationCaRecord};
use crate::pki::StationCa;
use crate::plan::context::Run;
use crate::plan::steps::station;
use crate::plan::PlanError;
use crate::profile::{CertificateSpec, ClientApplication, ClientCheckSpec};

use super::device::send_certificate;
use super::last_line;

/// The inventory document holding the site's endpoint setting while the device points at Temper.
const DOCUMENT: &str = "client-check-endpoint";
/// How long the device may take to connect after the connect command.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs the proof for `cert`; returns what the device proved. The device's endpoint setting is back to the
/// site's value when this returns `Ok`.
pub(in crate::plan::steps) async fn prove(
    run: &mut Run<'_, '_>,
    spec: &CertificateSpec,
    check: &ClientCheckSpec,
    ca: &StationCaRecord,
    cert: &DeviceCertRecord,
) -> Result<ClientProof, PlanError> {
    // 0. Undo what an interrupted run left.
    restore_left_over(run, check).await?;
    // 1. The device must trust the endpoint's issuer.
    ensure_trust_anchor(run, spec, check, ca).await?;
    // 2. The endpoint, on the address the device can reach Temper at.
    let local = local_address_towards(run.address);
    let station_ca = StationCa::from_pem(&ca.cert_pem, &ca.key_pem)
        .map_err(|e| PlanError::Pki(e.to_string()))?;
    let (cert_der, key_der) = station_ca
        .issue_endpoint(local, run.station_now())
        .map_err(|e| PlanError::Pki(e.to_string()))?;
    let mut chain = vec![CertificateDer::from(cert_der)];
    if ca.imported {
        chain.push(CertificateDer::from(station_ca.cert_der().to_vec()));
    }
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_der.to_vec()));
    let endpoint = ClientEndpoint::bind(local, chain, key, &ca.cert_pem, run.station_now())
        .await
        .map_err(|e| PlanError::DeviceMisbehaved(format!("verification endpoint: {e}")))?;
    // 3. Keep the site's setting durably, then point the device at the endpoint.
    let original = run.session.read_setting(&check.endpoint_setting).await?;
    let kept = json!({
        "setting": check.endpoint_setting,
        "original": original.as_ref().map(|v| base64::engine::general_purpose::STANDARD.encode(v)),
        "endpoint": endpoint.addr().to_string(),
    });
    let serial = run.device.serial.clone();
    run.inventory.put_document(&serial, DOCUMENT, &kept)?;
    run.progress(
        format!(
            "pointing {} at Temper's verification endpoint {} for a moment",
            check.endpoint_setting,
            endpoint.addr()
        ),
        None,
        None,
    );
    let target = endpoint.addr().to_string();
    let connected = connect(run, check, &endpoint, target.as_bytes()).await;
    // 5. Whatever happened, the site's setting goes back.
    restore(run, check, original.as_deref()).await?;
    let (output, proof) = connected?;
    // 4. Judge: the device says it connected, and the endpoint proved the certificate.
    let proof = proof.map_err(|e| {
        PlanError::DeviceMisbehaved(format!(
            "the device did not prove its client certificate to Temper's endpoint: {e}; it said {:?}",
            last_line(&output)
        ))
    })?;
    if !check.connect_success.is_match(&output) {
        return Err(PlanError::DeviceMisbehaved(format!(
            "`{}` did not report a connection: {:?}",
            check.connect_command,
            last_line(&output)
        )));
    }
    if proof.leaf_fingerprint_sha256 != cert.fingerprint {
        return Err(PlanError::DeviceMisbehaved(format!(
            "the device presented certificate {}, not the one installed ({})",
            proof.leaf_fingerprint_sha256, cert.fingerprint
        )));
    }
    if let Some(id) = proof.mqtt_client_id.as_deref().filter(|id| *id != serial) {
        tracing::info!(
            client_id = id,
            "the device's MQTT client id is not its serial"
        );
    }
    Ok(proof)
}

/// Points the device at the endpoint and has it connect; returns the connect command's output and what the
/// endpoint saw. The setting is written before anything can fail in between, so the caller always restores.
async fn connect(
    run: &mut Run<'_, '_>,
    check: &ClientCheckSpec,
    endpoint: &ClientEndpoint,
    target: &[u8],
) -> Result<(String, Result<ClientProof, crate::checks::TlsError>), PlanError> {
    run.session
        .write_setting(&check.endpoint_setting, target)
        .await?;
    run.session.commit_settings().await?;
    super::stage(run, CertStage::EndpointPointed, None);
    let application = match check.application {
        ClientApplication::Mqtt => EndpointApplication::Mqtt,
        ClientApplication::None => EndpointApplication::None,
    };
    let command = run.session.run(&check.connect_command);
    let accepted = endpoint.accept(application, CONNECT_TIMEOUT);
    let (output, proof) = tokio::join!(command, accepted);
    Ok((output?, proof))
}

/// Writes the site's value back (deletes the setting when there was none), commits, reads it back, and only
/// then drops the inventory's copy.
async fn restore(
    run: &mut Run<'_, '_>,
    check: &ClientCheckSpec,
    original: Option<&[u8]>,
) -> Result<(), PlanError> {
    let name = &check.endpoint_setting;
    match original {
        Some(value) => run.session.write_setting(name, value).await?,
        None => run.session.delete_setting(name).await?,
    }
    run.session.commit_settings().await?;
    let now = run.session.read_setting(name).await?;
    if now.as_deref() != original {
        return Err(PlanError::DeviceMisbehaved(format!(
            "{name} reads {:?} after Temper wrote the site's value back ({:?}); the inventory keeps the site's value and the next run restores it",
            now.as_deref().map(String::from_utf8_lossy),
            original.map(String::from_utf8_lossy),
        )));
    }
    let serial = run.device.serial.clone();
    run.inventory
        .put_document(&serial, DOCUMENT, &serde_json::Value::Null)?;
    run.progress(
        format!("{name} is back to the site's value (read back)"),
        None,
        None,
    );
    Ok(())
}

/// Restores the site's endpoint setting kept by a run that stopped before it could.
async fn restore_left_over(
    run: &mut Run<'_, '_>,
    check: &ClientCheckSpec,
) -> Result<(), PlanError> {
    let serial = run.device.serial.clone();
    let Some(kept) = run
        .inventory
        .document(&serial, DOCUMENT)?
        .filter(|kept| !kept.is_null())
    else {
        return Ok(());
    };
    let original = match kept["original"].as_str() {
        Some(text) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| {
                    PlanError::DeviceMisbehaved(format!(
                        "the inventory's copy of {} is damaged ({e})",
                        check.endpoint_setting
                    ))
                })?,
        ),
        None => None,
    };
    run.progress(
        format!(
            "an earlier run left {} pointed at Temper; restoring the site's value",
            check.endpoint_setting
        ),
        None,
        None,
    );
    restore(run, check, original.as_deref()).await
}

/// Installs the station CA as a trust anchor unless the status shows it installed already.
async fn ensure_trust_anchor(
    run: &mut Run<'_, '_>,
    spec: &CertificateSpec,
    check: &ClientCheckSpec,
    ca: &StationCaRecord,
) -> Result<(), PlanError> {
    let wanted = ca_fingerprint(ca)?;
    if installed_anchor(run, spec, check).await?.as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    run.progress("installing the station CA as a trust anchor", None, None);
    let out = send_certificate(
        run,
        &spec.install,
        &check.trust_anchor_command,
        &ca.cert_pem,
    )
    .await?;
    if !check.trust_anchor_success.is_match(&out) {
        return Err(PlanError::DeviceMisbehaved(format!(
            "`{}` did not install the trust anchor: {:?}",
            check.trust_anchor_command,
            last_line(&out)
        )));
    }
    let read_back = installed_anchor(run, spec, check).await?;
    if read_back.as_deref() != Some(wanted.as_str()) {
        return Err(PlanError::DeviceMisbehaved(format!(
            "after installing the station CA ({wanted}) the device lists {} as its trust anchor",
            read_back.as_deref().unwrap_or("nothing")
        )));
    }
    Ok(())
}

/// The trust anchor the status command lists, as a hex fingerprint.
async fn installed_anchor(
    run: &mut Run<'_, '_>,
    spec: &CertificateSpec,
    check: &ClientCheckSpec,
) -> Result<Option<String>, PlanError> {
    let out = run.session.run(&spec.status_command).await?;
    Ok(check
        .trust_anchor_pattern
        .captures(&out)
        .and_then(|c| c.name("fingerprint"))
        .and_then(|m| station::normalise_fingerprint(m.as_str())))
}

fn ca_fingerprint(ca: &StationCaRecord) -> Result<String, PlanError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(ca.cert_pem.as_bytes())
        .map_err(|e| PlanError::Pki(format!("station CA certificate is not PEM: {e}")))?;
    Ok(crate::pki::fingerprint_sha256(&pem.contents))
}

/// The station's address on the route to `device` (the device connects back to it); loopback for a
/// device on a loopback address. Falls back to the unspecified address's loopback when no route is known.
fn local_address_towards(device: IpAddr) -> IpAddr {
    let unspecified: IpAddr = match device {
        IpAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    };
    UdpSocket::bind(SocketAddr::new(unspecified, 0))
        .and_then(|s| {
            s.connect(SocketAddr::new(device, 9))?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(match device {
            IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        })
}
