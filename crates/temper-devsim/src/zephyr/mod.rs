//! `zephyr-sensor`: a Zephyr MCU sensor whose console UART speaks MCUmgr / SMP ("SMP over console"), with
//! MCUboot and two image slots.
//!
//! The PTY is paced at baud/10 bytes per second in both directions ([`crate::pty`]). Frames are decoded with
//! `temper_core::proto::smp::serial::Decoder`, limited like Zephyr's UART transport: a line longer than
//! [`MAX_LINE`] or a packet (plus CRC) larger than one net buffer (`--smp-buffers SIZExCOUNT`, default
//! 2048x4) is dropped with no reply. [`smp`] answers the OS group ([`os`]: echo, reset, MCUmgr params,
//! bootloader info) and the image group ([`image`]: state read/write, upload, erase); everything else gets
//! `{"rc": 8}` (ENOTSUP).
//!
//! **Boot and reset.** At power on (process start) and after every OS reset the simulated MCUboot
//! ([`boot`]) runs on the slots, then the console comes up on a NEW PTY path (a CDC-ACM device re-enumerates
//! and may get another port name), prints [`BOOT_BANNER`], logs
//! `{"event":"boot","port","boot_count","active":{"version","hash"},"confirmed","swap","refused",...}` and
//! calls [`on_boot`]. An OS reset is answered, then after [`RESET_DELAY`] the UART goes quiet and its PTY is
//! closed (the host's port hangs up); the device is back [`REBOOT_TIME`] later. Whoever needs the new port
//! reads it from the boot event or from [`crate::Presence`] (the CLI re-announces it on the simulated USB
//! bus). The upload in progress is lost at a reboot (RAM), slots and trailers are not.
//!
//! State on disk (`--state DIR`): `state.json` (serial, boot count, MCUboot trailers, a swap in progress, the
//! BLE bond records of the ble-plug), `slot0.bin` / `slot1.bin` (slot contents), `events.jsonl`.
//!
//! The same firmware model runs the BLE-only `ble-plug` (PlugMini PM-1) in the simulated BLE world: what
//! differs between the products is in [`variant`].

pub mod app;
pub mod boot;
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
pub mod variant;

use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use temper_core::proto::smp::serial::{encode, Decoder, MAX_LINE};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

use crate::eventlog::EventLog;
use crate::state::STATE_FILE;
use crate::{pty, Presence, ReadyInfo, SimError, SimOptions};
use boot::{BootReport, SwapProgress};
use image::slots::Trailers;

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

/// Zephyr's `CONFIG_MCUMGR_GRP_OS_RESET_MS` default: the reset reply goes out, then the device reboots.
pub const RESET_DELAY: Duration = Duration::from_millis(250);
/// How long a reset keeps the device off the bus: MCUboot, then the USB CDC-ACM re-enumeration.
pub const REBOOT_TIME: Duration = Duration::from_millis(600);
/// How long closing the UART waits for the host to read the last bytes before discarding them.
const HANGUP_PATIENCE: Duration = Duration::from_secs(1);

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
    /// MCUboot's image trailers of slot 0 and slot 1 (on a real device, at the end of each slot).
    #[serde(default)]
    pub trailers: Trailers,
    /// A swap the bootloader started and must finish at the next boot.
    #[serde(default)]
    pub swap: Option<SwapProgress>,
    /// Addresses of the BLE centrals bonded with it (the ble-plug's bond records; kept until a reset).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bonds: Vec<String>,
}

impl ZephyrState {
    fn new(model: &str) -> ZephyrState {
        ZephyrState {
            model: model.into(),
            serial: hex::encode(rand::thread_rng().gen::<[u8; 8]>()),
            last_port: None,
            event_seq: 0,
            boot_count: 0,
            trailers: Trailers::default(),
            swap: None,
            bonds: Vec::new(),
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

/// Power on: state loaded (or a new device made), the bootloader run (finishing a swap a power cut
/// interrupted); returns the server, the boot report and the address its services use.
fn power_on(
    opts: &SimOptions,
    variant: variant::Variant,
) -> Result<(Shared, BootReport, std::net::Ipv4Addr), SimError> {
    let model = variant.model_id();
    let dir = opts.state_dir.clone();
    fs::create_dir_all(&dir).map_err(|e| SimError::io(dir.display().to_string(), e))?;
    let state = match load_state(&dir)? {
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
    let (buf_size, buf_count) = opts.smp_buffers.unwrap_or(DEFAULT_BUFFERS);
    let mut server = smp::Server::new(dir.clone(), state, events, buf_size, buf_count)
        .with_variant(variant)
        .with_boot_key(opts.boot_key);
    let report = boot::run(&dir, &mut server.state, &server.boot_key, &server.events)?;
    Ok((Arc::new(Mutex::new(server)), report, ip))
}

/// A device of `variant` reached over its radio only (the BLE world): powered on, its application booted
/// (network services on its address), no console UART. Its SMP server answers what the BLE transport hands
/// it. (`opts.model` is not read: the variant says what the device is.)
pub async fn start_without_uart(
    opts: &SimOptions,
    variant: variant::Variant,
) -> Result<Shared, SimError> {
    let (server, _report, ip) = power_on(opts, variant)?;
    on_boot(&server, ip).await?;
    Ok(server)
}

/// Start a zephyr-sensor: state, the bootloader, PTY, the SMP task and the reset lifecycle. The receiver
/// follows the device through its reboots (unplugged while it resets, plugged with its new port after).
pub(crate) async fn start(
    opts: SimOptions,
) -> Result<(ReadyInfo, watch::Receiver<Presence>), SimError> {
    let model = opts.model.id();
    let (server, report, ip) = power_on(&opts, variant::Variant::SensorEnv1)?;
    let uart = Uart::bring_up(&server, opts.baud, &report)?;
    let info = ReadyInfo {
        port: uart.port.clone(),
        model: model.into(),
        serial: lock(&server).state.serial.clone(),
        ip: ip.to_string(),
    };
    on_boot(&server, ip).await?;
    let (presence, presence_rx) = watch::channel(Presence::Plugged(info.clone()));
    tokio::spawn(lifecycle(
        server,
        uart,
        opts.baud,
        ip,
        info.clone(),
        presence,
    ));
    Ok((info, presence_rx))
}

/// Runs at every boot, first start included (before the simulator reports ready) and after every reset,
/// once the console is up and the boot event is logged: the application boots ([`net::on_boot`]: RAM state
/// reset, settings read, services started as the settings say).
async fn on_boot(shared: &Shared, ip: std::net::Ipv4Addr) -> Result<(), SimError> {
    tracing::debug!(
        boot_count = lock(shared).state.boot_count,
        "zephyr-sensor booted"
    );
    net::on_boot(shared, ip).await
}

/// Runs when a reset takes the device down: the console has just gone quiet, the bootloader runs next.
/// Its network services stop (a powered-off device answers nothing).
async fn on_shutdown(shared: &Shared) {
    tracing::debug!(
        boot_count = lock(shared).state.boot_count,
        "zephyr-sensor going down"
    );
    net::on_shutdown(shared).await;
}

/// The console of one boot: its PTY, its I/O threads and the task answering SMP on it.
struct Uart {
    port: String,
    pty: pty::Pty,
    hangup: pty::Hangup,
    task: JoinHandle<()>,
    /// Notified when an OS reset was answered during this boot.
    reset: Arc<Notify>,
}

impl Uart {
    /// After the bootloader: a new PTY (never the previous boot's path), the boot event, the banner, and
    /// the SMP task.
    fn bring_up(server: &Shared, baud: u32, report: &BootReport) -> Result<Uart, SimError> {
        let mut s = lock(server);
        let mut pty = pty::open(baud)?;
        if s.state.last_port.as_deref() == Some(pty.path.as_str()) {
            pty = pty::open(baud)?;
        }
        s.state.last_port = Some(pty.path.clone());
        s.state.boot_count += 1;
        let active = report
            .active
            .map(|i| json!({"version": i.version.to_string(), "hash": hex::encode(i.hash)}));
        let fields = json!({
            "port": pty.path,
            "boot_count": s.state.boot_count,
            "active": active,
            "confirmed": report.confirmed,
            "swap": report.swap,
            "refused": report.refused,
            "boot_key": s.boot_key.kind().name(),
            "buf_size": s.buf_size(),
            "buf_count": s.buf_count(),
        });
        s.events.log("boot", fields);
        s.state.event_seq = s.events.seq();
        save_state(&s.dir, &s.state)?;
        let reset = s.begin_boot();
        drop(s);
        let (writer, input, hangup) = pty::spawn_closable_io(&pty, baud)?;
        writer.send(BOOT_BANNER.as_bytes());
        let task = tokio::spawn(serve_uart(server.clone(), writer, input));
        Ok(Uart {
            port: pty.path.clone(),
            pty,
            hangup,
            task,
            reset,
        })
    }

    /// The device goes down: no more answers, the queued output is written, the PTY is closed.
    async fn shut_down(self) {
        self.task.abort();
        let _ = self.task.await;
        let (hangup, pty) = (self.hangup, self.pty);
        let _ = tokio::task::spawn_blocking(move || {
            hangup.close(HANGUP_PATIENCE);
            drop(pty);
        })
        .await;
    }
}

/// Boot after boot: wait for an OS reset, go down, run the bootloader, come back on a new port.
async fn lifecycle(
    server: Shared,
    mut uart: Uart,
    baud: u32,
    ip: std::net::Ipv4Addr,
    info: ReadyInfo,
    presence: watch::Sender<Presence>,
) {
    loop {
        uart.reset.notified().await;
        // Zephyr answers the reset request first and reboots CONFIG_MCUMGR_GRP_OS_RESET_MS later.
        tokio::time::sleep(RESET_DELAY).await;
        presence.send_replace(Presence::Unplugged);
        uart.shut_down().await;
        on_shutdown(&server).await;
        let down = Instant::now();
        let booted = {
            let mut s = lock(&server);
            let s = &mut *s;
            boot::run(&s.dir, &mut s.state, &s.boot_key, &s.events)
        };
        let report = match booted {
            Ok(report) => report,
            Err(e) => {
                tracing::error!("zephyr-sensor bootloader failed, the device stays off: {e}");
                return;
            }
        };
        // The bootloader and the USB re-enumeration take time on a real device.
        tokio::time::sleep(REBOOT_TIME.saturating_sub(down.elapsed())).await;
        uart = match Uart::bring_up(&server, baud, &report) {
            Ok(uart) => uart,
            Err(e) => {
                tracing::error!("zephyr-sensor console did not come back: {e}");
                return;
            }
        };
        if let Err(e) = on_boot(&server, ip).await {
            tracing::error!("zephyr-sensor application did not come up: {e}");
        }
        presence.send_replace(Presence::Plugged(ReadyInfo {
            port: uart.port.clone(),
            ..info.clone()
        }));
    }
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
                    for reply in net::answer(&server, &packet).await {
                        writer.send(&encode(&reply, MAX_LINE));
                    }
                }
                Err(e) => lock(&server).log_drop(&e.to_string()),
            }
        }
    }
}
