//! `--ble`: an MCUboot image uploaded to slot 1 of the simulated zephyr-sensor over BLE, by Temper's
//! `SmpClient` over `BleLink` (btleplug on the simulated BlueZ of `temper-devsim ble`), at a few connection
//! intervals, PDUs per event and MTUs; and, as a peer, by `smpmgr --ble` (bleak) when it is installed.
//!
//! Each figure is printed beside the ideal for its parameters, `PDUs × (MTU − 3) / interval` one way, as a
//! ratio. Temper's time is the wall clock of the upload call on an open connection; the bytes are the
//! device's (slot 1 must then report the image's hash). smpmgr's process cannot be timed that way (Python's
//! start-up, the scan and the connection), so both clients are also timed on the device's clock, from its
//! event log: from the arrival of the first upload request to the answer to the last one (which leaves out
//! the first request's own transfer, so it reads higher than the wall clock, most for small images). Each row uses a fresh world (fresh device state), and Temper's upload runs in a child process
//! of its own (this executable again, told what to do by [`CHILD_ENV`]): libdbus reads the system bus address
//! once per process, and each world has a bus of its own.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;
use temper_core::proto::smp::client::SmpClient;
use temper_core::transport::ble::BleLink;
use temper_e2e::{image_hash, mcuboot_image};

/// Set (to `ADDRESS IMAGE-FILE`) in the child that uploads with Temper's client; it prints the seconds.
const CHILD_ENV: &str = "TEMPER_BENCH_BLE_UPLOAD";

/// One row of the matrix: radio parameters and the image size that keeps the row to seconds.
struct Row {
    interval_ms: u32,
    pdus: u32,
    mtu: u16,
    notify_delay_ms: u32,
    image_kib: usize,
}

const ROWS: &[Row] = &[
    Row {
        interval_ms: 30,
        pdus: 4,
        mtu: 247,
        notify_delay_ms: 0,
        image_kib: 128,
    },
    Row {
        interval_ms: 15,
        pdus: 6,
        mtu: 247,
        notify_delay_ms: 0,
        image_kib: 256,
    },
    Row {
        interval_ms: 7,
        pdus: 2,
        mtu: 247,
        notify_delay_ms: 0,
        image_kib: 256,
    },
    Row {
        interval_ms: 30,
        pdus: 4,
        mtu: 247,
        notify_delay_ms: 20,
        image_kib: 128,
    },
    Row {
        interval_ms: 30,
        pdus: 4,
        mtu: 64,
        notify_delay_ms: 0,
        image_kib: 48,
    },
    Row {
        interval_ms: 50,
        pdus: 2,
        mtu: 23,
        notify_delay_ms: 0,
        image_kib: 8,
    },
];

impl Row {
    fn ideal_kib_s(&self) -> f64 {
        f64::from(self.pdus) * f64::from(self.mtu - 3)
            / (f64::from(self.interval_ms) / 1000.0)
            / 1024.0
    }

    fn args(&self) -> Vec<String> {
        [
            ("--conn-interval-ms", self.interval_ms.to_string()),
            ("--pdus-per-event", self.pdus.to_string()),
            ("--mtu", self.mtu.to_string()),
            ("--notify-delay-ms", self.notify_delay_ms.to_string()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
    }

    fn describe(&self) -> String {
        let delay = match self.notify_delay_ms {
            0 => String::new(),
            d => format!(", notify +{d} ms"),
        };
        format!(
            "{} ms × {} × MTU {}{delay}",
            self.interval_ms, self.pdus, self.mtu
        )
    }
}

/// A running `temper-devsim ble`; SIGTERM on drop.
struct World {
    child: Child,
    address: String,
    bus: String,
    dir: tempfile::TempDir,
}

impl World {
    fn start(bin_dir: &Path, row: &Row) -> anyhow::Result<World> {
        let dir = tempfile::tempdir()?;
        let mut child = Command::new(bin_dir.join("temper-devsim"))
            .args(["ble", "--models", "zephyr-sensor", "--dir"])
            .arg(dir.path())
            .args(row.args())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("start temper-devsim ble")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        let info: Value = serde_json::from_str(&line).context("the world's JSON line")?;
        Ok(World {
            child,
            address: info["devices"][0]["address"]
                .as_str()
                .context("address")?
                .into(),
            bus: info["bus"].as_str().context("bus")?.into(),
            dir,
        })
    }

    /// The device's SMP event log.
    fn events(&self) -> Vec<Value> {
        let log = self.dir.path().join("zephyr-sensor-0/events.jsonl");
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

pub fn run(bin_dir: &Path) -> anyhow::Result<()> {
    if let Ok(job) = std::env::var(CHILD_ENV) {
        let (address, image) = job.split_once(' ').context("ADDRESS IMAGE")?;
        let img = std::fs::read(image)?;
        println!("{}", child_upload(address, &img)?);
        return Ok(());
    }
    let smpmgr = super::smp::which("smpmgr").ok();
    println!(
        "temper-bench --ble: MCUboot image to slot 1 of the simulated zephyr-sensor over simulated BLE \
         (SMP characteristic, write without response + notify); ideal = PDUs × (MTU − 3) / interval, one way\n"
    );
    println!(
        "| connection | image | client | wall s | KiB/s (wall) | KiB/s (device clock) | ideal KiB/s | of ideal (wall) |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|");
    for (n, row) in ROWS.iter().enumerate() {
        let img = mcuboot_image(row.image_kib * 1024, 40 + n as u64);
        let (wall, device) = temper_upload(bin_dir, row, &img)
            .with_context(|| format!("temper at {}", row.describe()))?;
        print_row(row, "temper (SmpClient over BleLink)", Some(wall), device);
        if let Some(smpmgr) = &smpmgr {
            match smpmgr_upload(bin_dir, smpmgr, row, &img) {
                Ok(device) => print_row(row, "smpmgr --ble", None, device),
                Err(e) => println!(
                    "| {} | | smpmgr --ble | failed: {e:#} | | | | |",
                    row.describe()
                ),
            }
        }
    }
    Ok(())
}

/// One line of the table: `wall` seconds when the client was timed so, `device` seconds on the device's clock.
fn print_row(row: &Row, client: &str, wall: Option<f64>, device: f64) {
    let kib = row.image_kib as f64;
    let ideal = row.ideal_kib_s();
    let (secs, kib_s, ratio) = match wall {
        Some(w) => (
            format!("{w:.2}"),
            format!("{:.2}", kib / w),
            format!("{:.0} %", 100.0 * kib / w / ideal),
        ),
        None => ("–".into(), "–".into(), "–".into()),
    };
    println!(
        "| {} | {} KiB | {client} | {secs} | {kib_s} | {:.2} ({:.0} %) | {ideal:.2} | {ratio} |",
        row.describe(),
        row.image_kib,
        kib / device,
        100.0 * kib / device / ideal
    );
}

/// Uploads `img` with Temper's client on a fresh world, from a child process; the upload's seconds on the
/// wall clock and on the device's.
fn temper_upload(bin_dir: &Path, row: &Row, img: &[u8]) -> anyhow::Result<(f64, f64)> {
    let world = World::start(bin_dir, row)?;
    let file = world.dir.path().join("image.bin");
    std::fs::write(&file, img)?;
    let out = Command::new(std::env::current_exe()?)
        .args(["--ble", "--bin-dir"])
        .arg(bin_dir)
        .env(CHILD_ENV, format!("{} {}", world.address, file.display()))
        .env("DBUS_SYSTEM_BUS_ADDRESS", &world.bus)
        .stdin(Stdio::null())
        .output()
        .context("run the upload child")?;
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let wall = text
        .trim()
        .parse()
        .with_context(|| format!("the child printed {text:?}"))?;
    Ok((wall, device_seconds(&world.events(), img.len() as u64)?))
}

/// In the child: opens the link, uploads, checks slot 1; the upload's seconds.
fn child_upload(address: &str, img: &[u8]) -> anyhow::Result<f64> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let link = BleLink::open_smp(address, Duration::from_secs(10)).await?;
        let mut client = SmpClient::new(link);
        let started = Instant::now();
        client.upload(img, |_, _| {}).await?;
        let secs = started.elapsed().as_secs_f64();
        let state = client.image_state().await?;
        let landed = state
            .images
            .iter()
            .any(|i| i.slot == 1 && hex::encode(&i.hash) == image_hash(img));
        if !landed {
            bail!("slot 1 does not hold the image after the upload");
        }
        let _ = client.into_link().close().await;
        Ok(secs)
    })
}

/// Uploads `img` with `smpmgr --ble` on a fresh world; seconds on the device's clock.
fn smpmgr_upload(bin_dir: &Path, smpmgr: &Path, row: &Row, img: &[u8]) -> anyhow::Result<f64> {
    let world = World::start(bin_dir, row)?;
    let file = world.dir.path().join("image.bin");
    std::fs::write(&file, img)?;
    let status = Command::new("timeout")
        .arg("120")
        .arg(smpmgr)
        .args(["--ble", &world.address, "--timeout", "10"])
        .args(["image", "upload", "--slot", "1"])
        .arg(&file)
        .env("DBUS_SYSTEM_BUS_ADDRESS", &world.bus)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("run smpmgr")?;
    if !status.success() {
        bail!("smpmgr exited with {status}");
    }
    device_seconds(&world.events(), img.len() as u64)
}

/// From the first upload request to the answer to the last, in the device's event log.
fn device_seconds(events: &[Value], len: u64) -> anyhow::Result<f64> {
    let uploads: Vec<(u64, u64, u64)> = events
        .iter()
        .filter(|e| e["event"] == "smp" && e["group"] == 1 && e["id"] == 1)
        .filter_map(|e| Some((e["t_ms"].as_u64()?, e["off"].as_u64()?, e["next"].as_u64()?)))
        .collect();
    let first = uploads.iter().find(|u| u.1 == 0).map(|u| u.0);
    let last = uploads.iter().rev().find(|u| u.2 == len).map(|u| u.0);
    let (Some(first), Some(last)) = (first, last) else {
        bail!("the device log shows no complete upload");
    };
    Ok((last.saturating_sub(first) as f64 / 1000.0).max(0.001))
}
