//! `temper commission --port PATH | --device SERIAL | --ble ADDRESS`: harden one device.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{ArgGroup, Args};
use temper_core::inventory::link::DeviceLink;
use temper_core::plan::{self, CommissionOptions};
use temper_core::transport::serial::SerialLink;
use temper_core::transport::TransportError;

use crate::fault::FaultPoint;
use crate::render::Renderer;
use crate::{exit, Failure, Globals};

/// Options of `temper commission`.
#[derive(Args)]
#[command(group(ArgGroup::new("target").required(true).args(["port", "device", "ble"])))]
pub struct Cmd {
    /// The serial port the device is on, e.g. /dev/ttyUSB0.
    #[arg(long)]
    port: Option<String>,
    /// Instead of --port: the attached device whose USB serial number is SERIAL (see `temper devices`).
    #[arg(long, value_name = "SERIAL")]
    device: Option<String>,
    /// Instead of --port: the Bluetooth LE device with this address (see `temper devices`).
    #[arg(long, value_name = "ADDRESS")]
    ble: Option<String>,
    /// The 6-digit passkey printed on a BLE device's label (when its profile pairs by passkey and does not
    /// give one).
    #[arg(long, value_name = "NNNNNN")]
    passkey: Option<temper_core::transport::ble::Passkey>,
    #[command(flatten)]
    bus: super::devices::BusArgs,
    /// Use this profile instead of recognising the model.
    #[arg(long)]
    profile: Option<String>,
    /// The device's IP address, if reading it from the device is not wanted.
    #[arg(long)]
    address: Option<IpAddr>,
    /// A site label recorded with the device (the only personal data Temper stores).
    #[arg(long)]
    site: Option<String>,
    /// Baud rate (default: the profile's).
    #[arg(long)]
    baud: Option<u32>,
    /// Rotate every credential now, even those still valid (crash-safe like the first rotation).
    #[arg(long)]
    rotate_now: bool,
    /// The key type the device makes for its certificate (ecdsa-p256, ecdsa-p384, ed25519, rsa-2048...),
    /// one its profile allows; default: the profile's.
    #[arg(long, value_name = "KIND")]
    cert_key: Option<String>,
}

impl Cmd {
    /// The commission options the demo uses: the port, and the demo's private USB bus (where the simulator
    /// announced its USB id).
    pub fn for_demo(port: String, bus: PathBuf) -> Self {
        Cmd {
            port: Some(port),
            device: None,
            ble: None,
            passkey: None,
            bus: super::devices::BusArgs::at(bus),
            profile: None,
            address: None,
            site: Some("demo".into()),
            baud: None,
            rotate_now: false,
            cert_key: None,
        }
    }

    /// The commission options of the BLE demo: the plug's address and the passkey on its label.
    pub fn for_demo_ble(address: String, passkey: String) -> Self {
        Cmd {
            port: None,
            device: None,
            ble: Some(address),
            passkey: passkey.parse().ok(),
            bus: super::devices::BusArgs::default(),
            profile: None,
            address: None,
            site: Some("demo".into()),
            baud: None,
            rotate_now: false,
            cert_key: None,
        }
    }

    /// Runs the plan and prints the report.
    pub async fn run(self, globals: &Globals) -> Result<u8, Failure> {
        if let Some(address) = self.ble.clone() {
            return self.run_ble(&address, globals).await;
        }
        let port = match (self.port.clone(), &self.device) {
            (Some(port), _) => port,
            (None, Some(serial)) => self.bus.port_of(serial)?,
            (None, None) => {
                return Err(Failure::new(
                    exit::USAGE,
                    "pass --port PATH, --device SERIAL or --ble ADDRESS",
                ))
            }
        };
        if let (Some(serial), false) = (&self.device, globals.json) {
            eprintln!("Device {serial} is on {port}.");
        }
        let mut profiles = super::load_profiles(globals, self.profile.as_deref())?;
        if self.profile.is_none() {
            // The USB id tells the model family before a byte is sent (and so which driver to speak).
            profiles = super::devices::narrow_by_usb(&self.bus, &port, profiles);
        }
        let profiles = with_cert_key(profiles, self.cert_key.as_deref())?;
        let mut inventory = super::open_inventory(globals)?;
        let baud = self.baud.unwrap_or(profiles[0].baud);
        let link = SerialLink::open(&port, baud).map_err(|e| Failure::new(exit::FAILED, e))?;
        let options = self.options(port.clone(), profiles, Some(DeviceLink::serial(&port)))?;
        let fault = FaultPoint::from_env();
        let mut renderer = Renderer::new(globals.json);
        let mut sink = |event: &temper_core::event::Event| {
            renderer.event(event);
            fault.reached(&event.key());
        };
        let result = plan::commission(Box::new(link), options, &mut inventory, &mut sink).await;
        renderer.finish();
        conclude(result, globals, NOT_HARDENED)
    }

    fn options(
        &self,
        port: String,
        profiles: Vec<temper_core::profile::Profile>,
        link: Option<DeviceLink>,
    ) -> Result<CommissionOptions, Failure> {
        Ok(CommissionOptions {
            port,
            profiles,
            address: self.address,
            control_address: IpAddr::from(CommissionOptions::DEFAULT_CONTROL_ADDRESS),
            site: self.site.clone(),
            clock_offset_secs: crate::fault::clock_offset()
                .map_err(|e| Failure::new(exit::USAGE, e))?,
            rotate_now: self.rotate_now,
            link,
        })
    }

    /// Over Bluetooth LE: find, pair, commission; a dropped link is reconnected with back-off and the plan
    /// resumes (see `temper_core::plan::over_ble`).
    async fn run_ble(&self, address: &str, globals: &Globals) -> Result<u8, Failure> {
        let mut profiles = super::load_profiles(globals, self.profile.as_deref())?;
        if self.profile.is_none() {
            profiles = plan::over_ble::ble_profiles(profiles);
        }
        let profiles = with_cert_key(profiles, self.cert_key.as_deref())?;
        let mut inventory = super::open_inventory(globals)?;
        let options = self.options(String::new(), profiles, None)?;
        let fault = FaultPoint::from_env();
        let mut renderer = Renderer::new(globals.json);
        let mut sink = |event: &temper_core::event::Event| {
            renderer.event(event);
            fault.reached(&event.key());
        };
        let result =
            plan::commission_over_ble(address, self.passkey, options, &mut inventory, &mut sink)
                .await;
        renderer.finish();
        let result = match result {
            Err(plan::BleRunError::Link(TransportError::Ble(e))) => {
                return Err(super::ble::failure(e))
            }
            Err(plan::BleRunError::Link(e)) => return Err(Failure::new(exit::FAILED, e)),
            Err(plan::BleRunError::Plan(e)) => Err(e),
            Ok(report) => Ok(report),
        };
        conclude(result, globals, NOT_HARDENED)
    }
}

const NOT_HARDENED: &str =
    "the device is NOT hardened: some outside checks failed (listed above); fix them and run again";

/// `profiles` with their devices told to make `kind` keys (`--cert-key`), leaving out the models whose profile
/// does not allow it (the device on the port cannot be one of them). Refused, naming each profile and what it
/// allows, when no loaded profile allows it.
pub fn with_cert_key(
    profiles: Vec<temper_core::profile::Profile>,
    kind: Option<&str>,
) -> Result<Vec<temper_core::profile::Profile>, Failure> {
    let Some(kind) = kind else {
        return Ok(profiles);
    };
    let mut allowed = Vec::new();
    let mut refusals = Vec::new();
    for p in &profiles {
        match p.with_cert_key(kind) {
            Ok(p) => allowed.push(p),
            Err(why) => refusals.push(format!("{} ({}): {why}", p.name, p.id)),
        }
    }
    if allowed.is_empty() {
        return Err(Failure::new(
            exit::USAGE,
            format!("--cert-key {kind}: {}", refusals.join("; ")),
        ));
    }
    Ok(allowed)
}

/// The end of a plan run for people and scripts: a failure says how to resume; a report is printed, and a
/// report with a failed check exits with `NOT_HARDENED` and `not_hardened` as the message.
pub fn conclude(
    result: Result<plan::Report, plan::PlanError>,
    globals: &Globals,
    not_hardened: &str,
) -> Result<u8, Failure> {
    let report = result.map_err(|e| {
        Failure::new(
            exit::FAILED,
            format!("{e} (run the same command again to resume)"),
        )
    })?;
    crate::render::print_report(&report, globals.json);
    if report.hardened {
        Ok(exit::HARDENED)
    } else {
        Err(Failure::new(exit::NOT_HARDENED, not_hardened))
    }
}
