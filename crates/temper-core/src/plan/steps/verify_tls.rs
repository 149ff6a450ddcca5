//! The transport-encryption half of verify: the served chain proven against the station CA with the CSR's
//! key, TLS 1.0/1.1 refused, the shared factory certificate gone, plain HTTP no longer taking the admin
//! credential.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::checks::{
    http_digest_login, old_protocol_probe, shared_certificates, tls_handshake, AuthOutcome,
    CheckKind,
};
use crate::pki::ServerName;
use crate::plan::context::Run;
use crate::plan::PlanError;
use crate::profile::{CertificateSpec, PlainHttpAfter, PlainHttpSpec};

use super::station::{cert_spki, DeviceCerts};

const PLAIN_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn run(run: &mut Run<'_, '_>) -> Result<(), PlanError> {
    let Some(spec) = run.profile.certificate.clone() else {
        return Ok(());
    };
    if spec.client_check.is_some() {
        client_check(run, &spec).await?;
    }
    let Some(port) = run.profile.tls_service().map(|s| s.port) else {
        return Ok(());
    };
    let addr = SocketAddr::new(run.address, port);
    let served = chain_check(run, addr).await?;
    let probe = old_protocol_probe(addr).await;
    let record = match probe {
        Ok(old) => CheckKind::TlsOldProtocolsRefused.record(
            addr.to_string(),
            old.refused_all(),
            old.summary(),
        ),
        Err(e) => CheckKind::TlsOldProtocolsRefused.record(addr.to_string(), false, e.to_string()),
    };
    run.record_check("verify", record)?;
    factory_check(run, addr, served.as_deref())?;
    if let Some(http) = &spec.plain_http {
        plain_http_check(run, &spec, http).await?;
    }
    Ok(())
}

/// A TLS client proves its certificate again, to Temper's endpoint (the device is pointed at it for the
/// moment of one connection, then back at the site's broker).
async fn client_check(run: &mut Run<'_, '_>, spec: &CertificateSpec) -> Result<(), PlanError> {
    let check = spec.client_check.as_ref().expect("checked by the caller");
    let subject = format!("{} (TLS client)", check.endpoint_setting);
    let (Some(ca), Some(active)) = (run.inventory.station_ca()?, DeviceCerts::load(run)?.active)
    else {
        let record = CheckKind::TlsClientCertificateVerified.record(
            subject,
            false,
            "no active station-CA certificate is recorded for this device",
        );
        return run.record_check("verify", record);
    };
    let record = match super::certificate::client::prove(run, spec, check, &ca, &active).await {
        Ok(proof) => CheckKind::TlsClientCertificateVerified.record(
            subject,
            true,
            format!(
                "{}; chains to the station CA with the key from the device's own CSR",
                proof.summary()
            ),
        ),
        // The site's setting is restored before `prove` returns, or kept in the inventory for the next run.
        Err(PlanError::DeviceMisbehaved(why)) => {
            CheckKind::TlsClientCertificateVerified.record(subject, false, why)
        }
        Err(e) => return Err(e),
    };
    run.record_check("verify", record)
}

/// The handshake against the station CA with the key from the device's CSR. Returns the served leaf's
/// fingerprint when the handshake proved it.
async fn chain_check(run: &mut Run<'_, '_>, addr: SocketAddr) -> Result<Option<String>, PlanError> {
    let subject = addr.to_string();
    let (Some(ca), Some(active)) = (run.inventory.station_ca()?, DeviceCerts::load(run)?.active)
    else {
        let record = CheckKind::TlsChainVerified.record(
            subject,
            false,
            "no active station-CA certificate is recorded for this device",
        );
        run.record_check("verify", record)?;
        return Ok(None);
    };
    let spki = cert_spki(&active.cert_pem)?;
    let name = ServerName::IpAddress(run.address.into());
    let result = tls_handshake(
        addr,
        &ca.cert_pem,
        name,
        Some(&spki),
        run.station_unix_time(),
    )
    .await;
    let (passed, detail, served) = match result {
        Ok(r) if r.leaf_fingerprint_sha256 == active.fingerprint => {
            let detail = format!(
                "{}; chains to the station CA, SAN {}, the key from the device's own CSR",
                r.summary(),
                run.address,
            );
            (true, detail, Some(r.leaf_fingerprint_sha256))
        }
        Ok(r) => (
            false,
            format!(
                "serves certificate {}, not the one recorded ({})",
                r.leaf_fingerprint_sha256, active.fingerprint
            ),
            Some(r.leaf_fingerprint_sha256),
        ),
        Err(e) => (false, e.to_string(), None),
    };
    run.record_check(
        "verify",
        CheckKind::TlsChainVerified.record(subject, passed, detail),
    )?;
    Ok(served)
}

/// Passes when the device no longer serves its factory certificate; says which other units of the model
/// shipped with the same one (a "shared factory certificate").
fn factory_check(
    run: &mut Run<'_, '_>,
    addr: SocketAddr,
    served: Option<&str>,
) -> Result<(), PlanError> {
    let Some(factory) = factory_fingerprint(run, &run.device.serial.clone())? else {
        return Ok(());
    };
    let mut units = vec![(run.device.serial.clone(), factory.clone())];
    for device in run.inventory.devices()? {
        if device.serial != run.device.serial && device.profile_id == run.profile.id {
            if let Some(fp) = factory_fingerprint(run, &device.serial)? {
                units.push((device.serial, fp));
            }
        }
    }
    let shared = shared_certificates(units.iter().map(|(s, f)| (s.as_str(), f.as_str())));
    let others: Vec<String> = shared
        .iter()
        .flat_map(|(_, serials)| serials.iter())
        .filter(|s| **s != run.device.serial)
        .cloned()
        .collect();
    let replaced = served.is_some_and(|s| s != factory);
    let sharing = if others.is_empty() {
        "no other unit in this inventory shipped with it".to_string()
    } else {
        format!(
            "SHARED FACTORY CERTIFICATE: units {} shipped with the same certificate and key",
            others.join(", ")
        )
    };
    let detail = format!(
        "factory certificate {} {}; {sharing}",
        &factory[..16.min(factory.len())],
        if replaced {
            "replaced by the device's own"
        } else {
            "STILL SERVED"
        }
    );
    run.inventory.put_document(
        &run.device.serial.clone(),
        "factory-certificate",
        &json!({"fingerprint": factory, "shared_with": others, "replaced": replaced}),
    )?;
    let record = CheckKind::FactoryCertificateUnique.record(addr.to_string(), replaced, detail);
    run.record_check("verify", record)
}

/// The factory certificate fingerprint a device's baseline recorded.
fn factory_fingerprint(run: &Run<'_, '_>, serial: &str) -> Result<Option<String>, PlanError> {
    Ok(run.inventory.document(serial, "baseline")?.and_then(|b| {
        b["factory_certificate"]["fingerprint"]
            .as_str()
            .map(str::to_string)
    }))
}

/// Plain HTTP must redirect to HTTPS without authenticating, or be closed; a Digest challenge there must
/// refuse the admin's current credential.
async fn plain_http_check(
    run: &mut Run<'_, '_>,
    spec: &CertificateSpec,
    http: &PlainHttpSpec,
) -> Result<(), PlanError> {
    let _ = spec;
    let addr = SocketAddr::new(run.address, http.port);
    let subject = format!("{} {addr}", http.credential);
    let (passed, detail) = match first_answer(addr, &http.path).await {
        Answer::Closed(why) => (true, format!("plain HTTP is closed ({why})")),
        Answer::Status(status, location)
            if (300..400).contains(&status) && location.starts_with("https://") =>
        {
            let ok = http.after == PlainHttpAfter::Redirect;
            (
                true,
                format!(
                    "answers {status} to {location}, authenticating nothing{}",
                    if ok {
                        ""
                    } else {
                        " (the profile expected it closed)"
                    }
                ),
            )
        }
        Answer::Status(401, _) => {
            let current = run
                .inventory
                .credentials(&run.device.serial)?
                .into_iter()
                .find(|c| c.store == http.credential)
                .and_then(|c| c.current.map(|s| (c.username, s)));
            match current {
                Some((user, secret)) => {
                    match http_digest_login(addr, &http.path, &user, &secret).await {
                        Ok(AuthOutcome::Refused) => (
                            true,
                            "challenges, and refuses the current credential".into(),
                        ),
                        Ok(AuthOutcome::Accepted) => (
                            false,
                            "ACCEPTS the web admin credential over plain HTTP".into(),
                        ),
                        Err(e) => (false, format!("could not decide: {e}")),
                    }
                }
                None => (false, "asks for a credential over plain HTTP".into()),
            }
        }
        Answer::Status(status, _) => (
            false,
            format!("answers {status} over plain HTTP instead of redirecting to HTTPS"),
        ),
        Answer::Garbage(why) => (false, format!("could not read its answer: {why}")),
    };
    run.record_check(
        "verify",
        CheckKind::PlainHttpCredentialRefused.record(subject, passed, detail),
    )
}

enum Answer {
    Closed(String),
    Status(u16, String),
    Garbage(String),
}

/// `GET path` without credentials: the status and the Location header, or why there was none.
async fn first_answer(addr: SocketAddr, path: &str) -> Answer {
    let mut stream = match crate::checks::connect_tcp(addr, PLAIN_HTTP_TIMEOUT).await {
        Ok(s) => s,
        Err(e) => return Answer::Closed(e.to_string()),
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: Temper\r\nConnection: close\r\n\r\n"
    );
    let exchange = async {
        stream.write_all(request.as_bytes()).await?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, std::io::Error>(buf)
    };
    let buf = match tokio::time::timeout(PLAIN_HTTP_TIMEOUT, exchange).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return Answer::Garbage(e.to_string()),
        Err(_) => return Answer::Garbage("no answer within 10 s".into()),
    };
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok());
    let Some(status) = status else {
        return Answer::Garbage(format!("{:?}", text.chars().take(60).collect::<String>()));
    };
    let location = lines
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("location")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    Answer::Status(status, location)
}
