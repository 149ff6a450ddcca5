//! `temper image upload|state`: MCUboot images on a Zephyr device over MCUmgr (SMP over the console UART).
//!
//! `upload` sends the image pipelined to fit the device's buffers, resumes an upload a killed run left in the
//! device's RAM, and with `--device SERIAL` waits for a device that reset or was re-plugged to come back
//! (by its USB serial, under any port name) and continues; then it prints the slot table. Progress: a bar on
//! a terminal, JSON lines with `--json` (`upload-started`, `upload-resumed`, `upload-restarted`,
//! `upload-progress`, `link-lost`, `reconnected`, `upload-finished`, then `upload-done` and `image-state`).

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use temper_core::firmware::{self, FirmwareError, FirmwareEvent, ReconnectPolicy, UploadReport};
use temper_core::proto::smp::client::SmpClient;
use temper_core::proto::smp::messages::ImageState;
use temper_core::proto::smp::upload::UploadEvent;
use temper_core::transport::serial::SerialLink;

use crate::{exit, Failure, Globals};

/// `temper image ...`.
#[derive(Subcommand)]
pub enum Cmd {
    /// Upload an MCUboot image to the device's secondary slot (resumes an interrupted upload), then show the slots.
    Upload(UploadCmd),
    /// Show the device's image slots: version, hash and flags.
    State(StateCmd),
}

/// The device: a port, or a USB serial found through discovery.
#[derive(Args)]
pub struct Target {
    /// The serial port the device's MCUmgr console is on, e.g. /dev/ttyACM0.
    #[arg(long)]
    port: Option<String>,
    /// Instead of --port: the attached device whose USB serial number is SERIAL (see `temper devices`); an
    /// upload then follows the device across resets and re-plugs.
    #[arg(long, value_name = "SERIAL")]
    device: Option<String>,
    #[command(flatten)]
    bus: super::devices::BusArgs,
    /// Baud rate of the console.
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
}

/// Options of `temper image upload`.
#[derive(Args)]
#[command(group(ArgGroup::new("target").required(true).args(["port", "device"])))]
pub struct UploadCmd {
    #[command(flatten)]
    target: Target,
    /// The signed MCUboot image file.
    image: PathBuf,
    /// The slot to upload to: 1 (image 0's secondary slot) or 3 (image 1's).
    #[arg(long, default_value_t = 1)]
    slot: u32,
}

/// Options of `temper image state`.
#[derive(Args)]
#[command(group(ArgGroup::new("target").required(true).args(["port", "device"])))]
pub struct StateCmd {
    #[command(flatten)]
    target: Target,
}

impl Cmd {
    /// Runs the subcommand.
    pub async fn run(self, globals: &Globals) -> Result<u8, Failure> {
        match self {
            Cmd::Upload(cmd) => cmd.run(globals).await,
            Cmd::State(cmd) => {
                let mut client = SmpClient::new(cmd.target.open()?);
                let state = client.image_state().await.map_err(device_failure)?;
                print_state(&state, globals.json);
                Ok(exit::HARDENED)
            }
        }
    }
}

impl UploadCmd {
    async fn run(self, globals: &Globals) -> Result<u8, Failure> {
        let name = self.image.display().to_string();
        let image = std::fs::read(&self.image)
            .map_err(|e| Failure::new(exit::USAGE, format!("cannot read {name}: {e}")))?;
        firmware::check_image(&name, &image).map_err(|e| Failure::new(exit::USAGE, e))?;
        let image_number = image_number(self.slot)?;
        let client = SmpClient::new(self.target.open()?);
        let mut progress = Progress::new(globals.json);
        let target = &self.target;
        let reopen = target
            .device
            .as_ref()
            .map(|serial| move || std::future::ready(target.reopen(serial)));
        let result = firmware::upload(
            client,
            &image,
            image_number,
            reopen,
            ReconnectPolicy::default(),
            |event| progress.event(event),
        )
        .await;
        progress.finish();
        let (mut client, report) = result.map_err(|e| match e {
            FirmwareError::NotAnImage(_) => Failure::new(exit::USAGE, e),
            e => Failure::new(exit::FAILED, e),
        })?;
        print_report(&report, globals.json);
        let state = client.image_state().await.map_err(device_failure)?;
        print_state(&state, globals.json);
        Ok(exit::HARDENED)
    }
}

impl Target {
    /// Opens the device's port, found by `--port` or `--device`.
    fn open(&self) -> Result<SerialLink, Failure> {
        let port = match (&self.port, &self.device) {
            (Some(port), _) => port.clone(),
            (None, Some(serial)) => self.bus.port_of(serial)?,
            (None, None) => {
                return Err(Failure::new(
                    exit::USAGE,
                    "pass --port PATH or --device SERIAL",
                ))
            }
        };
        SerialLink::open(&port, self.baud).map_err(|e| Failure::new(exit::FAILED, e))
    }

    /// The device with USB serial `serial` on whatever port it has now; `None` while it is not there.
    fn reopen(&self, serial: &str) -> Option<SerialLink> {
        let port = self.bus.port_of(serial).ok()?;
        SerialLink::open(&port, self.baud)
            .inspect_err(|e| {
                tracing::debug!("{serial} is back on {port} but does not open yet: {e}")
            })
            .ok()
    }
}

/// The image number whose secondary slot is `slot` (slot 1 → image 0, slot 3 → image 1); `None` for the
/// device's default (image 0).
fn image_number(slot: u32) -> Result<Option<u32>, Failure> {
    match slot {
        1 => Ok(None),
        s if s % 2 == 1 => Ok(Some(s / 2)),
        s => Err(Failure::new(
            exit::USAGE,
            format!("--slot {s}: images go to a secondary slot (1, or 3 for image 1); slot {s} is a primary slot the bootloader fills"),
        )),
    }
}

fn device_failure(e: temper_core::proto::smp::client::SmpClientError) -> Failure {
    Failure::new(exit::FAILED, e)
}

/// Upload events as a progress bar, plain lines, or JSON lines.
struct Progress {
    json: bool,
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(json: bool) -> Self {
        Progress { json, bar: None }
    }

    fn event(&mut self, event: &FirmwareEvent) {
        if self.json {
            if let Ok(line) = serde_json::to_string(event) {
                println!("{line}");
            }
            return;
        }
        match event {
            FirmwareEvent::Upload(UploadEvent::Started {
                len,
                buf_size,
                buf_count,
                chunk,
                window,
                ..
            }) => {
                self.note(format!("Uploading {len} bytes: the device has {buf_count} buffers of {buf_size} bytes; {chunk}-byte chunks, {window} in flight"));
                if self.bar.is_none() && std::io::stderr().is_terminal() {
                    let bar = ProgressBar::new(*len);
                    if let Ok(style) = ProgressStyle::with_template(
                        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    ) {
                        bar.set_style(style);
                    }
                    self.bar = Some(bar);
                }
            }
            FirmwareEvent::Upload(UploadEvent::Resumed { off }) => {
                self.note(format!("The device already holds {off} bytes of this image: resuming there"))
            }
            FirmwareEvent::Upload(UploadEvent::Restarted { from }) => self.note(format!(
                "The device lost the upload at {from} bytes (it reset): starting again from 0"
            )),
            FirmwareEvent::Upload(UploadEvent::Progress { off, .. }) => {
                if let Some(bar) = &self.bar {
                    bar.set_position(*off);
                }
            }
            FirmwareEvent::Upload(UploadEvent::Finished { .. }) => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
            }
            FirmwareEvent::LinkLost { reason, wait_secs } => self.note(format!(
                "The link closed ({reason}); waiting up to {wait_secs} s for the device to come back…"
            )),
            FirmwareEvent::Reconnected { link, after_ms } => self.note(format!(
                "The device is back on {link} after {:.1} s; continuing",
                *after_ms as f64 / 1000.0
            )),
        }
    }

    fn note(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

fn print_report(report: &UploadReport, json: bool) {
    let secs = report.elapsed.as_secs_f64();
    // Image bytes sent per second (a resumed run sends only the rest).
    let kib_per_s = report.sent as f64 / 1024.0 / secs.max(0.001);
    if json {
        let line = json!({
            "event": "upload-done",
            "len": report.len,
            "resumed-at": report.resumed_at,
            "sent": report.sent,
            "reconnects": report.reconnects,
            "restarts": report.restarts,
            "matched": report.matched,
            "elapsed-ms": report.elapsed.as_millis() as u64,
            "kib-per-s": (kib_per_s * 100.0).round() / 100.0,
        });
        println!("{line}");
        return;
    }
    eprintln!(
        "Uploaded {} bytes in {secs:.1} s ({kib_per_s:.2} KiB/s){}{}.",
        report.len,
        match report.resumed_at {
            None => String::new(),
            Some(off) => format!(", resumed at {off}"),
        },
        match report.reconnects {
            0 => String::new(),
            n => format!(", {n} reconnection(s)"),
        }
    );
}

/// The slot table on stdout, or one JSON line.
fn print_state(state: &ImageState, json: bool) {
    if json {
        let images: Vec<_> = state
            .images
            .iter()
            .map(|s| {
                json!({
                    "image": s.image.unwrap_or(0),
                    "slot": s.slot,
                    "version": s.version,
                    "hash": hex(&s.hash),
                    "flags": s.flags(),
                })
            })
            .collect();
        println!("{}", json!({"event": "image-state", "images": images}));
        return;
    }
    println!(
        "{:<6} {:<5} {:<12} {:<64} flags",
        "image", "slot", "version", "hash"
    );
    for s in &state.images {
        println!(
            "{:<6} {:<5} {:<12} {:<64} {}",
            s.image.unwrap_or(0),
            s.slot,
            s.version,
            hex(&s.hash),
            s.flags().join(" ")
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
