//! Runs started from the window: commissioning ("Secure this device"), rotating every credential now, and
//! renewing the certificate. Each runs on its own thread (the plan's future is driven by a small runtime
//! there), shares the one inventory connection, and reports through a callback as the same [`RunEvent`]
//! stream. Several run at once (installer mode); one device never has two runs. A Bluetooth LE device is
//! commissioned with [`plan::commission_over_ble`] (found, paired when its profile says so, reconnected with
//! back-off); a passkey the person typed travels in the [`JobRequest`] only (never logged, never in events).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use temper_core::discovery::AttachedDevice;
use temper_core::inventory::link::DeviceLink;
use temper_core::plan::{self, CommissionOptions, RenewOptions};
use temper_core::profile::Profile;
use temper_core::transport::ble::Passkey;
use temper_core::transport::serial::SerialLink;

use crate::error::{ble_run_error, ApiError, ErrorCode, DEVICE_LOST, DEVICE_LOST_HELP};
use crate::progress::{JobEvent, RunEvent, Translator};
use crate::shared::SharedInventory;

/// Where a run's events go (called on the run's thread, in order).
pub type JobSink = Arc<dyn Fn(JobEvent) + Send + Sync>;

/// The runs in progress.
#[derive(Default)]
pub struct Jobs {
    next: AtomicU32,
    busy: Arc<Mutex<HashSet<String>>>,
}

/// Which plan a run follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Commission and harden the device (resumes where an earlier run stopped).
    Commission,
    /// Commission with every credential rotated, even those still valid
    /// ([`CommissionOptions::rotate_now`]).
    RotateNow,
    /// Renew the device's certificate ([`plan::renew_certificate`]); the device on the port must have the
    /// serial in [`JobRequest::serial`].
    RenewCertificate,
}

impl JobKind {
    fn thread_name(self) -> &'static str {
        match self {
            JobKind::Commission => "commission",
            JobKind::RotateNow => "rotate-now",
            JobKind::RenewCertificate => "renew-cert",
        }
    }
}

/// What a run needs.
pub struct JobRequest {
    /// Which plan.
    pub kind: JobKind,
    /// The inventory serial the run is for (renewal refuses another device); `None` for a first commissioning.
    pub serial: Option<String>,
    /// The attached device.
    pub device: AttachedDevice,
    /// Profiles (already tightened by the settings).
    pub profiles: Vec<Profile>,
    /// Site label.
    pub site: Option<String>,
    /// The inventory.
    pub inventory: SharedInventory,
    /// The passkey the person typed for a Bluetooth LE device that pairs by passkey (`Debug` hides it).
    pub passkey: Option<Passkey>,
}

/// How the run reaches the device.
enum Reach {
    Serial(String),
    Ble(String),
}

impl Jobs {
    /// True while `device` (a discovery id) has a run.
    pub fn is_running(&self, device: &str) -> bool {
        self.busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(device)
    }

    /// Starts a run; its events go to `sink`. [`ErrorCode::Busy`] if the device already has one.
    pub fn start(&self, request: JobRequest, sink: JobSink) -> Result<u32, ApiError> {
        let id = request.device.id.clone();
        let reach = match (request.device.port(), request.device.ble()) {
            (Some(port), _) => Reach::Serial(port.to_string()),
            (None, Some(_)) if request.kind == JobKind::RenewCertificate => {
                return Err(ApiError::new(
                    ErrorCode::Invalid,
                    "Renewing the certificate over Bluetooth is not supported yet.",
                )
                .help("Connect the device with its USB cable and press Renew certificate again."));
            }
            (None, Some(seen)) => Reach::Ble(seen.address.clone()),
            (None, None) => {
                return Err(ApiError::new(
                    ErrorCode::DeviceIncompatible,
                    "This device has no serial port Temper can use yet.",
                ))
            }
        };
        if !self
            .busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone())
        {
            return Err(ApiError::new(
                ErrorCode::Busy,
                "Temper is already working on this device.",
            )
            .help("Wait until the run on screen finishes, then try again."));
        }
        let job = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let busy = Arc::clone(&self.busy);
        let spawned = std::thread::Builder::new()
            .name(format!("{}-{job}", request.kind.thread_name()))
            .spawn(move || {
                let emit = |event: RunEvent| {
                    sink(JobEvent {
                        job,
                        device: id.clone(),
                        event,
                    })
                };
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match reach {
                    Reach::Serial(port) => run(port, request, &emit),
                    Reach::Ble(address) => run_ble(&address, request, &emit),
                }));
                match outcome {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => emit(RunEvent::Failed { error }),
                    Err(_) => emit(RunEvent::Failed {
                        error: ApiError::new(ErrorCode::Internal, "Temper stopped because of an internal error.")
                            .help("Press Retry: Temper resumes where it stopped. If it happens again, report it with the log."),
                    }),
                }
                busy.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            });
        spawned.map_err(|e| {
            ApiError::new(ErrorCode::Internal, format!("cannot start the run: {e}"))
        })?;
        Ok(job)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ApiError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot start a runtime: {e}")))
}

/// Commissions (or, for [`JobKind::RotateNow`], rotates every credential of) the BLE device `address`.
fn run_ble(
    address: &str,
    request: JobRequest,
    emit: &(dyn Fn(RunEvent) + Sync),
) -> Result<(), ApiError> {
    let runtime = runtime()?;
    let options = options(
        request.kind,
        String::new(),
        plan::over_ble::ble_profiles(request.profiles),
        request.site,
        None,
    );
    let mut inventory = request.inventory;
    let mut translator = Translator::default();
    let mut sink = |event: &temper_core::event::Event| {
        if let Some(e) = translator.translate(event) {
            emit(e);
        }
    };
    let passkey = request.passkey;
    runtime
        .block_on(plan::commission_over_ble(
            address,
            passkey,
            options,
            &mut inventory,
            &mut sink,
        ))
        .map_err(ble_run_error)?;
    Ok(())
}

/// The plan's options for a run from the window: the station's defaults, the device's port (or none: BLE fills
/// it in) and how it is reached.
fn options(
    kind: JobKind,
    port: String,
    profiles: Vec<Profile>,
    site: Option<String>,
    link: Option<DeviceLink>,
) -> CommissionOptions {
    CommissionOptions {
        port,
        profiles,
        address: None,
        control_address: IpAddr::from(CommissionOptions::DEFAULT_CONTROL_ADDRESS),
        site,
        clock_offset_secs: 0,
        rotate_now: kind == JobKind::RotateNow,
        link,
    }
}

fn run(
    port: String,
    request: JobRequest,
    emit: &(dyn Fn(RunEvent) + Sync),
) -> Result<(), ApiError> {
    let runtime = runtime()?;
    let baud = request.profiles.first().map(|p| p.baud).unwrap_or(115_200);
    // The serial link registers with the runtime's reactor, so it is opened inside it.
    let link = runtime
        .block_on(async { SerialLink::open(&port, baud) })
        .map_err(|_| ApiError::new(ErrorCode::DeviceLost, DEVICE_LOST).help(DEVICE_LOST_HELP))?;
    let link_record = DeviceLink::serial(&port);
    let options = options(
        request.kind,
        port,
        request.profiles,
        request.site,
        Some(link_record),
    );
    let mut inventory = request.inventory;
    let mut translator = Translator::default();
    let mut sink = |event: &temper_core::event::Event| {
        if let Some(e) = translator.translate(event) {
            emit(e);
        }
    };
    let link = Box::new(link);
    match request.kind {
        JobKind::Commission | JobKind::RotateNow => {
            runtime.block_on(plan::commission(link, options, &mut inventory, &mut sink))?
        }
        JobKind::RenewCertificate => {
            let renew = RenewOptions {
                device: request.serial,
                due_within: None,
            };
            runtime.block_on(plan::renew_certificate(
                link,
                options,
                renew,
                &mut inventory,
                &mut sink,
            ))?
        }
    };
    Ok(())
}
