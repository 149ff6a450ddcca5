//! `temper-bench`: wall time of one commissioning of a simulated IP camera at 115200 baud, next to the physical
//! floor computed from the committed reference transcript of the console exchange; and the station CA's signing
//! rate next to OpenSSL's; the desktop app's start-up and idle memory next to an empty Tauri 2 app's; and SMP
//! image upload speed next to smpmgr's and the serial framing limit, and over simulated BLE next to the ideal
//! for the connection's parameters (docs/benchmarks.md).
//!
//! ```text
//! temper-bench [--runs N] [--bin-dir DIR] [--transcript FILE] [--save DIR]    (--runs 0: the floor only)
//! temper-bench --record FILE [--bin-dir DIR]
//! temper-bench --sign [--count N] [--speed-seconds S]
//! temper-bench --gui [--runs N]
//! temper-bench --smp [--bin-dir DIR]
//! temper-bench --ble [--bin-dir DIR]
//! ```
//!
//! Default: parse the transcript, then commission N (3) fresh simulated devices with the real `temper` binary
//! (`target/release` by default) and print Markdown tables: median wall time against the floor, the time of each
//! step (from the arrival of the `step-started` / `step-finished` JSON lines) against the floor of that step's
//! part of the console exchange, and the certificate step stage by stage (its `certificate` events).
//! `--runs 0` prints the floor and its split over steps and certificate stages without commissioning anything.
//! `--record FILE` commissions one device with `temper-devsim --transcript` and writes the reference transcript
//! (from the first host byte on) to FILE. `--save DIR` keeps, for each run, the console transcript
//! (`run-N.transcript`) and temper's JSON lines with their arrival time in ms (`run-N.jsonl`), to explain an
//! outlier; the transcript costs a little time, so figures for the docs are taken without it.
//! `--sign` measures `StationCa::sign` in this process for P-256, P-384 and Ed25519 CAs, each beside OpenSSL
//! doing the same job (module `sign`); it needs `openssl` on the PATH, not the release binaries.
//! `--gui` measures `temper-app` and `temper-empty-app` (found next to this executable) under a private Xvfb:
//! start-up to the loaded page and idle memory, N (5) runs of each (module `gui`).
//! `--smp` uploads a 256 KiB signed image to the simulated zephyr-sensor with `temper` and with `smpmgr`
//! (default and tuned) at two device buffer sizes (module `smp`); it needs smpmgr and imgtool (the test venv).
//! `--ble` uploads an MCUboot image over the simulated BLE world of `temper-devsim ble` at a few connection
//! intervals, PDUs per event and MTUs with Temper's SmpClient over BleLink, and `smpmgr --ble` when it is
//! installed (module `ble`); it needs only `temper-devsim` in the bin dir.
//!
//! This is a benchmark that prints figures; it asserts no speed target and only fails when a run fails.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};

#[path = "temper-bench/ble.rs"]
mod ble;
#[path = "temper-bench/floor.rs"]
mod floor;
#[path = "temper-bench/gui.rs"]
mod gui;
#[path = "temper-bench/runs.rs"]
mod runs;
#[path = "temper-bench/sign.rs"]
mod sign;
#[path = "temper-bench/smp.rs"]
mod smp;

use floor::{floor_of, parse_transcript, split_floor, timeline, BAUD, CERT_STAGES};

/// Steps whose wait is the console dialogue (plus small local work; the certificate step also signs, commits to
/// the inventory and makes one TLS handshake on loopback: a few ms, shown stage by stage).
const CONSOLE_STEPS: &[&str] = &[
    "identify",
    "rotate-credentials",
    "lock-accounts",
    "disable-services",
    "certificate",
    "record",
];
/// Steps whose work is on the network: full TCP scan and UDP probes, default-credential trials, TLS checks.
const NETWORK_STEPS: &[&str] = &["baseline", "default-credential-trials", "verify"];

pub struct Args {
    runs: usize,
    bin_dir: PathBuf,
    transcript: PathBuf,
    record: Option<PathBuf>,
    save: Option<PathBuf>,
    sign: bool,
    gui: bool,
    smp: bool,
    ble: bool,
    count: usize,
    speed_seconds: u32,
}

pub fn workspace_root() -> PathBuf {
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
        sign: false,
        gui: false,
        smp: false,
        ble: false,
        count: 1000,
        speed_seconds: 3,
    };
    let mut runs_given = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| anyhow!("{name} needs a value"));
        match a.as_str() {
            "--runs" => {
                args.runs = value("--runs")?.parse().context("--runs")?;
                runs_given = true;
            }
            "--bin-dir" => args.bin_dir = PathBuf::from(value("--bin-dir")?),
            "--transcript" => args.transcript = PathBuf::from(value("--transcript")?),
            "--record" => args.record = Some(PathBuf::from(value("--record")?)),
            "--save" => args.save = Some(PathBuf::from(value("--save")?)),
            "--sign" => args.sign = true,
            "--gui" => args.gui = true,
            "--smp" => args.smp = true,
            "--ble" => args.ble = true,
            "--count" => {
                args.count = value("--count")?.parse().context("--count")?;
                if args.count == 0 {
                    bail!("--count must be at least 1");
                }
            }
            "--speed-seconds" => {
                args.speed_seconds = value("--speed-seconds")?
                    .parse()
                    .context("--speed-seconds")?;
            }
            "-h" | "--help" => {
                println!(
                    "usage: temper-bench [--runs N] [--bin-dir DIR] [--transcript FILE] [--save DIR]\n       \
                     temper-bench --record FILE [--bin-dir DIR]\n       \
                     temper-bench --sign [--count N] [--speed-seconds S]\n       \
                     temper-bench --gui [--runs N]\n       \
                     temper-bench --smp [--bin-dir DIR]\n       \
                     temper-bench --ble [--bin-dir DIR]\n\
                     Figures and how to read them: docs/benchmarks.md"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if args.gui && !runs_given {
        args.runs = 5;
    }
    if args.sign || args.gui {
        return Ok(args);
    }
    let bins: &[&str] = if args.ble {
        &["temper-devsim"]
    } else {
        &["temper", "temper-devsim"]
    };
    for bin in bins {
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

pub fn median(mut v: Vec<f64>) -> f64 {
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

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.2}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    if args.sign {
        return sign::run(args.count, args.speed_seconds);
    }
    if args.gui {
        return gui::run(args.runs);
    }
    if args.smp {
        return smp::run(&args.bin_dir);
    }
    if args.ble {
        return ble::run(&args.bin_dir);
    }
    if let Some(d) = &args.save {
        std::fs::create_dir_all(d)?;
    }
    if let Some(out) = &args.record {
        return runs::record(&args, out);
    }
    let text = std::fs::read_to_string(&args.transcript)
        .with_context(|| format!("reading {}", args.transcript.display()))?;
    let recs = parse_transcript(&text)?;
    let parts = floor_of(&recs);
    let line = timeline(&recs);
    let split = split_floor(&recs, &line)?;
    let floor = line.end;

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
        "Floor from {} ({} host lines, {} of them typed ahead without waiting for a prompt):\n",
        shown(&args.transcript),
        parts.host_lines,
        line.typed_ahead
    );
    println!("| part | amount | time |");
    println!("|---|---:|---:|");
    println!(
        "| device→host bytes at {} B/s | {} B | {:.3} s |",
        BAUD / 10,
        parts.device_bytes,
        parts.line_secs(parts.device_bytes)
    );
    println!(
        "| host→device bytes not echoed (no-echo prompts, LF after CR) | {} of {} B | {:.3} s |",
        parts.host_unechoed,
        parts.host_bytes,
        parts.line_secs(parts.host_unechoed)
    );
    for (name, (count, ms)) in &parts.delays {
        println!(
            "| modelled delay `{name}` | {count} × | {:.3} s |",
            *ms as f64 / 1000.0
        );
    }
    println!(
        "| sum of the parts, one after another | | {:.3} s |",
        parts.serial_secs()
    );
    println!(
        "| overlap on the full-duplex line (echo of the last byte of each line, typed-ahead input) | | {:+.3} s |",
        floor - parts.serial_secs()
    );
    println!("| **floor** (the exchange replayed on an ideal line) | | **{floor:.3} s** |\n");

    if args.runs == 0 {
        print_split(&split, floor);
        return Ok(());
    }
    let mut runs = Vec::new();
    for n in 0..args.runs {
        let r = runs::run_once(&args, n, None)?;
        eprintln!("run {}: {:.3} s", n + 1, r.wall.as_secs_f64());
        runs.push(r);
    }

    let walls: Vec<f64> = runs.iter().map(|r| r.wall.as_secs_f64()).collect();
    let wall = median(walls.clone());
    println!("| measure | runs (s) | median | floor | ratio |");
    println!("|---|---|---:|---:|---:|");
    println!(
        "| one commissioning, wall time | {} | {:.2} s | {:.2} s | **{:.2}×** |",
        list(&walls),
        wall,
        floor,
        wall / floor
    );
    let sum_of = |names: &[&str]| -> Vec<f64> {
        runs.iter()
            .map(|r| names.iter().map(|s| r.step_secs(s)).sum())
            .collect()
    };
    let console = sum_of(CONSOLE_STEPS);
    let network = sum_of(NETWORK_STEPS);
    let outside: Vec<f64> = runs
        .iter()
        .map(|r| r.wall.as_secs_f64() - r.steps.iter().map(|(_, d)| d.as_secs_f64()).sum::<f64>())
        .collect();
    println!(
        "| console-bound steps | {} | {:.2} s | {:.2} s | **{:.2}×** |\n",
        list(&console),
        median(console.clone()),
        floor,
        median(console.clone()) / floor
    );

    println!(
        "Per step (median over the runs; floor: that step's part of the console exchange; share of the median \
         wall time):\n"
    );
    println!("| step | bound by | runs (s) | median | floor | ratio | share |");
    println!("|---|---|---|---:|---:|---:|---:|");
    let order: Vec<String> = runs[0].steps.iter().map(|(s, _)| s.clone()).collect();
    let mut misfit = Misfit::default();
    for step in &order {
        let kind = if CONSOLE_STEPS.contains(&step.as_str()) {
            "console"
        } else if NETWORK_STEPS.contains(&step.as_str()) {
            "network"
        } else {
            "?"
        };
        let v: Vec<f64> = runs.iter().map(|r| r.step_secs(step)).collect();
        let m = median(v.clone());
        let (fl, ratio) = match split.steps.get(step) {
            Some(f) => {
                misfit.note(step, m / f);
                (format!("{f:.3} s"), format!("{:.2}×", m / f))
            }
            None => ("—".into(), "—".into()),
        };
        println!(
            "| {step} | {kind} | {} | {m:.3} s | {fl} | {ratio} | {:.0} % |",
            list(&v),
            100.0 * m / wall
        );
    }
    let row = |name: &str, v: &[f64], fl: Option<f64>| {
        let m = median(v.to_vec());
        let (fl, ratio) = match fl {
            Some(f) => (format!("{f:.3} s"), format!("{:.2}×", m / f)),
            None => ("—".into(), "—".into()),
        };
        println!(
            "| {name} | | {} | {m:.3} s | {fl} | {ratio} | {:.0} % |",
            list(v),
            100.0 * m / wall
        );
    };
    row("**console-bound total**", &console, Some(floor));
    row("**network-bound total**", &network, None);
    row(
        "outside steps (start-up, inventory key, between steps, exit)",
        &outside,
        None,
    );

    println!(
        "\nThe certificate step, interval by interval (from its `certificate` events; median over the runs):\n"
    );
    println!("| until | what runs | runs (ms) | median | console floor | ratio |");
    println!("|---|---|---|---:|---:|---:|");
    let mut total_floor = 0.0;
    for (i, stage) in CERT_STAGES.iter().enumerate() {
        let v: Vec<f64> = runs
            .iter()
            .map(|r| {
                let end = r.cert_marks.get(stage.until);
                let begin = CERT_STAGES[..i]
                    .iter()
                    .rev()
                    .find_map(|s| r.cert_marks.get(s.until))
                    .copied()
                    .unwrap_or_default();
                end.map_or(0.0, |e| e.saturating_sub(begin).as_secs_f64() * 1000.0)
            })
            .collect();
        let m = median(v.clone());
        let fl = split.cert_stages[i] * 1000.0;
        total_floor += fl;
        let ratio = if fl > 0.0 {
            misfit.note(stage.until, m / fl);
            format!("{:.2}×", m / fl)
        } else {
            "—".into()
        };
        println!(
            "| {} | {} | {} | {m:.0} ms | {fl:.0} ms | {ratio} |",
            stage.until,
            stage.work,
            v.iter()
                .map(|x| format!("{x:.0}"))
                .collect::<Vec<_>>()
                .join(" / "),
        );
    }
    let cert: Vec<f64> = runs.iter().map(|r| r.step_secs("certificate")).collect();
    let m = median(cert.clone());
    println!(
        "| **certificate step** | {:.0} % of the median wall time | {} | {:.0} ms | {total_floor:.0} ms | **{:.2}×** |",
        100.0 * m / wall,
        cert.iter()
            .map(|x| format!("{:.0}", x * 1000.0))
            .collect::<Vec<_>>()
            .join(" / "),
        m * 1000.0,
        m * 1000.0 / total_floor
    );
    if !misfit.0.is_empty() {
        println!(
            "\n**Warning**: {} ran below {MISFIT_BELOW}× of its floor, more than the simulator's head start \
             explains: the exchange has probably changed since the transcript was recorded, or STEP_MARKS / \
             CERT_STAGES (temper-bench/floor.rs) no longer split it where the events do. Re-record and check.",
            misfit.0.join(", ")
        );
    }
    Ok(())
}

/// A part measured this far below its floor was split at the wrong host line (or the transcript is stale).
const MISFIT_BELOW: f64 = 0.85;

/// Parts whose time is implausibly far below their floor.
#[derive(Default)]
struct Misfit(Vec<String>);

impl Misfit {
    fn note(&mut self, name: &str, ratio: f64) {
        if ratio < MISFIT_BELOW {
            self.0.push(format!("`{name}` ({ratio:.2}×)"));
        }
    }
}

/// The floor split over the steps and the certificate stages (for `--runs 0`).
fn print_split(split: &floor::Split, floor: f64) {
    println!("| step | console floor |");
    println!("|---|---:|");
    for (step, _) in floor::STEP_MARKS {
        println!("| {step} | {:.3} s |", split.steps[*step]);
    }
    println!("| **total** | **{floor:.3} s** |\n");
    println!("| certificate stage, until | what runs | console floor |");
    println!("|---|---|---:|");
    for (stage, f) in CERT_STAGES.iter().zip(&split.cert_stages) {
        println!(
            "| {} | {} | {:.0} ms |",
            stage.until,
            stage.work,
            f * 1000.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
