//! Device simulators for Temper's tests and demo.
//!
//! A simulator owns a real PTY pair (the host opens the slave path like a USB-serial port), keeps its
//! persistent state in a directory (so a SIGKILL is a power cut, not a factory reset) and serves its
//! network services on a loopback address of its own.
//!
//! Layout: generic pieces ([`pty`], [`state`], [`eventlog`], [`timing`]) and one module per model
//! ([`ipcam`], which also simulates its two-slot sibling `ipcam-pro`). Another model (e.g. a Zephyr MCU sensor) adds a module and a [`Model`] variant.
//!
//! [`usb`] gives each model its USB identity, announced on the simulated USB bus so discovery finds it; a
//! device that resets and re-enumerates reports its new port through [`Simulator::presence`].
//!
//! [`SimOptions::hostile`] makes a device misbehave on purpose (a CSR signed by a foreign key, a
//! certificate install that lies, a clock that does not set, ...): see [`ipcam::hostile`].

pub mod ble;
pub mod devkey;
pub mod eventlog;
pub mod ipcam;
pub mod pty;
pub mod state;
pub mod timing;
pub mod transcript;
pub mod usb;
pub mod wire;
pub mod zephyr;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub use eventlog::read_events;
pub use ipcam::hostile::HostileMode;

/// Errors of the simulator library.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("I/O error on {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("PTY error: {0}")]
    Pty(#[from] nix::Error),
    #[error("state file {path} is corrupt: {source}")]
    CorruptState {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("state file {path} belongs to model {found}, not {expected}")]
    WrongModel {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("TLS configuration of {service}: {reason}")]
    Tls { service: String, reason: String },
    #[error("cannot start service {service} on {addr}: {source}")]
    Bind {
        service: String,
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// Something the simulated world needs from the host is missing or did not start.
    #[error("{0}")]
    Setup(String),
    /// The simulated BlueZ could not serve on its bus.
    #[error("D-Bus: {0}")]
    Dbus(#[from] zbus::Error),
}

impl SimError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        SimError::Io {
            what: what.into(),
            source,
        }
    }
}

/// The device models this crate can simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Simvision SV-IPC2100 embedded-Linux IP camera with a BusyBox console.
    Ipcam,
    /// Simvision SV-IPC3100: the same camera with two certificate slots (`certtool ... --slot N`).
    IpcamPro,
    /// A Zephyr MCU sensor that speaks MCUmgr/SMP over its console UART: see [`zephyr`].
    ZephyrSensor,
}

impl Model {
    pub fn id(self) -> &'static str {
        match self {
            Model::Ipcam => "ipcam",
            Model::IpcamPro => "ipcam-pro",
            Model::ZephyrSensor => "zephyr-sensor",
        }
    }

    pub fn from_id(id: &str) -> Option<Model> {
        match id {
            "ipcam" => Some(Model::Ipcam),
            "ipcam-pro" => Some(Model::IpcamPro),
            "zephyr-sensor" => Some(Model::ZephyrSensor),
            _ => None,
        }
    }
}

/// How to run one simulated device.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub model: Model,
    /// Directory holding `state.json` and `events.jsonl` (created if missing).
    pub state_dir: PathBuf,
    /// Line speed of the simulated UART; output and input are both paced at baud/10 bytes per second.
    pub baud: u32,
    /// Loopback address for the network services; derived from the serial when `None`.
    pub ip: Option<Ipv4Addr>,
    /// Suppress unsolicited and interleaved kernel log lines (for benchmarks).
    pub quiet_kernel: bool,
    /// Append a text transcript of the console UART here (see [`transcript`]); `None`: no transcript.
    pub transcript: Option<PathBuf>,
    /// Misbehaviours to show, in any order (duplicates are harmless); empty: an honest device.
    pub hostile: Vec<HostileMode>,
    /// SMP receive buffers of the `zephyr-sensor` model: (size, count); `None`: 2048x4.
    pub smp_buffers: Option<(u32, u32)>,
    /// The `zephyr-sensor`'s MCUboot key (its factory image is signed with it at first start).
    pub boot_key: zephyr::image::sign::BootKeyKind,
}

impl SimOptions {
    pub fn new(model: Model, state_dir: impl AsRef<Path>) -> Self {
        SimOptions {
            model,
            state_dir: state_dir.as_ref().to_path_buf(),
            baud: timing::DEFAULT_BAUD,
            ip: None,
            quiet_kernel: false,
            transcript: None,
            hostile: Vec::new(),
            smp_buffers: None,
            boot_key: Default::default(),
        }
    }
}

/// What a started simulator announces (the JSON line of the CLI).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ReadyInfo {
    pub port: String,
    pub model: String,
    pub serial: String,
    pub ip: String,
}

/// Whether a simulated device is on the (simulated) USB bus right now, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// Up, on this port (a device that reset may come back on another one).
    Plugged(ReadyInfo),
    /// Resetting: its port is gone.
    Unplugged,
}

/// A running simulator. Dropping it does not stop the tasks; the process is meant to be killed.
pub struct Simulator {
    info: ReadyInfo,
    presence: tokio::sync::watch::Receiver<Presence>,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

impl Simulator {
    /// Create the PTY, load or create the state, start the boot sequence and the services.
    /// Must be called inside a tokio runtime.
    pub async fn start(opts: SimOptions) -> Result<Simulator, SimError> {
        match opts.model {
            Model::Ipcam | Model::IpcamPro => {
                let (info, keep) = ipcam::start(opts).await?;
                // The camera never re-enumerates: its presence stays as it started.
                let (tx, presence) = tokio::sync::watch::channel(Presence::Plugged(info.clone()));
                Ok(Simulator {
                    info,
                    presence,
                    _keep: Box::new((keep, tx)),
                })
            }
            Model::ZephyrSensor => {
                let (info, presence) = zephyr::start(opts).await?;
                Ok(Simulator {
                    info,
                    presence,
                    _keep: Box::new(()),
                })
            }
        }
    }

    /// How the device was reached when it started.
    pub fn info(&self) -> &ReadyInfo {
        &self.info
    }

    /// Follows the device through resets: [`Presence::Unplugged`] while it reboots, then
    /// [`Presence::Plugged`] with its new port (the zephyr-sensor re-enumerates on a new PTY).
    pub fn presence(&self) -> tokio::sync::watch::Receiver<Presence> {
        self.presence.clone()
    }
}

/// Default loopback address derived from a serial: 127.(100 + b0 % 100).b1.(b2 % 254 + 1).
pub fn default_ip(serial: &str) -> Ipv4Addr {
    let bytes = hex::decode(serial).unwrap_or_default();
    let b = |i: usize| bytes.get(i).copied().unwrap_or(0);
    Ipv4Addr::new(127, 100 + b(0) % 100, b(1), b(2) % 254 + 1)
}
