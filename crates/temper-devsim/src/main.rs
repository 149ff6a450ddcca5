//! `temper-devsim run --model ipcam|ipcam-pro --state DIR [--baud 115200] [--ip 127.0.0.N] [--quiet-kernel]
//! [--transcript FILE] [--hostile MODE]...`
//!
//! `--hostile` (repeatable) makes the device misbehave on purpose for the station's tests; the modes are
//! listed in `temper-devsim run --help` and documented in `temper_devsim::ipcam::hostile`.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use clap::{Parser, Subcommand};
use temper_devsim::{HostileMode, Model, SimOptions, Simulator};

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
        /// Device model (ipcam, ipcam-pro).
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
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let Cmd::Run {
        model,
        state,
        baud,
        ip,
        quiet_kernel,
        transcript,
        hostile,
    } = cli.cmd;
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
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async move {
        let sim = Simulator::start(opts).await.context("starting simulator")?;
        let line = serde_json::to_string(sim.info())?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()?;
        drop(out);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        drop(sim);
        Ok::<(), anyhow::Error>(())
    })?;
    // Threads blocked on the PTY would keep the runtime's shutdown waiting; state is already on disk.
    std::process::exit(0);
}
