//! The installer's handover report: what Temper did to each device of a site and what it proved, for the
//! customer who takes the devices over.
//!
//! [`HandoverReport::from_inventory`] reads only what the inventory holds (devices, steps, credential *states*,
//! outside checks, the baseline and verify scans, certificates) and never a secret: a credential appears as its
//! store, account name and change date. [`HandoverReport::with_profiles`] adds what only the profiles know (the
//! password expiry policy, service names). [`HandoverReport::to_html`] renders one self-contained HTML file (no
//! scripts, no external resources; every value escaped) and [`HandoverReport::save_html`] writes it atomically.

mod device;
mod escape;
mod html;
mod save;
mod services;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::inventory::{HardenedState, Inventory, InventoryError};
use crate::profile::Profile;

pub use device::{HandoverCertificate, HandoverCheck, HandoverCredential, HandoverDevice};
pub use escape::escape;
pub(crate) use save::write_atomic;
pub use services::{FactoryDefault, PortNote, ServiceChanges};

const DAY: u64 = 86_400;

/// What Temper did to a set of devices and what it proved. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverReport {
    /// The site the report is for; `None` when it covers every device in the inventory.
    pub site: Option<String>,
    /// When the report was made (Unix seconds).
    pub generated_at: u64,
    /// The station CA that signed the devices' certificates, if there is one.
    pub station_ca: Option<StationCaSummary>,
    /// Counts for the top of the report.
    pub summary: HandoverSummary,
    /// The devices, sorted by serial.
    pub devices: Vec<HandoverDevice>,
}

/// The station CA, public data only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationCaSummary {
    /// SHA-256 fingerprint of the CA certificate (hex), or why it could not be read.
    pub fingerprint: String,
    /// Key kind, e.g. `ecdsa-p256`.
    pub kind: String,
    /// True when imported (issued by the customer's own root).
    pub imported: bool,
}

/// Counts for the top of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverSummary {
    /// Devices in the report.
    pub devices: usize,
    /// Devices in the hardened state.
    pub hardened: usize,
    /// Devices with at least one failed outside check.
    pub with_failed_checks: usize,
}

impl HandoverReport {
    /// The report for the devices of `site` (every device when `None`), narrowed to `serials` when given,
    /// as of `now` (Unix seconds). Reads only; nothing is audited because nothing secret is read.
    ///
    /// A serial in `serials` that is not in the inventory is [`InventoryError::UnknownDevice`]; one at another
    /// site is left out (the report is the intersection of both filters).
    pub fn from_inventory(
        inv: &dyn Inventory,
        site: Option<&str>,
        serials: Option<&[String]>,
        now: u64,
    ) -> Result<HandoverReport, InventoryError> {
        let all = inv.devices()?;
        if let Some(wanted) = serials {
            if let Some(missing) = wanted.iter().find(|s| !all.iter().any(|d| &d.serial == *s)) {
                return Err(InventoryError::UnknownDevice {
                    serial: missing.clone(),
                });
            }
        }
        let chosen = all.into_iter().filter(|d| {
            site.is_none_or(|s| d.site.as_deref() == Some(s))
                && serials.is_none_or(|wanted| wanted.contains(&d.serial))
        });
        let devices = chosen
            .map(|d| device::read(inv, d, now))
            .collect::<Result<Vec<_>, _>>()?;
        let summary = HandoverSummary {
            devices: devices.len(),
            hardened: devices
                .iter()
                .filter(|d| d.state == HardenedState::Hardened)
                .count(),
            with_failed_checks: devices.iter().filter(|d| d.has_failed_checks()).count(),
        };
        let station_ca = inv.station_ca()?.map(|ca| StationCaSummary {
            fingerprint: pem_fingerprint(&ca.cert_pem),
            kind: ca.kind,
            imported: ca.imported,
        });
        Ok(HandoverReport {
            site: site.map(str::to_string),
            generated_at: now,
            station_ca,
            summary,
            devices,
        })
    }

    /// Adds what only the profiles know: each credential's expiry policy (`max_age_days`, `rotate_by`) and the
    /// names of the services behind the ports. Devices whose profile is not among `profiles` keep `None`.
    pub fn with_profiles(mut self, profiles: &[Profile]) -> HandoverReport {
        for device in &mut self.devices {
            let Some(profile) = profiles.iter().find(|p| p.id == device.profile_id) else {
                continue;
            };
            let max_age = profile.password_policy.max_age_days();
            for credential in &mut device.credentials {
                credential.max_age_days = max_age;
                credential.rotate_by = match (credential.changed_at, max_age) {
                    (Some(at), Some(days)) => Some(at + u64::from(days) * DAY),
                    _ => None,
                };
            }
            if let Some(services) = &mut device.services {
                services.name_ports(profile);
            }
        }
        self
    }
}

/// The SHA-256 fingerprint of the first certificate in `pem`, or a note saying it could not be read.
fn pem_fingerprint(pem: &str) -> String {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|der| crate::pki::fingerprint_sha256(&der))
        .unwrap_or_else(|e| format!("unreadable certificate: {e}"))
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
pub(crate) fn date(unix: u64) -> String {
    let t = utc(unix);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// `YYYY-MM-DD HH:MM UTC` of a Unix time.
pub(crate) fn date_time(unix: u64) -> String {
    let t = utc(unix);
    format!("{} {:02}:{:02} UTC", date(unix), t.hour(), t.minute())
}

fn utc(unix: u64) -> time::OffsetDateTime {
    i64::try_from(unix)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}
