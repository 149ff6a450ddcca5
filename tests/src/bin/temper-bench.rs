//! `temper-bench`: wall time of one commissioning of a simulated IP camera at 115200 baud, next to the physical
//! floor computed from the committed reference transcript of the console exchange (docs/benchmarks.md).
//!
//! ```text
//! temper-bench [--runs N] [--bin-dir DIR] [--transcript FILE] [--save DIR]
//! temper-bench --record FILE [--bin-dir DIR]
//! ```
//!
//! Default: parse the transcript, then commission N (3) fresh simulated devices with the real `temper` binary
//! (`target/release` by default) and print Markdown tables: median wall time against the floor, and the time of
//! each step (from the arrival of the `step-started` / `step-finished` JSON lines), console-bound steps apart
//! from network-bound ones. `--record FILE` commissions one device with `temper-devsim --transcript` and writes
//! the reference transcript (from the first host byte on) to FILE. `--save DIR` keeps, for each run, the console
//! transcript (`run-N.transcript`) and temper's JSON lines with their arrival time in ms (`run-N.jsonl`), to explain
//! an outlier; the transcript costs a little time, so figures for the docs are taken without it.
//!
//! This is a benchmark that prints figures; it asserts no speed target and only fails when a run fails.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde_json::Value;

/// Line speed of the benchmark and of the reference transcript.
const BAUD: u32 = 115_200;
/// Passphrase of the throw-away inventories.
const PASSPHRASE: &str = "some-long-strong-passphrase-words";
/// After the simulator's HTTP port answers: let the boot finish and its unread output be dropped
/// (`timing::UNREAD_DISCARD_MS` is 1.5 s), so each run starts at a quiet console, like a camera that booted a while ago.
const SETTLE: Duration = Duration::from_millis(2000);
/// A run that takes longer than this is killed and reported as failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Steps whose work is the console dialogue (plus small local work).
const CONSOLE_STEPS: &[&str] = &[
    "identify",
    "rotate-credentials",
    "lock-accounts",
    "disable-services",
    "record",
];
/// Steps whose work is on the network: full TCP scan and UDP probes, default-credential trials.
const NETWORK_STEPS: &[&str] = &["baseline", "default-credential-trials", "verify"];

struct Args {
    runs: usize,
    bin_dir: PathBuf,
    transcript: PathBuf,
    record: Option<PathBuf>,
    save: Option<PathBuf>,
}

fn workspace_root() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    p.canonicalize().unwrap_or(p)
}

fn parse_args() -> anyhow::Result<Args> {
    let exe = std::env::current_exe().context("own path")?;
    // target/<profile>/temper-bench -> target/release
    let default_bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("release"))
        .ok_or_else(|| anyhow!("cannot place the target dir"))?;
    let mut args = Args {
        runs: 3,
        bin_dir: default_bin,
        transcript: workspace_root().join("docs/bench/ipcam-115200.transcript"),
        record: None,
        save: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| anyhow!("{name} needs a value"));
        match a.as_str() {
            "--runs" => {
                args.runs = value("--runs")?.parse().context("--runs")?;
                if args.runs == 0 {
                    bail!("--runs must be at least 1");
                }
            }
            "--bin-dir" => args.bin_dir = PathBuf::from(value("--bin-dir")?),
            "--transcript" => args.transcript = PathBuf::from(value("--transcript")?),
            "--record" => args.record = Some(PathBuf::from(value("--record")?)),
            "--save" => args.save = Some(PathBuf::from(value("--save")?)),
            "-h" | "--help" => {
                println!(
                    "usage: temper-bench [--runs N] [--bin-dir DIR] [--transcript FILE] [--save DIR]\n       \
                     temper-bench --record FILE [--bin-dir DIR]\n\
                     Figures and how to read them: docs/benchmarks.md"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    for bin in ["temper", "temper-devsim"] {
        let p = args.bin_dir.join(bin);
        if !p.exists() {
            bail!(
                "{} missing: run `cargo build --release -p temper-cli -p temper-devsim` (or pass --bin-dir)",
                p.display()
            );
        }
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------------------------
// The floor, from the reference transcript.

/// One record of a transcript (format: crates/temper-devsim/src/transcript.rs).
#[derive(Debug, Clone, PartialEq)]
enum Rec {
    Host(Vec<u8>),
    Device(Vec<u8>),
    Delay(u64, String),
}

fn unescape(s: &str) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = s.get(i + 2..i + 4).ok_or_else(|| anyhow!("short \\x"))?;
                out.push(u8::from_str_radix(hex, 16).context("bad \\x escape")?);
                i += 2;
            }
            _ => bail!("bad escape in {s:?}"),
        }
        i += 2;
    }
    Ok(out)
}

/// Records from the first host byte on; `#` comment lines and blank lines are skipped.
fn parse_transcript(text: &str) -> anyhow::Result<Vec<Rec>> {
    let mut recs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let bad = || anyhow!("transcript line {}: {line:?}", n + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let rec = if let Some(rest) = line.strip_prefix("> ") {
            Rec::Host(unescape(rest)?)
        } else if let Some(rest) = line.strip_prefix("< ") {
            Rec::Device(unescape(rest)?)
        } else if let Some(rest) = line.strip_prefix("= ") {
            let (ms, name) = rest.split_once(' ').ok_or_else(bad)?;
            Rec::Delay(ms.parse().map_err(|_| bad())?, name.to_string())
        } else {
            return Err(bad());
        };
        if recs.is_empty() && !matches!(rec, Rec::Host(_)) {
            continue;
        }
        recs.push(rec);
    }
    if recs.is_empty() {
        bail!("transcript has no host bytes");
    }
    Ok(recs)
}

#[derive(Debug, Default)]
struct Floor {
    device_bytes: usize,
    host_bytes: usize,
    host_unechoed: usize,
    /// name -> (count, total ms)
    delays: BTreeMap<String, (u32, u64)>,
    host_lines: usize,
}

impl Floor {
    fn delay_ms(&self) -> u64 {
        self.delays.values().map(|(_, ms)| ms).sum()
    }

    fn line_secs(&self, bytes: usize) -> f64 {
        bytes as f64 / (BAUD as f64 / 10.0)
    }

    fn secs(&self) -> f64 {
        self.line_secs(self.device_bytes + self.host_unechoed) + self.delay_ms() as f64 / 1000.0
    }
}

/// Host bytes the device echoed overlap with that echo on a full-duplex line and cost nothing extra; the rest
/// (bytes typed at a prompt that does not echo, an LF after a CR) take their own line time. A host byte counts as
/// echoed when the device's next unmatched byte is the same (a CR is echoed as CR LF).
fn unechoed(host: &[u8], answer: &[u8]) -> usize {
    let mut j = 0;
    let mut missing = 0;
    for &h in host {
        if h == b'\r' && answer[j..].starts_with(b"\r\n") {
            j += 2;
        } else if h != b'\r' && answer.get(j) == Some(&h) {
            j += 1;
        } else {
            missing += 1;
        }
    }
    missing
}

fn floor_of(recs: &[Rec]) -> Floor {
    let mut f = Floor::default();
    for (i, rec) in recs.iter().enumerate() {
        match rec {
            Rec::Host(h) => {
                f.host_lines += 1;
                f.host_bytes += h.len();
                let answer: Vec<u8> = recs[i + 1..]
                    .iter()
                    .take_while(|r| !matches!(r, Rec::Host(_)))
                    .filter_map(|r| match r {
                        Rec::Device(d) => Some(d.as_slice()),
                        _ => None,
                    })
                    .flatten()
                    .copied()
                    .collect();
                f.host_unechoed += unechoed(h, &answer);
            }
            Rec::Device(d) => f.device_bytes += d.len(),
            Rec::Delay(ms, name) => {
                let e = f.delays.entry(name.clone()).or_default();
                e.0 += 1;
                e.1 += ms;
            }
        }
    }
    f
}

// ---------------------------------------------------------------------------------------------------------------
// Runs.

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

struct RunResult {
    wall: Duration,
    /// (step, duration), in plan order.
    steps: Vec<(String, Duration)>,
}

/// One commissioning of a fresh device; the clock starts when `temper` is spawned (device already booted).
fn run_once(args: &Args, n: usize, transcript: Option<&Path>) -> anyhow::Result<RunResult> {
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
    // The inventory exists before the clock starts, as on a station that has commissioned before.
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
    let start = Instant::now();
    let mut child = Command::new(args.bin_dir.join("temper"))
        .env("TEMPER_INVENTORY", dir.path().join("inv/inventory.db"))
        .env("TEMPER_INVENTORY_PASSPHRASE", PASSPHRASE)
        .env(
            "TEMPER_PROFILES",
            workspace_root().join("provisioning-profiles"),
        )
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
        match v["event"].as_str() {
            Some("step-started") => {
                open.insert(step, now);
            }
            Some("step-finished") => {
                if let Some(t0) = open.remove(&step) {
                    steps.push((step.clone(), now - t0));
                }
                if v["outcome"] != "done" {
                    failed.push(format!("{step}: {}", v["outcome"]));
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
    Ok(RunResult { wall, steps })
}

fn record(args: &Args, out: &Path) -> anyhow::Result<()> {
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

// ---------------------------------------------------------------------------------------------------------------
// Report.

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn step_secs(run: &RunResult, step: &str) -> f64 {
    run.steps
        .iter()
        .filter(|(s, _)| s == step)
        .map(|(_, d)| d.as_secs_f64())
        .sum()
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    if let Some(d) = &args.save {
        std::fs::create_dir_all(d)?;
    }
    if let Some(out) = &args.record {
        return record(&args, out);
    }
    let text = std::fs::read_to_string(&args.transcript)
        .with_context(|| format!("reading {}", args.transcript.display()))?;
    let floor = floor_of(&parse_transcript(&text)?);

    let root = workspace_root();
    let shown = |p: &Path| {
        p.strip_prefix(&root)
            .map(|r| r.display().to_string())
            .unwrap_or_else(|_| p.display().to_string())
    };
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "temper-bench: ipcam at {BAUD} baud, {} run(s), binaries in {}, {cpus} CPU(s)\n",
        args.runs,
        shown(&args.bin_dir)
    );
    println!(
        "Floor from {} ({} host lines):\n",
        shown(&args.transcript),
        floor.host_lines
    );
    println!("| part | amount | time |");
    println!("|---|---:|---:|");
    println!(
        "| device→host bytes at {} B/s | {} B | {:.3} s |",
        BAUD / 10,
        floor.device_bytes,
        floor.line_secs(floor.device_bytes)
    );
    println!(
        "| host→device bytes not echoed (no-echo prompts, LF after CR) | {} of {} B | {:.3} s |",
        floor.host_unechoed,
        floor.host_bytes,
        floor.line_secs(floor.host_unechoed)
    );
    for (name, (count, ms)) in &floor.delays {
        println!(
            "| modelled delay `{name}` | {count} × | {:.3} s |",
            *ms as f64 / 1000.0
        );
    }
    println!("| **floor** | | **{:.3} s** |\n", floor.secs());

    let mut runs = Vec::new();
    for n in 0..args.runs {
        let r = run_once(&args, n, None)?;
        eprintln!("run {}: {:.3} s", n + 1, r.wall.as_secs_f64());
        runs.push(r);
    }

    let walls: Vec<f64> = runs.iter().map(|r| r.wall.as_secs_f64()).collect();
    let wall = median(walls.clone());
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    println!("| measure | runs (s) | median | floor | ratio |");
    println!("|---|---|---:|---:|---:|");
    println!(
        "| one commissioning, wall time | {} | {:.2} s | {:.2} s | **{:.2}×** |",
        list(&walls),
        wall,
        floor.secs(),
        wall / floor.secs()
    );
    let sum_of = |names: &[&str]| -> Vec<f64> {
        runs.iter()
            .map(|r| names.iter().map(|s| step_secs(r, s)).sum())
            .collect()
    };
    let console = sum_of(CONSOLE_STEPS);
    let network = sum_of(NETWORK_STEPS);
    let all_steps: Vec<&str> = CONSOLE_STEPS.iter().chain(NETWORK_STEPS).copied().collect();
    let outside: Vec<f64> = runs
        .iter()
        .zip(sum_of(&all_steps))
        .map(|(r, s)| r.wall.as_secs_f64() - s)
        .collect();
    println!(
        "| console-bound steps | {} | {:.2} s | {:.2} s | **{:.2}×** |\n",
        list(&console),
        median(console.clone()),
        floor.secs(),
        median(console.clone()) / floor.secs()
    );

    println!("Per step (median over the runs; share of the median wall time):\n");
    println!("| step | bound by | runs (s) | median | share |");
    println!("|---|---|---|---:|---:|");
    let order: Vec<String> = runs[0].steps.iter().map(|(s, _)| s.clone()).collect();
    for step in &order {
        let kind = if CONSOLE_STEPS.contains(&step.as_str()) {
            "console"
        } else if NETWORK_STEPS.contains(&step.as_str()) {
            "network"
        } else {
            "?"
        };
        let v: Vec<f64> = runs.iter().map(|r| step_secs(r, step)).collect();
        let m = median(v.clone());
        println!(
            "| {step} | {kind} | {} | {m:.3} s | {:.0} % |",
            list(&v),
            100.0 * m / wall
        );
    }
    let row = |name: &str, v: &[f64]| {
        let m = median(v.to_vec());
        println!(
            "| {name} | | {} | {m:.3} s | {:.0} % |",
            list(v),
            100.0 * m / wall
        );
    };
    row("**console-bound total**", &console);
    row("**network-bound total**", &network);
    row(
        "outside steps (start-up, inventory key, between steps, exit)",
        &outside,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_what_the_simulator_escapes() {
        assert_eq!(
            unescape("a\\r\\n\\t\\\\\\x1b]0;\\x07").unwrap(),
            b"a\r\n\t\\\x1b]0;\x07".to_vec()
        );
        assert!(unescape("\\q").is_err());
    }

    #[test]
    fn floor_counts_unechoed_host_bytes_and_delays() {
        let text =
            "# c\n< boot\\r\\n\n> root\\r\n< root\\r\\n\n< Password: \n> ****\\r\n< \\r\\n\n\
                    = 300 login-check\n< # \n> ls\\r\\n\n< ls\\r\\n\n= 30 command\n< # \n";
        let recs = parse_transcript(text).unwrap();
        assert!(matches!(recs[0], Rec::Host(_)));
        let f = floor_of(&recs);
        assert_eq!(f.host_bytes, 5 + 5 + 4);
        // the four masked password bytes and the LF after CR
        assert_eq!(f.host_unechoed, 5);
        assert_eq!(f.device_bytes, 6 + 10 + 2 + 2 + 4 + 2);
        assert_eq!(f.delay_ms(), 330);
        let expect = (26.0 + 5.0) / 11_520.0 + 0.33;
        assert!((f.secs() - expect).abs() < 1e-9);
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
