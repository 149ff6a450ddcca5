//! `temper`: commission and harden IoT devices from the command line (factory stations, scripts).
#![forbid(unsafe_code)]

mod cmd;
mod fault;
mod keys;
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
    /// Unlock with the passphrase in this file (else $TEMPER_INVENTORY_PASSPHRASE, the keyring, or a prompt).
    #[arg(long, global = true)]
    passphrase_file: Option<PathBuf>,
    /// Unlock with this key file (owner-only permissions; created by `inventory init` if missing).
    #[arg(long, global = true, env = "TEMPER_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// Unlock with a key kept in the OS keyring (Secret Service); the default for new inventories.
    #[arg(long, global = true)]
    keyring: bool,
    /// Unlock with the recovery key (from $TEMPER_RECOVERY_KEY, or asked on the terminal).
    #[arg(long, global = true)]
    recovery_key: bool,
    /// Who is acting, for the audit trail (default: the login user).
    #[arg(long, global = true, env = "TEMPER_ACTOR")]
    actor: Option<String>,
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
    /// Commission a device on a serial port or over Bluetooth LE: rotate credentials, close services, verify
    /// from outside.
    Commission(cmd::commission::Cmd),
    /// Bluetooth LE bonds: forget a device.
    Ble(cmd::ble::Cmd),
    /// List the attached devices and the profile each matches; --watch reports plugs and unplugs.
    Devices(cmd::devices::Cmd),
    /// Read the inventory.
    #[command(subcommand)]
    Inventory(cmd::inventory::Cmd),
    /// The station CA: create, export, import, CRL.
    #[command(subcommand)]
    Ca(cmd::ca::Cmd),
    /// Device certificates: renew, revoke, list.
    #[command(subcommand)]
    Cert(cmd::cert::Cmd),
    /// Check or list the tamper-evident audit trail.
    #[command(subcommand)]
    Audit(cmd::audit::Cmd),
    /// Check provisioning profiles, or print their JSON Schema.
    #[command(subcommand)]
    Profile(cmd::profile::Cmd),
    /// MCUboot images on a Zephyr (MCUmgr) device: upload with resume, slot state.
    #[command(subcommand)]
    Image(cmd::image::Cmd),
    /// Write the installer's handover report (one HTML file; never a password).
    Handover(cmd::handover::Cmd),
    /// Write a device's credential label (SVG with a QR code; reveals the password, audited).
    Label(cmd::label::Cmd),
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
    key_file: Option<PathBuf>,
    keyring: bool,
    recovery_key: bool,
    actor: Option<String>,
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
        key_file: cli.key_file,
        keyring: cli.keyring,
        recovery_key: cli.recovery_key,
        actor: cli.actor,
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
            Command::Devices(cmd) => cmd.run(&globals).await,
            Command::Ble(cmd) => cmd.run(&globals).await,
            Command::Inventory(cmd) => cmd.run(&globals),
            Command::Audit(cmd) => cmd.run(&globals),
            Command::Ca(cmd) => cmd.run(&globals),
            Command::Cert(cmd) => cmd.run(&globals).await,
            Command::Profile(cmd) => cmd.run(&globals),
            Command::Image(cmd) => cmd.run(&globals).await,
            Command::Handover(cmd) => cmd.run(&globals),
            Command::Label(cmd) => cmd.run(&globals),
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
