//! `temper`: commission and harden IoT devices from the command line (factory stations, scripts).
#![forbid(unsafe_code)]

mod cmd;
mod fault;
mod passphrase;
mod render;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Commission and harden IoT devices: replace factory passwords, close needless services, prove it from outside.
#[derive(Parser)]
#[command(name = "temper", version, about)]
struct Cli {
    /// The encrypted inventory file (default: $XDG_DATA_HOME/temper/inventory.db).
    #[arg(long, global = true, env = "TEMPER_INVENTORY")]
    inventory: Option<PathBuf>,
    /// A file holding the inventory passphrase (else $TEMPER_INVENTORY_PASSPHRASE, else a prompt on a terminal).
    #[arg(long, global = true)]
    passphrase_file: Option<PathBuf>,
    /// The directory of provisioning profiles (default: the shipped provisioning-profiles/).
    #[arg(long, global = true, env = "TEMPER_PROFILES")]
    profiles: Option<PathBuf>,
    /// Machine-readable output: a JSON document, or JSON lines for event streams.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Commission the device on a serial port: rotate credentials, close services, verify from outside.
    Commission(cmd::commission::Cmd),
    /// Read the inventory.
    #[command(subcommand)]
    Inventory(cmd::inventory::Cmd),
    /// Check provisioning profiles, or print their JSON Schema.
    #[command(subcommand)]
    Profile(cmd::profile::Cmd),
    /// Plug in a simulated IP camera and commission it (no device needed).
    Demo(cmd::demo::Cmd),
}

/// Process exit codes, stable for scripts.
pub mod exit {
    /// The device is hardened and verified.
    pub const HARDENED: u8 = 0;
    /// The plan stopped (device, link or check failure): fix what the message says and run again to resume.
    pub const FAILED: u8 = 1;
    /// Bad usage or set-up: wrong inventory key, broken profile, missing passphrase.
    pub const USAGE: u8 = 2;
    /// The plan ran to its end but some outside check failed: the device is not hardened.
    pub const NOT_HARDENED: u8 = 3;
}

/// Global options every subcommand sees.
pub struct Globals {
    inventory: Option<PathBuf>,
    passphrase_file: Option<PathBuf>,
    profiles: Option<PathBuf>,
    json: bool,
}

/// An error for the user: one line saying what failed and what to do, and the exit code.
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn new(code: u8, message: impl std::fmt::Display) -> Self {
        Failure {
            code,
            message: message.to_string(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("TEMPER_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let globals = Globals {
        inventory: cli.inventory,
        passphrase_file: cli.passphrase_file,
        profiles: cli.profiles,
        json: cli.json,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILED);
        }
    };
    let json = globals.json;
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Commission(cmd) => cmd.run(&globals).await,
            Command::Inventory(cmd) => cmd.run(&globals),
            Command::Profile(cmd) => cmd.run(&globals),
            Command::Demo(cmd) => cmd.run(&globals).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            if json {
                let line = serde_json::json!({"event": "error", "code": failure.code, "message": failure.message});
                println!("{line}");
            }
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
