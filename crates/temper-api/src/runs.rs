//! Starting runs on attached devices: securing one, rotating its passwords now, renewing its certificate. Each
//! is a job (see [`crate::jobs`]) whose events go to the caller's sink.

use temper_core::discovery::AttachedDevice;
use temper_core::inventory::Inventory;
use temper_core::profile::Profile;

use crate::app::App;
use crate::error::{ApiError, ErrorCode};
use crate::jobs::{JobKind, JobRequest, JobSink};

impl App {
    fn tightened_profiles(&self) -> Result<Vec<Profile>, ApiError> {
        let settings = self.settings();
        self.profiles.iter().map(|p| settings.apply(p)).collect()
    }

    /// Starts securing the attached device `device_id`; progress goes to `sink`. Returns the job id.
    pub fn secure(
        &self,
        device_id: &str,
        site: Option<String>,
        sink: JobSink,
    ) -> Result<u32, ApiError> {
        let inventory = self.session.inventory()?;
        let device = self.devices.get(device_id).ok_or_else(|| {
            ApiError::new(ErrorCode::NotFound, "That device is no longer plugged in.")
                .help("Plug it in again; it appears in the list within two seconds.")
        })?;
        let site = site.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let request = JobRequest {
            kind: JobKind::Commission,
            serial: None,
            device,
            profiles: self.tightened_profiles()?,
            site,
            inventory,
        };
        self.jobs.start(request, sink)
    }

    /// Starts rotating every credential of the inventory's device `serial` now, even those still valid (the
    /// device page's "Rotate passwords now"); the run is a commissioning run that replaces each credential
    /// crash-safely. The device must be plugged in (found by [`DeviceList::find_by_serial`]). Returns the job
    /// id.
    pub fn rotate_now(&self, serial: &str, sink: JobSink) -> Result<u32, ApiError> {
        self.start_for_serial(serial, JobKind::RotateNow, "rotate its passwords", sink)
    }

    /// Starts renewing the certificate of the inventory's device `serial` (a new device key and certificate,
    /// switched to and checked from outside). The device must be plugged in (found by
    /// [`DeviceList::find_by_serial`]). Returns the job id.
    pub fn renew_certificate(&self, serial: &str, sink: JobSink) -> Result<u32, ApiError> {
        self.start_for_serial(
            serial,
            JobKind::RenewCertificate,
            "renew its certificate",
            sink,
        )
    }

    fn start_for_serial(
        &self,
        serial: &str,
        kind: JobKind,
        what: &str,
        sink: JobSink,
    ) -> Result<u32, ApiError> {
        let inventory = self.session.inventory()?;
        let known = inventory.lock().device(serial)?;
        let Some(record) = known else {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                format!("No device {serial} in the inventory."),
            ));
        };
        let device = self.attached_by_serial(serial, what)?;
        let request = JobRequest {
            kind,
            serial: Some(serial.to_string()),
            device,
            profiles: self.tightened_profiles()?,
            site: record.site,
            inventory,
        };
        self.jobs.start(request, sink)
    }

    /// The attached device that is the inventory's device `serial`: the one whose USB serial number equals
    /// it. Simulators announce the device's serial as their USB serial; a real USB-serial adapter has its own
    /// serial, so a real device is not found this way yet (a known limit: the window says to plug it in, and
    /// the CLI's `temper commission --port P --rotate-now` / `temper cert renew --port P` work on any port).
    fn attached_by_serial(&self, serial: &str, what: &str) -> Result<AttachedDevice, ApiError> {
        self.devices.find_by_serial(serial).ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                format!("Plug the device in ({serial}) to {what}."),
            )
            .help("Connect it to this computer with its USB cable; it appears in the Devices list within two seconds. Then press the button again.")
        })
    }
}
