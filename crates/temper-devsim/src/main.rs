//! `temper-devsim run --model ipcam|ipcam-pro|zephyr-sensor --state DIR [--baud 115200] [--ip 127.0.0.N] [--quiet-kernel]
//! [--transcript FILE] [--hostile MODE]... [--usb-bus DIR | --no-usb-bus] [--smp-buffers 2048x4]
//! [--boot-key ecdsa-p256|ed25519]`
//!
//! Once started, the simulator announces itself on the simulated USB bus (`--usb-bus`, default
//! `$TEMPER_SIM_BUS` or `temper_core::discovery::SimulatedUsbBus::default_dir()`) with its model's USB id, so
//! `temper devices` sees it plugged in; SIGTERM or SIGINT withdraws the announcement (unplug) before exiting.
//! A device that resets (the zephyr-sensor) is withdrawn while it reboots and announced again, same serial,
//! with its new port. The JSON line on stdout is printed once, at start.
//!
//! `--hostile` (repeatable) makes the device misbehave on purpose for the station's tests; the modes are
//! listed in `temper-devsim run --help` and documented in `temper_devsim::ipcam::hostile`.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use clap::{Parser, Subcommand};
use temper_core::discovery::{announce, AnnouncementGuard, SimulatedUsbBus};
use temper_devsim::{usb, HostileMode, Model, Presence, SimOptions, Simulator};
use tokio::signal::unix::{signal, SignalKind};

#[derive(Parser)]
#[command(
    name = "temper-devsim",
    about = "Simulated IoT devices on real PTYs for Temper"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one simulated device until killed; prints one JSON line with its port, serial and ip.
    Run {
        /// Device model (ipcam, ipcam-pro, zephyr-sensor).
        #[arg(long)]
        model: String,
        /// State directory (state.json, events.jsonl); reuse it to power-cycle the same device.
        #[arg(long)]
        state: PathBuf,
        /// UART speed; input and output are paced at baud/10 bytes per second.
        #[arg(long, default_value_t = temper_devsim::timing::DEFAULT_BAUD)]
        baud: u32,
        /// Loopback address for the network services (default: derived from the serial).
        #[arg(long)]
        ip: Option<Ipv4Addr>,
        /// No unsolicited or interleaved kernel log lines.
        #[arg(long)]
        quiet_kernel: bool,
        /// Append a text transcript of the console UART to FILE (secrets masked; see docs/benchmarks.md).
        #[arg(long, value_name = "FILE")]
        transcript: Option<PathBuf>,
        /// Misbehave on purpose, for testing the station's checks (repeatable; modes combine). Each
        /// misbehaviour is logged as {"event":"hostile","mode":MODE,...} in events.jsonl.
        #[arg(long, value_name = "MODE", value_enum)]
        hostile: Vec<HostileMode>,
        /// Announce the device on the simulated USB bus in DIR (default: $TEMPER_SIM_BUS, else
        /// $XDG_RUNTIME_DIR/temper/sim-usb, else <tmp>/temper-sim-usb-<uid>).
        #[arg(long, value_name = "DIR", env = "TEMPER_SIM_BUS")]
        usb_bus: Option<PathBuf>,
        /// Do not announce the device on any simulated USB bus (overrides --usb-bus).
        #[arg(long)]
        no_usb_bus: bool,
        /// zephyr-sensor only: SMP net buffers SIZExCOUNT (e.g. 2048x4, 384x4); larger packets are dropped.
        #[arg(long, value_name = "SIZExCOUNT", value_parser = temper_devsim::zephyr::parse_buffers)]
        smp_buffers: Option<(u32, u32)>,
        /// zephyr-sensor only: the key built into its MCUboot (test keys in crates/temper-devsim/data/).
        #[arg(long, value_name = "KEY", value_enum, default_value_t)]
        boot_key: temper_devsim::zephyr::image::sign::BootKeyKind,
    },
    /// Run a simulated BLE world until killed: a private D-Bus system bus with a simulated BlueZ (adapter
    /// hci0) and the peripherals of MODELS in range; prints one JSON line with the bus address to export as
    /// DBUS_SYSTEM_BUS_ADDRESS, the adapter and the devices.
    Ble {
        /// Peripherals in range, comma-separated (ble-plug, zephyr-sensor).
        #[arg(long, value_delimiter = ',', required = true)]
        models: Vec<String>,
        /// Directory for the bus socket and configuration, the bonds and the peripherals' state (default: a
        /// new temporary directory, removed at exit). Start again with the same DIR to keep bonds and state.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Adapters hci0 .. hci{N-1} (each with its own discovery, devices and bonds).
        #[arg(long, default_value_t = 1)]
        adapters: usize,
        /// The ble-plug uses legacy pairing (Device1.LegacyPairing true; a central should refuse it).
        #[arg(long)]
        legacy_pairing: bool,
        /// Connection interval of every link, ms (7..=4000).
        #[arg(long, value_name = "N", default_value_t = 30)]
        conn_interval_ms: u32,
        /// PDUs per connection event, each direction.
        #[arg(long, value_name = "N", default_value_t = 4)]
        pdus_per_event: u32,
        /// ATT MTU (23..=517): the SMP characteristic's MTU property; notifications carry MTU-3 bytes.
        #[arg(long, value_name = "N", default_value_t = 247)]
        mtu: u16,
        /// Extra latency before the first notification of each SMP response, ms (slow notifications).
        #[arg(long, value_name = "N", default_value_t = 0)]
        notify_delay_ms: u32,
        /// The NTH request of SMP group GROUP, command ID is handled but its reply is lost and the link drops
        /// (once; NTH defaults to 1), e.g. 3:0.
        #[arg(long, value_name = "GROUP:ID[:NTH]")]
        drop_after: Option<temper_devsim::ble::radio::DropAfter>,
    },
}

/// Announces the device on the simulated USB bus in `dir` (if any); a failure is a warning.
fn plug(
    dir: Option<&std::path::Path>,
    model: Model,
    info: &temper_devsim::ReadyInfo,
) -> Option<AnnouncementGuard> {
    announce(dir?, &usb::announcement(model, info))
        .inspect_err(|e| tracing::warn!("not announced on the simulated USB bus: {e}"))
        .ok()
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let cli = Cli::parse();
    if let Cmd::Ble {
        models,
        dir,
        adapters,
        legacy_pairing,
        conn_interval_ms,
        pdus_per_event,
        mtu,
        notify_delay_ms,
        drop_after,
    } = cli.cmd
    {
        let params = temper_devsim::ble::radio::RadioParams {
            conn_interval_ms,
            pdus_per_event,
            mtu,
            notify_delay_ms,
        };
        params.validate()?;
        let opts = temper_devsim::ble::WorldOptions {
            adapters,
            legacy_pairing,
            radio: temper_devsim::ble::radio::RadioOptions { params, drop_after },
        };
        return run_ble(models, dir, opts);
    }
    let Cmd::Run {
        model,
        state,
        baud,
        ip,
        quiet_kernel,
        transcript,
        hostile,
        usb_bus,
        no_usb_bus,
        smp_buffers,
        boot_key,
    } = cli.cmd
    else {
        unreachable!("ble handled above");
    };
    let usb_bus = (!no_usb_bus).then(|| usb_bus.unwrap_or_else(SimulatedUsbBus::default_dir));
    let model = Model::from_id(&model).ok_or_else(|| anyhow!("unknown model {model:?}"))?;
    if baud == 0 {
        return Err(anyhow!("--baud must be positive"));
    }
    let opts = SimOptions {
        model,
        state_dir: state,
        baud,
        ip,
        quiet_kernel,
        transcript,
        hostile,
        smp_buffers,
        boot_key,
    };
    let rt = runtime()?;
    rt.block_on(async move {
        // Handle the signals before announcing, so no signal can leave the announcement behind.
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let sim = Simulator::start(opts).await.context("starting simulator")?;
        // Plugged in on the bus before the ready line, so whoever reads that line can already discover it.
        let mut plugged = plug(usb_bus.as_deref(), model, sim.info());
        let line = serde_json::to_string(sim.info())?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
        drop(out);
        let mut presence = sim.presence();
        let mut following = true;
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                changed = presence.changed(), if following => {
                    if changed.is_err() {
                        following = false;
                        continue;
                    }
                    let now = presence.borrow_and_update().clone();
                    // Unplug first: the new announcement has the same file name (the serial).
                    plugged = None;
                    if let Presence::Plugged(info) = now {
                        plugged = plug(usb_bus.as_deref(), model, &info);
                    }
                }
            }
        }
        drop(plugged);
        drop(sim);
        Ok::<(), anyhow::Error>(())
    })?;
    // Threads blocked on the PTY would keep the runtime's shutdown waiting; state is already on disk.
    std::process::exit(0);
}

/// `temper-devsim ble`: the world runs until SIGTERM or SIGINT; the bus daemon stops with it.
fn run_ble(
    models: Vec<String>,
    dir: Option<PathBuf>,
    opts: temper_devsim::ble::WorldOptions,
) -> anyhow::Result<()> {
    let rt = runtime()?;
    rt.block_on(async move {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let own = dir.is_none();
        let dir = dir.unwrap_or_else(|| {
            std::env::temp_dir().join(format!("temper-ble-{}", std::process::id()))
        });
        let world = temper_devsim::ble::World::start(&dir, &models, opts)
            .await
            .context("starting the BLE world")?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", serde_json::to_string(&world.info)?)?;
        out.flush()?;
        drop(out);
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        drop(world);
        if own {
            let _ = std::fs::remove_dir_all(&dir);
        }
        Ok::<(), anyhow::Error>(())
    })
}

/// The simulators' runtime: two workers (paced I/O threads are separate).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")
}
