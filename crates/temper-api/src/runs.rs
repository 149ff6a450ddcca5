//! Starting runs on attached devices: securing one, rotating its passwords now, renewing its certificate. Each
//! is a job (see [`crate::jobs`]) whose events go to the caller's sink.

use temper_core::discovery::AttachedDevice;
use temper_core::inventory::link::{self, LinkKind};
use temper_core::inventory::Inventory;
use temper_core::profile::Profile;
use temper_core::transport::ble::Passkey;

use crate::app::App;
use crate::error::{ApiError, ErrorCode};
use crate::jobs::{JobKind, JobRequest, JobSink};
use crate::session::SecretInput;

impl App {
    fn tightened_profiles(&self) -> Result<Vec<Profile>, ApiError> {
        let settings = self.settings();
        self.profiles.iter().map(|p| settings.apply(p)).collect()
    }

    /// Starts securing the attached device `device_id`; progress goes to `sink`. Returns the job id.
    ///
    /// `passkey` is the 6 digits from the label of a Bluetooth LE device that pairs by passkey
    /// ([`crate::DeviceView::needs_passkey`]); it is checked here ([`ErrorCode::Passkey`] when missing or
    /// not 6 digits) and handed to the run only.
    pub fn secure(
        &self,
        device_id: &str,
        site: Option<String>,
        passkey: Option<SecretInput>,
        sink: JobSink,
    ) -> Result<u32, ApiError> {
        let inventory = self.session.inventory()?;
        let device = self.devices.get(device_id).ok_or_else(|| {
            ApiError::new(ErrorCode::NotFound, "That device is no longer plugged in.")
                .help("Plug it in again; it appears in the list within two seconds.")
        })?;
        let passkey = match passkey {
            Some(typed) if device.ble().is_some() => {
                Some(typed.0.expose().parse::<Passkey>().map_err(|_| {
                    ApiError::new(ErrorCode::Passkey, "The passkey is 6 digits.")
                        .help("Enter the 6 digits printed on the device's label, e.g. 042137.")
                })?)
            }
            _ => None,
        };
        let needs = crate::devices::view(&device, &self.profiles).needs_passkey;
        if needs && passkey.is_none() {
            return Err(ApiError::new(
                ErrorCode::Passkey,
                "This device needs its passkey to pair.",
            )
            .help("Enter the 6 digits printed on the device's label."));
        }
        let site = site.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let request = JobRequest {
            kind: JobKind::Commission,
            serial: None,
            device,
            profiles: self.tightened_profiles()?,
            site,
            inventory,
            passkey,
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
        let device = match self.attached_over_ble(&inventory, serial)? {
            (Some(device), _) => device,
            (None, true) if self.devices.find_by_serial(serial).is_none() => {
                return Err(ApiError::new(
                    ErrorCode::NotFound,
                    format!("The device ({serial}) is not heard over Bluetooth, so Temper cannot {what}."),
                )
                .help("Switch it on and bring it close to this computer (or connect it with its USB cable); it appears in the Devices list within a few seconds. Then press the button again."));
            }
            (None, _) => self.attached_by_serial(serial, what)?,
        };
        let request = JobRequest {
            kind,
            serial: Some(serial.to_string()),
            device,
            profiles: self.tightened_profiles()?,
            site: record.site,
            inventory,
            passkey: None,
        };
        self.jobs.start(request, sink)
    }

    /// The Bluetooth LE device in range that is the inventory's device `serial`: the one at the address its
    /// link record names (written when it was commissioned over BLE), if it is heard now; and whether it was
    /// reached over BLE at all.
    fn attached_over_ble(
        &self,
        inventory: &crate::shared::SharedInventory,
        serial: &str,
    ) -> Result<(Option<AttachedDevice>, bool), ApiError> {
        match link::link(inventory, serial)? {
            Some(record) if record.transport == LinkKind::Ble => {
                Ok((self.devices.get(&format!("ble:{}", record.address)), true))
            }
            _ => Ok((None, false)),
        }
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
