//! Commissioning runs: a fresh simulated camera, the real `temper` binary, step and certificate-stage times from
//! the arrival of temper's JSON lines; and `--record`, which keeps one run's console transcript.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde_json::Value;

use super::floor::BAUD;
use super::{workspace_root, Args};

/// Passphrase of the throw-away inventories.
const PASSPHRASE: &str = "some-long-strong-passphrase-words";
/// After the simulator's HTTP port answers: let the boot finish and its unread output be dropped
/// (`timing::UNREAD_DISCARD_MS` is 1.5 s), so each run starts at a quiet console, like a camera that booted a while ago.
const SETTLE: Duration = Duration::from_millis(2000);
/// A run that takes longer than this is killed and reported as failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// The progress line of the certificate step that says the station CA was just made.
const CA_MADE: &str = "made this station's CA";

/// A running simulator, killed on drop.
struct Sim {
    child: Child,
    port: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sim(
    bin_dir: &Path,
    state: &Path,
    ip: &str,
    transcript: Option<&Path>,
) -> anyhow::Result<Sim> {
    std::fs::create_dir_all(state)?;
    let mut cmd = Command::new(bin_dir.join("temper-devsim"));
    cmd.args(["run", "--model", "ipcam", "--quiet-kernel", "--state"])
        .arg(state)
        .args(["--ip", ip, "--baud", &BAUD.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(t) = transcript {
        cmd.arg("--transcript").arg(t);
    }
    let mut child = cmd.spawn().context("start temper-devsim")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("simulator stdout")?).read_line(&mut line)?;
    let announce: Value =
        serde_json::from_str(&line).with_context(|| format!("simulator announce {line:?}"))?;
    let port = announce["port"]
        .as_str()
        .ok_or_else(|| anyhow!("no port in {line:?}"))?
        .to_string();
    let sim = Sim { child, port };
    // Booted: the HTTP server (started near the end of the boot log) accepts connections.
    let addr: SocketAddr = format!("{ip}:80").parse()?;
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if start.elapsed() > Duration::from_secs(30) {
            bail!("simulator did not boot within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(SETTLE);
    Ok(sim)
}

pub struct RunResult {
    pub wall: Duration,
    /// (step, duration), in plan order.
    pub steps: Vec<(String, Duration)>,
    /// Arrival of the certificate step's marks, from its start: `ca-made`, each `certificate` stage, `finished`.
    pub cert_marks: BTreeMap<String, Duration>,
}

impl RunResult {
    pub fn step_secs(&self, step: &str) -> f64 {
        self.steps
            .iter()
            .filter(|(s, _)| s == step)
            .map(|(_, d)| d.as_secs_f64())
            .sum()
    }
}

/// One commissioning of a fresh device; the clock starts when `temper` is spawned (device already booted).
pub fn run_once(args: &Args, n: usize, transcript: Option<&Path>) -> anyhow::Result<RunResult> {
    let saved = args
        .save
        .as_ref()
        .map(|d| d.join(format!("run-{}.transcript", n + 1)));
    let transcript = transcript.or(saved.as_deref());
    let mut lines_seen = Vec::new();
    let dir = tempfile::tempdir()?;
    let ip = format!("127.0.94.{}", 1 + n % 250);
    let sim = start_sim(&args.bin_dir, &dir.path().join("state"), &ip, transcript)?;
    let stderr_path = dir.path().join("temper.stderr");
    // The inventory exists before the clock starts, as on a station that has commissioned before; its station
    // CA does not (no `temper ca init`): the certificate step makes it on first use, inside the measured time.
    let init = Command::new(args.bin_dir.join("temper"))
        .env("TEMPER_INVENTORY", dir.path().join("inv/inventory.db"))
        .env("TEMPER_INVENTORY_PASSPHRASE", PASSPHRASE)
        .args(["inventory", "init"])
        .stdin(Stdio::null())
        .output()
        .context("temper inventory init")?;
    anyhow::ensure!(
        init.status.success(),
        "temper inventory init failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    // Only the ipcam profile: the model under test, and a sibling profile being edited cannot stop the run.
    let profiles = dir.path().join("profiles");
    std::fs::create_dir_all(&profiles)?;
    std::fs::copy(
        workspace_root().join("provisioning-profiles/ipcam.toml"),
        profiles.join("ipcam.toml"),
    )
    .context("copy the ipcam profile")?;
    let start = Instant::now();
    let mut child = Command::new(args.bin_dir.join("temper"))
        .env("TEMPER_INVENTORY", dir.path().join("inv/inventory.db"))
        .env("TEMPER_INVENTORY_PASSPHRASE", PASSPHRASE)
        .env("TEMPER_PROFILES", &profiles)
        .env_remove("TEMPER_FAULT_STOP_AT")
        .args(["--json", "commission", "--port", &sim.port])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path)?)
        .spawn()
        .context("start temper")?;
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        std::thread::spawn(move || {
            let t0 = Instant::now();
            while !done.load(Ordering::Relaxed) {
                if t0.elapsed() > RUN_TIMEOUT {
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let mut open: BTreeMap<String, Instant> = BTreeMap::new();
    let mut steps = Vec::new();
    let mut cert_marks = BTreeMap::new();
    let mut failed = Vec::new();
    let stdout = child.stdout.take().context("temper stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let now = Instant::now();
        lines_seen.push(format!("{} {line}", (now - start).as_millis()));
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let step = v["step"].as_str().unwrap_or_default().to_string();
        let since_cert = || open.get("certificate").map(|t0| now - *t0);
        match v["event"].as_str() {
            Some("step-started") => {
                open.insert(step, now);
            }
            Some("step-finished") => {
                if step == "certificate" {
                    if let Some(d) = since_cert() {
                        cert_marks.insert("finished".to_string(), d);
                    }
                }
                if let Some(t0) = open.remove(&step) {
                    steps.push((step.clone(), now - t0));
                }
                if v["outcome"] != "done" {
                    failed.push(format!("{step}: {}", v["outcome"]));
                }
            }
            Some("certificate") => {
                if let (Some(stage), Some(d)) = (v["stage"].as_str(), since_cert()) {
                    cert_marks.insert(stage.to_string(), d);
                }
            }
            Some("progress")
                if step == "certificate"
                    && v["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with(CA_MADE)) =>
            {
                if let Some(d) = since_cert() {
                    cert_marks.insert("ca-made".to_string(), d);
                }
            }
            _ => {}
        }
    }
    let status = child.wait()?;
    let wall = start.elapsed();
    done.store(true, Ordering::Relaxed);
    if let Some(d) = &args.save {
        lines_seen.push(format!("{} exit {status}", wall.as_millis()));
        std::fs::write(
            d.join(format!("run-{}.jsonl", n + 1)),
            lines_seen.join("\n") + "\n",
        )?;
    }
    let _ = watchdog.join();
    if !status.success() || !failed.is_empty() {
        let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        bail!("run {n}: temper exited with {status}; steps not done: {failed:?}\n{err}");
    }
    // Let the console finish its last answer before the simulator is killed (for the transcript).
    std::thread::sleep(Duration::from_millis(300));
    drop(sim);
    Ok(RunResult {
        wall,
        steps,
        cert_marks,
    })
}

pub fn record(args: &Args, out: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let raw = dir.path().join("raw.transcript");
    let run = run_once(args, 0, Some(&raw))?;
    let text = std::fs::read_to_string(&raw)?;
    let body: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("> ")).collect();
    if body.is_empty() {
        bail!("the simulator recorded no host bytes");
    }
    // The factory root password is typed at a `Password:` prompt: it must have been masked.
    if body.iter().any(|l| l.contains("xmhdipc")) {
        bail!("a secret reached the transcript");
    }
    let mut f = std::fs::File::create(out).with_context(|| out.display().to_string())?;
    writeln!(
        f,
        "# Reference console transcript: one `temper --json commission` of a fresh simulated SV-IPC2100 at {BAUD} baud"
    )?;
    writeln!(
        f,
        "# (temper-devsim --quiet-kernel --transcript), from the first host byte on. Format: crates/temper-devsim/src/transcript.rs."
    )?;
    writeln!(
        f,
        "# Secrets are masked with `*`. Recorded by `temper-bench --record`; see docs/benchmarks.md."
    )?;
    for l in &body {
        writeln!(f, "{l}")?;
    }
    println!(
        "wrote {} ({} records; that run took {:.2} s)",
        out.display(),
        body.len(),
        run.wall.as_secs_f64()
    );
    Ok(())
}
