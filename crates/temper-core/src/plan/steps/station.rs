//! What the certificate step reads from the device and the inventory: the device's certificate status, its
//! clock, the station's records of its certificates.

use crate::inventory::{CertState, DeviceCertRecord};
use crate::plan::context::Run;
use crate::plan::PlanError;
use crate::profile::{CertificateSpec, ClockSetting};

/// Which certificate the device serves now and which are installed (fingerprints; `None` for none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceStatus {
    pub serving: Option<String>,
    /// The slot served, on two-slot models.
    pub active_slot: Option<u8>,
    /// What each slot holds (index 0 is slot 1; one entry on one-slot models).
    pub installed: Vec<Option<String>>,
}

impl DeviceStatus {
    /// The slot holding the certificate `fingerprint`.
    pub fn slot_of(&self, fingerprint: &str) -> Option<u8> {
        self.installed
            .iter()
            .position(|f| f.as_deref() == Some(fingerprint))
            .and_then(|i| u8::try_from(i + 1).ok())
    }
}

/// Runs the profile's status command and reads the fingerprints (and the active slot on two-slot models).
pub(crate) async fn device_status(
    run: &mut Run<'_, '_>,
    spec: &CertificateSpec,
) -> Result<DeviceStatus, PlanError> {
    let out = run.session.run(&spec.status_command).await?;
    let read = |re: &regex::Regex, group: &str, what: &str| -> Result<Option<String>, PlanError> {
        let caps = re.captures(&out).ok_or_else(|| {
            PlanError::DeviceMisbehaved(format!("`{}` did not say {what}", spec.status_command))
        })?;
        // A pattern that matched without the group (a listing's end, where nothing was listed) says "none".
        let Some(value) = caps.name(group).map(|m| m.as_str().to_string()) else {
            return Ok(None);
        };
        if value.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        Ok(Some(match group {
            "fingerprint" => normalise_fingerprint(&value).ok_or_else(|| {
                PlanError::DeviceMisbehaved(format!(
                    "`{}` gave {value:?} as a fingerprint: neither 64 hex digits nor base64 of 32 bytes",
                    spec.status_command
                ))
            })?,
            _ => value.to_ascii_lowercase(),
        }))
    };
    let mut installed = Vec::new();
    for slot in 1..=spec.slots {
        let re = spec.installed_regex(slot);
        installed.push(read(
            &re,
            "fingerprint",
            &format!("what slot {slot} holds"),
        )?);
    }
    let active_slot = match &spec.active_slot_pattern {
        Some(re) => read(re, "slot", "which slot is served")?.and_then(|s| s.parse().ok()),
        None => None,
    };
    let serving = match &spec.serving_pattern {
        Some(re) => read(re, "fingerprint", "which certificate is served")?,
        // A TLS client presents what is installed (in the active slot); the client check proves it.
        None => installed
            .get(usize::from(active_slot.unwrap_or(1)).saturating_sub(1))
            .cloned()
            .flatten(),
    };
    Ok(DeviceStatus {
        serving,
        active_slot,
        installed,
    })
}

/// The inventory's certificates of the run's device.
pub(crate) struct DeviceCerts {
    pub all: Vec<DeviceCertRecord>,
    /// The newest pending one.
    pub pending: Option<DeviceCertRecord>,
    /// The newest active one.
    pub active: Option<DeviceCertRecord>,
}

impl DeviceCerts {
    pub fn load(run: &Run<'_, '_>) -> Result<DeviceCerts, PlanError> {
        let all = run.inventory.device_certs(&run.device.serial)?;
        let newest = |state: CertState| all.iter().rev().find(|c| c.state == state).cloned();
        Ok(DeviceCerts {
            pending: newest(CertState::Pending),
            active: newest(CertState::Active),
            all,
        })
    }
}

/// Records a new state of a device certificate.
pub(crate) fn set_cert_state(
    run: &mut Run<'_, '_>,
    cert: &DeviceCertRecord,
    state: CertState,
) -> Result<(), PlanError> {
    let mut updated = cert.clone();
    updated.state = state;
    run.inventory
        .put_device_cert(&run.device.serial.clone(), &updated)?;
    Ok(())
}

/// Sets the device's clock to the station's (UTC) and reads it back.
pub(crate) async fn set_clock(run: &mut Run<'_, '_>) -> Result<(), PlanError> {
    let Some(clock) = run.profile.clock.clone() else {
        return Err(PlanError::ProfileIncomplete {
            profile: run.profile.id.clone(),
            message: "a [certificate] section needs a [clock] section".into(),
        });
    };
    let now = unix(run.station_now());
    let device = match &clock.setting {
        ClockSetting::Commands { read_command, .. } => {
            let set = clock
                .set_command_for(now)
                .expect("a command clock renders a set command");
            run.session.run(&set).await?;
            let out = run.session.run(read_command).await?;
            out.lines()
                .rev()
                .find_map(|l| l.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    PlanError::DeviceMisbehaved(format!(
                        "`{read_command}` printed no Unix time: {:?}",
                        out.lines().last().unwrap_or("")
                    ))
                })?
        }
        ClockSetting::SmpDatetime => run.session.set_clock_smp(now).await?,
    };
    let station = unix(run.station_now());
    if device.abs_diff(station) > u64::from(clock.max_skew_seconds) {
        return Err(PlanError::DeviceMisbehaved(format!(
            "the device clock did not take the time: it says {device}, the station {station} (Unix seconds); \
             a device with a wrong clock refuses valid certificates"
        )));
    }
    run.progress(
        format!(
            "device clock set to {}",
            humantime::format_rfc3339_seconds(run.station_now())
        ),
        None,
        None,
    );
    Ok(())
}

/// The first PEM block labelled `label` in `text` (lines trimmed, so console line endings do not matter).
pub(crate) fn pem_block(text: &str, label: &str) -> Option<String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line == begin {
            inside = true;
            out.clear();
        }
        if inside {
            out.push_str(line);
            out.push('\n');
            if line == end {
                return Some(out);
            }
        }
    }
    None
}

/// The SubjectPublicKeyInfo (DER) of a PEM certificate: the key the CSR carried.
pub(crate) fn cert_spki(cert_pem: &str) -> Result<Vec<u8>, PlanError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .map_err(|e| PlanError::Pki(format!("stored certificate is not PEM: {e}")))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| PlanError::Pki(format!("stored certificate does not parse: {e}")))?;
    Ok(cert.public_key().raw.to_vec())
}

pub(crate) fn unix(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A certificate fingerprint as the device printed it, as lowercase hex: 64 hex digits as they are, or the
/// base64 of the 32-byte SHA-256 (Zephyr's `cred list` prints digests that way). `None` for anything else.
pub(crate) fn normalise_fingerprint(text: &str) -> Option<String> {
    use base64::Engine as _;
    let text = text.trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some(text.to_ascii_lowercase());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    (bytes.len() == 32).then(|| hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::normalise_fingerprint;

    #[test]
    fn fingerprints_in_hex_or_base64_read_the_same() {
        let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(
            normalise_fingerprint(&hex.to_uppercase()).as_deref(),
            Some(hex)
        );
        assert_eq!(
            normalise_fingerprint("n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=").as_deref(),
            Some(hex),
            "base64 of the same 32 bytes names the same certificate"
        );
        assert_eq!(normalise_fingerprint("none"), None);
        assert_eq!(
            normalise_fingerprint("AAAA"),
            None,
            "3 bytes are no SHA-256"
        );
    }
}
