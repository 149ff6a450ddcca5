//! `temper cert renew|revoke|list`: device certificates after commissioning.

use std::net::IpAddr;
use std::time::{Duration, UNIX_EPOCH};

use clap::{Args, Subcommand};
use temper_core::inventory::{CertState, DeviceCertRecord, Inventory};
use temper_core::plan::{self, CommissionOptions, RenewOptions};
use temper_core::transport::serial::SerialLink;

use crate::fault::FaultPoint;
use crate::render::Renderer;
use crate::{exit, Failure, Globals};

/// `temper cert ...`
#[derive(Subcommand)]
pub enum Cmd {
    /// Give the device on PORT a new key and certificate (make-before-break where the model has two slots).
    Renew(Renew),
    /// Revoke a device's certificate; it goes on the next `temper ca crl`.
    Revoke {
        /// Device serial.
        #[arg(long)]
        device: String,
        /// The certificate (SHA-256 fingerprint); default: the device's active one.
        #[arg(long)]
        fingerprint: Option<String>,
    },
    /// List the devices' active certificates and when they expire.
    List {
        /// Only those expiring within this long (e.g. 30d).
        #[arg(long, value_parser = humantime::parse_duration)]
        expiring: Option<Duration>,
    },
}

/// Options of `temper cert renew`.
#[derive(Args)]
pub struct Renew {
    /// The serial port the device is on.
    #[arg(long)]
    port: String,
    /// Refuse unless the device on the port has this serial.
    #[arg(long)]
    device: Option<String>,
    /// Renew only if the active certificate expires within this long (e.g. 30d).
    #[arg(long, value_parser = humantime::parse_duration)]
    expiring: Option<Duration>,
    /// Use this profile instead of recognising the model.
    #[arg(long)]
    profile: Option<String>,
    /// The device's IP address, if reading it from the device is not wanted.
    #[arg(long)]
    address: Option<IpAddr>,
    /// The key type the device makes for its new certificate (ecdsa-p256, ecdsa-p384, ed25519,
    /// rsa-2048...), one its profile allows; default: the profile's.
    #[arg(long, value_name = "KIND")]
    cert_key: Option<String>,
}

impl Cmd {
    /// Runs the subcommand.
    pub async fn run(self, globals: &Globals) -> Result<u8, Failure> {
        match self {
            Cmd::Renew(renew) => renew.run(globals).await,
            Cmd::Revoke {
                device,
                fingerprint,
            } => revoke(globals, &device, fingerprint.as_deref()),
            Cmd::List { expiring } => list(globals, expiring),
        }
    }
}

impl Renew {
    async fn run(self, globals: &Globals) -> Result<u8, Failure> {
        let profiles = super::load_profiles(globals, self.profile.as_deref())?;
        let profiles = super::commission::with_cert_key(profiles, self.cert_key.as_deref())?;
        let mut inventory = super::open_inventory(globals)?;
        let link = SerialLink::open(&self.port, profiles[0].baud)
            .map_err(|e| Failure::new(exit::FAILED, e))?;
        let options = CommissionOptions {
            port: self.port.clone(),
            profiles,
            address: self.address,
            control_address: IpAddr::from(CommissionOptions::DEFAULT_CONTROL_ADDRESS),
            site: None,
            clock_offset_secs: crate::fault::clock_offset()
                .map_err(|e| Failure::new(exit::USAGE, e))?,
            rotate_now: false,
            link: None,
        };
        let renew = RenewOptions {
            device: self.device,
            due_within: self.expiring,
        };
        let fault = FaultPoint::from_env();
        let mut renderer = Renderer::new(globals.json);
        let mut sink = |event: &temper_core::event::Event| {
            renderer.event(event);
            fault.reached(&event.key());
        };
        let result =
            plan::renew_certificate(Box::new(link), options, renew, &mut inventory, &mut sink)
                .await;
        renderer.finish();
        super::commission::conclude(
            result,
            globals,
            "the device's TLS checks failed (listed above); fix them and run again",
        )
    }
}

fn revoke(globals: &Globals, serial: &str, fingerprint: Option<&str>) -> Result<u8, Failure> {
    let mut inventory = super::open_inventory(globals)?;
    let certs = inventory
        .device_certs(serial)
        .map_err(super::inventory_failure)?;
    if inventory
        .device(serial)
        .map_err(super::inventory_failure)?
        .is_none()
    {
        return Err(Failure::new(
            exit::USAGE,
            format!("no device {serial:?} in the inventory (see `temper inventory list`)"),
        ));
    }
    let chosen = match fingerprint {
        Some(fp) => certs
            .iter()
            .find(|c| c.fingerprint.eq_ignore_ascii_case(fp))
            .ok_or_else(|| {
                Failure::new(
                    exit::USAGE,
                    format!("device {serial} has no certificate {fp}"),
                )
            })?,
        None => certs
            .iter()
            .rev()
            .find(|c| c.state == CertState::Active)
            .ok_or_else(|| {
                Failure::new(
                    exit::USAGE,
                    format!("device {serial} has no active certificate (pass --fingerprint)"),
                )
            })?,
    };
    if chosen.state == CertState::Revoked {
        eprintln!("Certificate {} is already revoked.", chosen.fingerprint);
        return Ok(exit::HARDENED);
    }
    let mut revoked = chosen.clone();
    revoked.state = CertState::Revoked;
    inventory
        .put_device_cert(serial, &revoked)
        .map_err(super::inventory_failure)?;
    eprintln!(
        "Revoked certificate {} of {serial}.\nPublish a new CRL with `temper ca crl --out FILE`, and give the device a new certificate with `temper cert renew --port PORT --device {serial}`.",
        revoked.fingerprint
    );
    Ok(exit::HARDENED)
}

fn list(globals: &Globals, expiring: Option<Duration>) -> Result<u8, Failure> {
    let inventory = super::open_inventory(globals)?;
    let now = crate::fault::station_now().map_err(|e| Failure::new(exit::USAGE, e))?;
    let limit = expiring.map(|d| now + d);
    let mut rows: Vec<(String, DeviceCertRecord)> = Vec::new();
    for device in inventory.devices().map_err(super::inventory_failure)? {
        let certs = inventory
            .device_certs(&device.serial)
            .map_err(super::inventory_failure)?;
        if let Some(active) = certs
            .into_iter()
            .rev()
            .find(|c| c.state == CertState::Active)
        {
            let not_after = UNIX_EPOCH + Duration::from_secs(active.not_after);
            if limit.is_none_or(|l| not_after <= l) {
                rows.push((device.serial, active));
            }
        }
    }
    if globals.json {
        for (serial, cert) in &rows {
            let line = serde_json::json!({"serial": serial, "fingerprint": cert.fingerprint, "not_after": cert.not_after});
            println!("{line}");
        }
    } else {
        for (serial, cert) in &rows {
            let until =
                humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(cert.not_after));
            println!("{serial:<18} {until}  {}", cert.fingerprint);
        }
        if rows.is_empty() {
            eprintln!(
                "No active device certificate{}.",
                if expiring.is_some() { " is due" } else { "" }
            );
        }
    }
    Ok(exit::HARDENED)
}
