//! `--smp`: a 256 KiB imgtool-signed image uploaded to the simulated zephyr-sensor at 115200 baud, both
//! directions paced, by `temper image upload` (untuned) and by `smpmgr image upload` (default, then each
//! `--line-buffers` value that fits the device's net buffer), at 2048 B × 4 and 384 B × 4 device buffers.
//!
//! Throughput is timed on the device side, from its event log: from the arrival of the first upload request
//! to the answer to the last one, so neither tool's start-up (Python's is about a second) counts. Each
//! figure is printed beside the anchor the issue names, the serial framing limit net of SMP/CBOR overhead
//! (≈ 8.24 KiB/s at 115200), as a ratio. Each run uses a fresh simulator (fresh state).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};
use serde_json::Value;

/// The net serial-framing limit at 115200 baud (KiB/s), as the issue states it.
const NET_LIMIT_KIB_S: f64 = 8.24;
/// The image size asked for.
const IMAGE_LEN: usize = 256 * 1024;
/// Zephyr's serial line length (the SMP console fragments lines at 128 bytes).
const LINE_LENGTH: u32 = 128;

/// Builds a client's upload command for a port and an image.
type UploadCommand = Box<dyn Fn(&str, &Path) -> Command>;

struct Tool {
    name: String,
    command: UploadCommand,
}

pub fn run(bin_dir: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let smpmgr = which("smpmgr")?;
    let image = signed_image(dir.path())?;
    let len = std::fs::metadata(&image)?.len();
    println!(
        "temper-bench --smp: {len}-byte imgtool-signed image to slot 1 of the simulated zephyr-sensor at 115200 \
         baud, both directions paced; anchor: the framing limit net of SMP/CBOR overhead, {NET_LIMIT_KIB_S} KiB/s\n"
    );
    println!("| device buffers | client | KiB/s | of the net limit |");
    println!("|---|---|---:|---:|");
    for (n, buffers) in ["2048x4", "384x4"].into_iter().enumerate() {
        let size: u32 = buffers.split('x').next().unwrap().parse()?;
        let mut tools = vec![temper_tool(bin_dir)];
        tools.push(smpmgr_tool(&smpmgr, None));
        for lines in tuned_line_buffers(size) {
            tools.push(smpmgr_tool(&smpmgr, Some(lines)));
        }
        for (m, tool) in tools.iter().enumerate() {
            let ip = format!("127.0.99.{}", 1 + n * 20 + m);
            let state = dir.path().join(format!("sim-{buffers}-{m}"));
            let kib_s = upload_once(bin_dir, &state, &ip, buffers, tool, &image, len)
                .with_context(|| format!("{} at {buffers}", tool.name))?;
            println!(
                "| {buffers} | {} | {kib_s:.2} | {:.1} % |",
                tool.name,
                100.0 * kib_s / NET_LIMIT_KIB_S
            );
        }
    }
    Ok(())
}

/// The `--line-buffers` values worth trying for a device net buffer of `size` bytes: more than smpclient's
/// default (2), as many as fit, doubling.
fn tuned_line_buffers(size: u32) -> Vec<u32> {
    let most = size / LINE_LENGTH;
    let mut v = Vec::new();
    let mut n = 4;
    while n < most {
        v.push(n);
        n *= 2;
    }
    if most > 2 {
        v.push(most);
    }
    v
}

fn temper_tool(bin_dir: &Path) -> Tool {
    let temper = bin_dir.join("temper");
    Tool {
        name: "temper (untuned)".into(),
        command: Box::new(move |port, image| {
            let mut cmd = Command::new(&temper);
            cmd.args(["--json", "image", "upload", "--port", port])
                .arg(image)
                .env_remove("TEMPER_SIM_BUS");
            cmd
        }),
    }
}

fn smpmgr_tool(smpmgr: &Path, line_buffers: Option<u32>) -> Tool {
    let smpmgr = smpmgr.to_path_buf();
    let name = match line_buffers {
        None => "smpmgr (default)".to_string(),
        Some(n) => format!("smpmgr --line-buffers {n}"),
    };
    Tool {
        name,
        command: Box::new(move |port, image| {
            let mut cmd = Command::new(&smpmgr);
            cmd.args(["--port", port, "--baudrate", "115200", "--timeout", "10"]);
            if let Some(n) = line_buffers {
                cmd.args(["--line-buffers", &n.to_string()]);
            }
            cmd.args(["image", "upload", "--slot", "1"]).arg(image);
            cmd
        }),
    }
}

/// One upload by `tool` to a fresh simulator; KiB/s on the device's clock.
fn upload_once(
    bin_dir: &Path,
    state: &Path,
    ip: &str,
    buffers: &str,
    tool: &Tool,
    image: &Path,
    len: u64,
) -> anyhow::Result<f64> {
    let (mut sim, port) = start_sensor(bin_dir, state, ip, buffers)?;
    let status = (tool.command)(&port, image)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("run the client")?;
    let _ = sim.kill();
    let _ = sim.wait();
    if !status.success() {
        bail!("the upload failed ({status})");
    }
    let events = std::fs::read_to_string(state.join("events.jsonl"))?;
    let uploads: Vec<(u64, u64, u64)> = events
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "smp" && e["group"] == 1 && e["id"] == 1)
        .filter_map(|e| Some((e["t_ms"].as_u64()?, e["off"].as_u64()?, e["next"].as_u64()?)))
        .collect();
    let first = uploads.iter().find(|u| u.1 == 0).map(|u| u.0);
    let last = uploads.iter().rev().find(|u| u.2 == len).map(|u| u.0);
    let (Some(first), Some(last)) = (first, last) else {
        bail!("the device log shows no complete upload");
    };
    let secs = (last.saturating_sub(first)) as f64 / 1000.0;
    Ok(len as f64 / 1024.0 / secs.max(0.001))
}

fn start_sensor(
    bin_dir: &Path,
    state: &Path,
    ip: &str,
    buffers: &str,
) -> anyhow::Result<(Child, String)> {
    std::fs::create_dir_all(state)?;
    let mut child = Command::new(bin_dir.join("temper-devsim"))
        .args([
            "run",
            "--model",
            "zephyr-sensor",
            "--no-usb-bus",
            "--ip",
            ip,
        ])
        .args(["--smp-buffers", buffers, "--state"])
        .arg(state)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("start temper-devsim")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let announce: Value = serde_json::from_str(&line).context("announce line")?;
    let port = announce["port"].as_str().context("port")?.to_string();
    Ok((child, port))
}

/// A signed MCUboot image of about [`IMAGE_LEN`] bytes, made by `imgtool sign` with the simulator's key.
fn signed_image(dir: &Path) -> anyhow::Result<PathBuf> {
    let imgtool = which("imgtool")?;
    let body = dir.join("app.bin");
    let bytes: Vec<u8> = (0..IMAGE_LEN - 0x200 - 256)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0])
        .collect();
    std::fs::write(&body, bytes)?;
    let key = super::workspace_root().join("crates/temper-devsim/data/zephyr-boot-ecdsa-p256.pem");
    let out = dir.join("app.signed.bin");
    let status = Command::new(imgtool)
        .args(["sign", "--key"])
        .arg(&key)
        .args([
            "--version",
            "1.2.3",
            "--header-size",
            "0x200",
            "--pad-header",
        ])
        .args(["--align", "4", "--slot-size", "0x60000"])
        .arg(&body)
        .arg(&out)
        .status()
        .context("run imgtool")?;
    if !status.success() {
        bail!("imgtool sign failed ({status})");
    }
    Ok(out)
}

/// `name` on the PATH or in the test venv (`scripts/deps.sh test` installs smpmgr and imgtool there).
pub fn which(name: &str) -> anyhow::Result<PathBuf> {
    let venv = Path::new("/var/tmp/temper-venv/bin").join(name);
    if venv.exists() {
        return Ok(venv);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .with_context(|| {
            format!("{name} not found: run `bash scripts/deps.sh test` (it installs it in a venv)")
        })
}
