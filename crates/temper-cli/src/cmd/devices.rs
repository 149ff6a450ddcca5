//! `temper devices [--watch]`: what is plugged in, and which profile each device matches.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use temper_core::discovery::{
    find_by_serial, recognise, AttachedDevice, BleSource, BleStatus, BleStatusHandle, Discovery,
    DiscoveryError, DiscoveryEvent, ProfileMatch, SimulatedUsbBus, Watcher,
};
use temper_core::profile::Profile;

use crate::{exit, Failure, Globals};

/// Options of `temper devices`.
#[derive(Args)]
pub struct Cmd {
    /// Keep watching: one line per device plugged in or unplugged (JSON lines with --json), until Ctrl-C.
    #[arg(long)]
    watch: bool,
    /// Do not listen for Bluetooth LE devices (USB-serial only).
    #[arg(long)]
    no_ble: bool,
    #[command(flatten)]
    bus: BusArgs,
}

/// Where simulated devices announce themselves (shared by `devices` and `commission --device`).
#[derive(Args, Default)]
pub struct BusArgs {
    /// The simulated USB bus directory (default: $XDG_RUNTIME_DIR/temper/sim-usb, as temper-devsim uses).
    #[arg(long, value_name = "DIR", env = "TEMPER_SIM_BUS")]
    sim_bus: Option<PathBuf>,
}

impl BusArgs {
    fn discovery(&self) -> (Discovery, PathBuf) {
        let dir = (self.sim_bus.clone()).unwrap_or_else(SimulatedUsbBus::default_dir);
        (Discovery::standard(&dir), dir)
    }

    /// The port of the one attached device whose USB serial is `serial`.
    pub fn port_of(&self, serial: &str) -> Result<String, Failure> {
        let devices = self.discovery().0.scan().map_err(failure)?;
        let device = find_by_serial(&devices, serial).map_err(|e| {
            let help = "see `temper devices`, or pass --port PATH";
            Failure::new(exit::USAGE, format!("{e}\nhelp: {help}"))
        })?;
        device
            .port()
            .map(str::to_string)
            .ok_or_else(|| Failure::new(exit::USAGE, format!("{} has no serial port", device.id)))
    }
}

impl BusArgs {
    /// The bus in `dir`.
    pub fn at(dir: PathBuf) -> Self {
        BusArgs { sim_bus: Some(dir) }
    }

    /// The attached device on `port`, when discovery sees it (a port not found is not an error: the plan
    /// recognises the device by talking to it).
    pub fn attached_on(&self, port: &str) -> Option<AttachedDevice> {
        let devices = self.discovery().0.scan().ok()?;
        devices.into_iter().find(|d| d.port() == Some(port))
    }
}

/// `profiles` narrowed to those whose USB ids match the device on `port`; all of them when discovery does
/// not see the port or no profile lists its USB id.
pub fn narrow_by_usb(bus: &BusArgs, port: &str, profiles: Vec<Profile>) -> Vec<Profile> {
    let Some(device) = bus.attached_on(port) else {
        return profiles;
    };
    let ProfileMatch::Recognised { candidates, .. } = recognise(&device, &profiles) else {
        return profiles;
    };
    profiles
        .into_iter()
        .filter(|p| candidates.contains(&p.id))
        .collect()
}

fn failure(e: DiscoveryError) -> Failure {
    Failure::new(exit::FAILED, e)
}

/// A device and what it matches, for JSON output: the device's fields plus `profile`.
#[derive(Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    device: &'a AttachedDevice,
    profile: ProfileMatch,
}

/// One JSON line of `--watch`.
#[derive(Serialize)]
#[serde(
    tag = "event",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case"
)]
enum Line<'a> {
    /// The initial devices are reported; changes follow.
    Watching {
        sources: Vec<&'static str>,
        sim_bus: PathBuf,
    },
    Attached(Listed<'a>),
    Detached {
        id: &'a str,
        port: Option<&'a str>,
    },
}

impl Cmd {
    /// Lists the attached devices, or watches them until Ctrl-C or SIGTERM.
    pub async fn run(self, globals: &Globals) -> Result<u8, Failure> {
        let profiles = super::load_profiles(globals, None)?;
        let (mut discovery, sim_bus) = self.bus.discovery();
        let ble = if self.no_ble {
            None
        } else {
            let source = BleSource::start(&profiles).map_err(failure)?;
            let status = source.status_handle();
            discovery.sources.push(Box::new(source));
            Some(status)
        };
        let json = globals.json;
        if !self.watch {
            let bluetooth = match &ble {
                Some(handle) => Some(first_ble_scan(handle).await),
                None => None,
            };
            let devices = discovery.scan().map_err(failure)?;
            let listed: Vec<Listed> = devices.iter().map(|d| listed(d, &profiles)).collect();
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "devices": listed, "bluetooth": bluetooth })
                );
            } else if listed.is_empty() {
                println!("No devices attached (looked at USB-serial ports in /sys/class/tty, at the simulated USB bus {}{}).", sim_bus.display(), if ble.is_some() { " and for Bluetooth LE devices" } else { "" });
            }
            if let (Some(BleStatus::Unavailable { message, .. }), false) = (&bluetooth, json) {
                println!("Bluetooth LE: {message}");
            }
            for entry in listed.iter().filter(|_| !json) {
                println!(
                    "{}\n    {}",
                    entry.device.summary(),
                    describe(&entry.profile)
                );
            }
            return Ok(exit::HARDENED);
        }
        let sources = discovery.source_names();
        let watcher = Watcher::start(discovery, Watcher::DEFAULT_INTERVAL, move |event| {
            print(&event, &profiles, json)
        })
        .map_err(failure)?;
        if json {
            emit(&Line::Watching { sources, sim_bus });
        } else {
            eprintln!(
                "Watching for devices (sysfs and the simulated USB bus {}); Ctrl-C to stop.",
                sim_bus.display()
            );
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| Failure::new(exit::FAILED, format!("cannot handle SIGTERM: {e}")))?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        watcher.stop();
        Ok(exit::HARDENED)
    }
}

/// The Bluetooth state once the first scan window has passed (at most a few seconds).
async fn first_ble_scan(handle: &BleStatusHandle) -> BleStatus {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(6);
    loop {
        let status = handle.status();
        if status != BleStatus::Starting || tokio::time::Instant::now() >= deadline {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn listed<'a>(device: &'a AttachedDevice, profiles: &[Profile]) -> Listed<'a> {
    Listed {
        device,
        profile: recognise(device, profiles),
    }
}

fn describe(found: &ProfileMatch) -> String {
    match found {
        ProfileMatch::Recognised {
            profile_id,
            profile_name,
            candidates,
        } if candidates.len() > 1 => format!(
            "{profile_id}: {profile_name} (USB alone cannot tell {} apart: the model is confirmed when the device is identified)",
            candidates.join(", ")
        ),
        ProfileMatch::Recognised {
            profile_id,
            profile_name,
            ..
        } => format!("{profile_id}: {profile_name}"),
        ProfileMatch::Unknown { reason } => format!("unknown device: {reason}"),
    }
}

fn print(event: &DiscoveryEvent, profiles: &[Profile], json: bool) {
    match (event, json) {
        (DiscoveryEvent::Attached(device), true) => emit(&Line::Attached(listed(device, profiles))),
        (DiscoveryEvent::Detached { id, port }, true) => emit(&Line::Detached {
            id,
            port: port.as_deref(),
        }),
        (DiscoveryEvent::Attached(device), false) => {
            let found = recognise(device, profiles);
            write_line(&format!(
                "plugged in:  {}\n    {}",
                device.summary(),
                describe(&found)
            ));
        }
        (DiscoveryEvent::Detached { id, port }, false) => write_line(&format!(
            "unplugged:   {} ({id})",
            port.as_deref().unwrap_or(id)
        )),
    }
}

fn emit(line: &Line) {
    match serde_json::to_string(line) {
        Ok(text) => write_line(&text),
        Err(e) => tracing::warn!("cannot encode a device event: {e}"),
    }
}

/// Writes one line; a closed stdout (the reader went away) ends the watch.
fn write_line(text: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
        std::process::exit(exit::FAILED.into());
    }
}
