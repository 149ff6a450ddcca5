//! `zephyr-sensor`: a Zephyr MCU sensor whose console UART speaks MCUmgr / SMP ("SMP over console").
//!
//! The PTY is paced at baud/10 bytes per second in both directions ([`crate::pty`]). Frames are decoded with
//! `temper_core::proto::smp::serial::Decoder`, limited like Zephyr's UART transport: a line longer than
//! [`MAX_LINE`] or a packet (plus CRC) larger than one net buffer (`--smp-buffers SIZExCOUNT`, default
//! 2048x4) is dropped with no reply. [`smp`] answers OS echo, MCUmgr params, image state read and image
//! upload (see [`image`]); everything else gets `{"rc": 8}` (ENOTSUP).
//!
//! State on disk (`--state DIR`): `state.json` (serial, slot 1 image), `slot1.bin` (the uploaded image),
//! `events.jsonl`. The upload offset lives in RAM only, as on the device.

pub mod app;
mod cbor;
pub mod cert;
pub mod clock;
pub mod cred;
pub mod enumeration;
pub mod image;
pub mod mqtt;
pub mod net;
pub mod os;
pub mod settings;
pub mod shell;
pub mod smp;

use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use temper_core::proto::smp::serial::{encode, Decoder, MAX_LINE};
use tokio::sync::mpsc;

use crate::eventlog::EventLog;
use crate::state::STATE_FILE;
use crate::{pty, ReadyInfo, SimError, SimOptions};

/// SMP net buffers when `--smp-buffers` is not given: (size, count).
pub const DEFAULT_BUFFERS: (u32, u32) = (2048, 4);
/// Console line printed at each boot, before any SMP traffic (console text between frames is allowed).
pub const BOOT_BANNER: &str = "*** Booting Zephyr OS build v3.7.0 ***\r\n";

/// Parses `SIZExCOUNT` (e.g. `2048x4`) for `--smp-buffers`.
pub fn parse_buffers(s: &str) -> Result<(u32, u32), String> {
    let (size, count) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?}: expected SIZExCOUNT, e.g. 2048x4"))?;
    let size: u32 = size.parse().map_err(|e| format!("buffer size: {e}"))?;
    let count: u32 = count.parse().map_err(|e| format!("buffer count: {e}"))?;
    if size < 64 || count == 0 {
        return Err("buffer size must be at least 64 and count at least 1".into());
    }
    Ok((size, count))
}

/// An image held in a slot, as remembered in `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredImage {
    pub len: u64,
    /// Hex SHA-256 of the image file.
    pub sha256: String,
    /// "major.minor.revision[.build]" from the MCUboot header.
    pub version: String,
}

/// Everything the sensor remembers across power cycles.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ZephyrState {
    pub model: String,
    pub serial: String,
    #[serde(default)]
    pub last_port: Option<String>,
    #[serde(default)]
    pub event_seq: u64,
    #[serde(default)]
    pub boot_count: u64,
    /// The complete image in slot 1 (`slot1.bin`); `None`: slot 1 is empty.
    #[serde(default)]
    pub slot1: Option<StoredImage>,
}

impl ZephyrState {
    fn new(model: &str) -> ZephyrState {
        ZephyrState {
            model: model.into(),
            serial: hex::encode(rand::thread_rng().gen::<[u8; 8]>()),
            last_port: None,
            event_seq: 0,
            boot_count: 0,
            slot1: None,
        }
    }
}

/// Loads `DIR/state.json`; `None` when there is none yet.
pub fn load_state(dir: &Path) -> Result<Option<ZephyrState>, SimError> {
    let path = dir.join(STATE_FILE);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| SimError::CorruptState { path, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SimError::io(path.display().to_string(), e)),
    }
}

/// Atomic replace of `DIR/state.json` (see [`crate::state::save_json_atomically`]).
pub fn save_state(dir: &Path, state: &ZephyrState) -> Result<(), SimError> {
    crate::state::save_json_atomically(dir, state)
}

/// Start a zephyr-sensor: state, PTY, the SMP task.
pub(crate) async fn start(
    opts: SimOptions,
) -> Result<(ReadyInfo, Box<dyn std::any::Any + Send + Sync>), SimError> {
    let model = opts.model.id();
    let dir = opts.state_dir.clone();
    fs::create_dir_all(&dir).map_err(|e| SimError::io(dir.display().to_string(), e))?;
    let mut state = match load_state(&dir)? {
        Some(s) if s.model != model => {
            return Err(SimError::WrongModel {
                path: dir.join(STATE_FILE),
                found: s.model,
                expected: model.into(),
            })
        }
        Some(s) => s,
        None => ZephyrState::new(model),
    };
    let events = EventLog::open(&dir, state.event_seq)?;
    let ip = opts.ip.unwrap_or_else(|| crate::default_ip(&state.serial));

    // A re-plugged device shows up under a new port name: never reuse the previous path.
    let mut pty = pty::open(opts.baud)?;
    if state.last_port.as_deref() == Some(pty.path.as_str()) {
        pty = pty::open(opts.baud)?;
    }
    state.last_port = Some(pty.path.clone());
    state.boot_count += 1;
    let (buf_size, buf_count) = opts.smp_buffers.unwrap_or(DEFAULT_BUFFERS);
    events.log(
        "boot",
        json!({"boot_count": state.boot_count, "buf_size": buf_size, "buf_count": buf_count}),
    );
    state.event_seq = events.seq();
    save_state(&dir, &state)?;
    let (writer, input) = pty::spawn_paced_io(&pty, opts.baud)?;
    let info = ReadyInfo {
        port: pty.path.clone(),
        model: model.into(),
        serial: state.serial.clone(),
        ip: ip.to_string(),
    };
    let server: Shared = Arc::new(Mutex::new(smp::Server::new(
        dir, state, events, buf_size, buf_count,
    )));
    net::on_boot(&server, ip).await?;
    writer.send(BOOT_BANNER.as_bytes());
    tokio::spawn(serve_uart(server, writer, input));
    // Keep both PTY fds open for the life of the simulator.
    Ok((info, Box::new(pty)))
}

/// The SMP server, shared by every transport that reaches it (the console UART now; SMP over UDP and a
/// BLE GATT service are other transports to the same server). Locked per packet, never across an await.
pub type Shared = Arc<Mutex<smp::Server>>;

/// Locks the server; a panic while it was held does not stop the device from answering.
pub(crate) fn lock(server: &Shared) -> MutexGuard<'_, smp::Server> {
    server
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The console: decode frames, answer each packet, drop what Zephyr would drop.
async fn serve_uart(server: Shared, writer: pty::PacedWriter, mut input: mpsc::Receiver<Vec<u8>>) {
    let buf_size = lock(&server).buf_size() as usize;
    let mut decoder = Decoder::with_limits(MAX_LINE, buf_size);
    while let Some(chunk) = input.recv().await {
        decoder.push(&chunk);
        while let Some(result) = decoder.next_packet() {
            match result {
                Ok(packet) => {
                    if let Some(reply) = net::answer(&server, &packet).await {
                        writer.send(&encode(&reply, MAX_LINE));
                    }
                }
                Err(e) => lock(&server).log_drop(&e.to_string()),
            }
        }
    }
}
