//! What the app writes for the person: handover reports, credential labels, the exported CA certificate and
//! inventory backups. Files go to the reports folder the app shows (no native dialog); nothing here writes a
//! credential to disk (the label goes to the window, which prints it).

use std::path::PathBuf;

use temper_core::handover::HandoverReport;
use temper_core::inventory::{Clock, Inventory, SystemClock};
use temper_core::label::{CredentialLabel, LabelError};

use crate::app::App;
use crate::error::{ApiError, ErrorCode};

fn io_error(what: &str, path: &std::path::Path, e: std::io::Error) -> ApiError {
    ApiError::new(
        ErrorCode::Internal,
        format!("cannot write {what} {}: {e}", path.display()),
    )
    .help("Check that the reports folder is writable and the disk has space.")
}

pub(crate) fn stamp() -> String {
    let now = SystemClock.now();
    let date = time::OffsetDateTime::from_unix_timestamp(now as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        date.year(),
        u8::from(date.month()),
        date.day(),
        date.hour(),
        date.minute(),
        date.second()
    )
}

impl App {
    /// Saves the handover report of `site` (narrowed to `serials` when not empty) as one HTML file in the
    /// reports folder; returns its path. The report holds no credential.
    pub fn save_handover(
        &self,
        site: Option<&str>,
        serials: &[String],
    ) -> Result<String, ApiError> {
        let inventory = self.session.inventory()?;
        let site = site.map(str::trim).filter(|s| !s.is_empty());
        let serials = (!serials.is_empty()).then_some(serials);
        let report = HandoverReport::from_inventory(&inventory, site, serials, SystemClock.now())?
            .with_profiles(self.profiles());
        let dir = self.reports_dir()?;
        let path = report
            .save_html(&dir)
            .map_err(|e| io_error("the handover report in", &dir, e))?;
        Ok(path.display().to_string())
    }

    /// The printable label (SVG with a QR code) of a device's credential; audited as a reveal first.
    pub fn credential_label(&self, serial: &str, store: &str) -> Result<String, ApiError> {
        let mut inventory = self.session.inventory()?;
        let label =
            CredentialLabel::reveal(&mut inventory, serial, Some(store)).map_err(|e| match e {
                LabelError::Inventory(e) => e.into(),
                other => ApiError::new(ErrorCode::NotFound, other.to_string()),
            })?;
        Ok(label.to_svg().expose().to_string())
    }

    /// Writes the station CA certificate (public) to the reports folder; returns its path.
    pub fn export_ca(&self) -> Result<String, ApiError> {
        let inventory = self.session.inventory()?;
        let ca = inventory.station_ca()?.ok_or_else(|| {
            ApiError::new(ErrorCode::NotFound, "This station has no CA yet.")
                .help("Temper makes one when it secures the first device that gets a certificate.")
        })?;
        let path = self
            .reports_dir()?
            .join(format!("temper-station-ca-{}.pem", stamp()));
        std::fs::write(&path, ca.cert_pem)
            .map_err(|e| io_error("the CA certificate to", &path, e))?;
        Ok(path.display().to_string())
    }

    /// Writes an encrypted backup of the inventory (openable with the same key or the recovery key).
    pub fn backup_inventory(&self) -> Result<String, ApiError> {
        let inventory = self.session.inventory()?;
        let path: PathBuf = self
            .reports_dir()?
            .join(format!("temper-inventory-{}.backup", stamp()));
        inventory.lock().backup(&path)?;
        Ok(path.display().to_string())
    }
}
