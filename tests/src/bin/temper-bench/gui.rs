//! `--gui`: the desktop app's cold start to a loaded window and its idle memory, next to those of an empty Tauri 2
//! app built the same way (bench/empty-tauri-app, crate `temper-empty-app`), as ratios (docs/benchmarks.md).
//!
//! The benchmark starts its own `Xvfb` on a free display. For each run, the two apps alternate (one warm-up run of
//! each first, not counted); each is spawned with `DISPLAY` set, `TEMPER_STARTUP_PROBE=1`, a fresh `HOME` and
//! `XDG_*` directories in a temporary directory (temper-app starts at its create-inventory screen, with no devices;
//! WebKit has no caches from earlier runs) and `TEMPER_SIM_BUS` pointing at an empty directory. Start-up is the
//! time from just before the spawn to the time stamp of the app's `startup-probe page-loaded <unix-micros>` line
//! (printed when the main webview reports `PageLoadEvent::Finished`). Idle memory: 5 s after that line, the PSS
//! (and RSS) of the app process and all its descendants (WebKitWebProcess, WebKitNetworkProcess, ...), found by
//! walking the parent ids in `/proc/*/stat`, from `/proc/<pid>/smaps_rollup`. Then the process tree is killed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use super::median;

/// How long the window stays idle after its page has loaded before memory is read.
const IDLE: Duration = Duration::from_secs(5);
/// A start-up slower than this is a failed run.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// The line both apps print, followed by the time in microseconds since the Unix epoch.
const PROBE: &str = "startup-probe page-loaded ";
/// Screen of the private X server (larger than the 1100x760 windows).
const SCREEN: &str = "1280x800x24";

/// One of the two apps under test.
struct Subject {
    /// Name in the tables.
    name: &'static str,
    /// The private copy that runs.
    path: PathBuf,
    /// Where it was copied from.
    origin: PathBuf,
}

/// What one run measured.
struct Sample {
    startup_ms: f64,
    pss_kib: u64,
    rss_kib: u64,
    /// Anonymous memory (heaps, the JavaScript heap, stacks): unlike PSS, it does not depend on which other
    /// programs on the machine map the same libraries.
    anon_kib: u64,
    /// PSS per process name (the app itself is "app process"), summed over processes of that name.
    pss_by_name: BTreeMap<String, u64>,
    processes: usize,
    /// WebKit processes elsewhere on the machine at the time (they share library pages, lowering PSS).
    other_webkit: usize,
}

/// The private X server, killed on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM lets Xvfb remove its socket and lock file (after SIGKILL they stay and block that display).
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(3) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_xvfb() -> anyhow::Result<Xvfb> {
    for n in 90..200u32 {
        if Path::new(&format!("/tmp/.X{n}-lock")).exists()
            || Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
        {
            continue;
        }
        let display = format!(":{n}");
        let mut child = Command::new("Xvfb")
            .args([display.as_str(), "-screen", "0", SCREEN, "-nolisten", "tcp"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start Xvfb (apt-get install xvfb)")?;
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
        let t0 = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                // Lost a race for this display number (or Xvfb cannot start at all): try the next one.
                eprintln!("Xvfb {display} exited ({status}); trying another display");
                break;
            }
            if socket.exists() {
                return Ok(Xvfb { child, display });
            }
            if t0.elapsed() > Duration::from_secs(15) {
                let _ = child.kill();
                let _ = child.wait();
                bail!("Xvfb {display} did not open {} in 15 s", socket.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    bail!("no free X display between :90 and :199, or Xvfb does not start")
}

/// The app binaries: `TEMPER_EMPTY_APP` / `TEMPER_APP`, else next to this benchmark's own executable; each copied
/// into `copies`, so a rebuild during the benchmark cannot swap it, and its file pages are not shared with (and
/// their PSS not split with) instances of the same binary that other people run on this machine.
fn subjects(copies: &Path) -> anyhow::Result<[Subject; 2]> {
    let exe = std::env::current_exe().context("own path")?;
    let dir = exe.parent().ok_or_else(|| anyhow!("own directory"))?;
    let find = |var: &str, bin: &str| -> anyhow::Result<(PathBuf, PathBuf)> {
        let p = std::env::var_os(var).map_or_else(|| dir.join(bin), PathBuf::from);
        if !p.exists() {
            bail!(
                "{} missing: run `cargo build -p temper-app -p temper-empty-app` with the profile and target dir of \
                 this benchmark, or set {var}",
                p.display()
            );
        }
        let copy = copies.join(bin);
        std::fs::copy(&p, &copy).with_context(|| format!("copy {}", p.display()))?;
        Ok((copy, p))
    };
    let (empty, empty_origin) = find("TEMPER_EMPTY_APP", "temper-empty-app")?;
    let (temper, temper_origin) = find("TEMPER_APP", "temper-app")?;
    Ok([
        Subject {
            name: "empty Tauri 2 app",
            path: empty,
            origin: empty_origin,
        },
        Subject {
            name: "temper-app",
            path: temper,
            origin: temper_origin,
        },
    ])
}

/// Parent id of each live process, from `/proc/*/stat`.
fn parents() -> HashMap<i32, i32> {
    let mut map = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return map;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so cut at the last ')'.
        let ppid = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
            .and_then(|s| s.parse().ok());
        if let Some(ppid) = ppid {
            map.insert(pid, ppid);
        }
    }
    map
}

/// `root` and all its live descendants.
fn tree(root: i32) -> Vec<i32> {
    let parents = parents();
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (&pid, &ppid) in &parents {
        children.entry(ppid).or_default().push(pid);
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(c) = children.get(&out[i]) {
            out.extend(c);
        }
        i += 1;
    }
    out
}

/// (PSS, RSS, anonymous) in KiB from `/proc/<pid>/smaps_rollup`.
fn pss_rss_anon(pid: i32) -> Option<(u64, u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("Pss:")?, field("Rss:")?, field("Anonymous:")?))
}

/// The file name of a process's `argv[0]` (its `comm` is cut at 15 bytes).
fn process_name(pid: i32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv0 = String::from_utf8_lossy(cmdline.split(|&b| b == 0).next().unwrap_or_default());
    match argv0.rsplit('/').next() {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => "?".into(),
    }
}

/// The app under test, its whole process tree killed on drop.
struct Running {
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        let pids = tree(pid);
        // The app leads its own process group; WebKit's helpers stay in it, but kill each descendant too.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        for p in &pids {
            let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
        }
        let _ = self.child.wait();
        // Let the helpers vanish before the next run starts.
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5)
            && pids[1..]
                .iter()
                .any(|p| Path::new(&format!("/proc/{p}")).exists())
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn micros_now() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

fn run_once(subject: &Subject, display: &str) -> anyhow::Result<Sample> {
    let tmp = tempfile::tempdir()?;
    let home = tmp.path().join("home");
    let bus = tmp.path().join("sim-bus");
    for d in ["data", "config", "cache", "state"] {
        std::fs::create_dir_all(home.join(d))?;
    }
    std::fs::create_dir_all(&bus)?;
    let mut cmd = Command::new(&subject.path);
    cmd.env("DISPLAY", display)
        .env_remove("WAYLAND_DISPLAY")
        .env("TEMPER_STARTUP_PROBE", "1")
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("TEMPER_SIM_BUS", &bus)
        .current_dir(tmp.path())
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t0 = micros_now();
    let child = cmd
        .spawn()
        .with_context(|| format!("start {}", subject.path.display()))?;
    let mut app = Running { child };
    let stderr = app.child.stderr.take().context("app stderr")?;

    // Read stderr to its end on a thread (so the pipe never fills), passing on the probe's time stamp and keeping
    // the last lines for an error message.
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let (tx, rx) = mpsc::channel();
    {
        let tail = tail.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(t) = line.strip_prefix(PROBE) {
                    let _ = tx.send(t.trim().parse::<u128>().ok());
                }
                let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                if tail.len() == 20 {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
    }
    let started = Instant::now();
    let probe = loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Some(t)) => break t,
            Ok(None) => bail!("{}: unreadable probe line", subject.name),
            Err(mpsc::RecvTimeoutError::Timeout) | Err(mpsc::RecvTimeoutError::Disconnected) => {}
        }
        let exited = app.child.try_wait()?;
        if exited.is_some() || started.elapsed() > START_TIMEOUT {
            let tail = tail.lock().unwrap_or_else(|e| e.into_inner());
            bail!(
                "{} {} before its page loaded; its last stderr lines:\n{}",
                subject.name,
                exited.map_or_else(|| "timed out".to_string(), |s| format!("exited ({s})")),
                tail.iter().cloned().collect::<Vec<_>>().join("\n")
            );
        }
    };
    let startup_ms = probe.saturating_sub(t0) as f64 / 1000.0;

    std::thread::sleep(IDLE);
    if let Some(s) = app.child.try_wait()? {
        bail!("{} exited ({s}) while idle", subject.name);
    }
    let root = app.child.id() as i32;
    let (mut pss_kib, mut rss_kib, mut anon_kib, mut processes) = (0, 0, 0, 0);
    let mut pss_by_name = BTreeMap::new();
    let pids = tree(root);
    let other_webkit = parents()
        .keys()
        .filter(|p| !pids.contains(p) && process_name(**p).starts_with("WebKit"))
        .count();
    for pid in pids {
        // A process that is gone by now (or a kernel thread without smaps) counts nothing.
        if let Some((pss, rss, anon)) = pss_rss_anon(pid) {
            pss_kib += pss;
            rss_kib += rss;
            anon_kib += anon;
            processes += 1;
            let name = if pid == root {
                "app process".to_string()
            } else {
                process_name(pid)
            };
            *pss_by_name.entry(name).or_insert(0) += pss;
        }
    }
    drop(app);
    Ok(Sample {
        startup_ms,
        pss_kib,
        rss_kib,
        anon_kib,
        pss_by_name,
        processes,
        other_webkit,
    })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// `temper-bench --gui [--runs N]`.
pub fn run(runs: usize) -> anyhow::Result<()> {
    if runs == 0 {
        bail!("--gui needs --runs of at least 1");
    }
    let copies = tempfile::tempdir()?;
    let subjects = subjects(copies.path())?;
    let xvfb = start_xvfb()?;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "temper-bench --gui: {runs} run(s) of each app, alternating, after one warm-up run of each; Xvfb {} \
         ({SCREEN}), {cpus} CPU(s), 1-minute load average {} at the start",
        xvfb.display,
        loadavg()
    );
    for s in &subjects {
        let size = std::fs::metadata(&s.path).map_or(0, |m| m.len());
        println!(
            "- {}: {} ({:.1} MiB, run from a private copy)",
            s.name,
            s.origin.display(),
            size as f64 / (1024.0 * 1024.0)
        );
    }
    println!();

    for s in &subjects {
        let w = run_once(s, &xvfb.display).with_context(|| format!("warm-up of {}", s.name))?;
        eprintln!(
            "warm-up {}: {:.0} ms, PSS {:.1} MiB",
            s.name,
            w.startup_ms,
            mib(w.pss_kib)
        );
    }
    let mut samples: [Vec<Sample>; 2] = [Vec::new(), Vec::new()];
    for n in 0..runs {
        for (i, s) in subjects.iter().enumerate() {
            let r = run_once(s, &xvfb.display)
                .with_context(|| format!("run {} of {}", n + 1, s.name))?;
            let by_name = r
                .pss_by_name
                .iter()
                .map(|(name, kib)| format!("{name} {:.1}", mib(*kib)))
                .collect::<Vec<_>>()
                .join(", ");
            eprintln!(
                "run {} {}: {:.0} ms, PSS {:.1} MiB ({by_name}), RSS {:.1} MiB, anonymous {:.1} MiB, \
                 {} processes; {} other WebKit processes on the machine",
                n + 1,
                s.name,
                r.startup_ms,
                mib(r.pss_kib),
                mib(r.rss_kib),
                mib(r.anon_kib),
                r.processes,
                r.other_webkit
            );
            samples[i].push(r);
        }
    }

    let startup = |i: usize| samples[i].iter().map(|r| r.startup_ms).collect::<Vec<_>>();
    let pss = |i: usize| {
        samples[i]
            .iter()
            .map(|r| mib(r.pss_kib))
            .collect::<Vec<_>>()
    };
    let rss = |i: usize| {
        samples[i]
            .iter()
            .map(|r| mib(r.rss_kib))
            .collect::<Vec<_>>()
    };
    let anon = |i: usize| {
        samples[i]
            .iter()
            .map(|r| mib(r.anon_kib))
            .collect::<Vec<_>>()
    };
    let list = |v: &[f64], decimals: usize| {
        v.iter()
            .map(|x| format!("{x:.decimals$}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    println!(
        "| measure | empty Tauri 2 app: runs | median | min | temper-app: runs | median | min | ratio (median) | \
         ratio (min) | ratio (median of run pairs) |"
    );
    println!("|---|---|---:|---:|---|---:|---:|---:|---:|---:|");
    let row = |name: &str, unit: &str, a: Vec<f64>, b: Vec<f64>, decimals: usize| {
        let (ma, mb) = (median(a.clone()), median(b.clone()));
        // Run n of temper-app ran right after run n of the empty app: the median of those pairs' ratios follows
        // the machine's drift (load, other WebKit programs) less than the ratio of the medians.
        let pairs = median(a.iter().zip(&b).map(|(x, y)| y / x).collect());
        println!(
            "| {name} | {} | {ma:.decimals$} {unit} | {:.decimals$} {unit} | {} | {mb:.decimals$} {unit} | \
             {:.decimals$} {unit} | **{:.2}×** | {:.2}× | {pairs:.2}× |",
            list(&a, decimals),
            min(&a),
            list(&b, decimals),
            min(&b),
            mb / ma,
            min(&b) / min(&a)
        );
    };
    row(
        "start-up: spawn to page loaded",
        "ms",
        startup(0),
        startup(1),
        0,
    );
    row(
        "idle PSS, app + descendants (5 s after load)",
        "MiB",
        pss(0),
        pss(1),
        1,
    );
    row("idle RSS sum, same processes", "MiB", rss(0), rss(1), 1);
    row(
        "idle anonymous memory (heaps, JS, stacks), same processes",
        "MiB",
        anon(0),
        anon(1),
        1,
    );

    // Where the memory is: median PSS per process name.
    let mut names: Vec<&String> = samples
        .iter()
        .flatten()
        .flat_map(|r| r.pss_by_name.keys())
        .collect();
    names.sort();
    names.dedup();
    println!("\nIdle PSS by process (median over the runs; a name missing from a run counts 0):\n");
    println!("| process | empty Tauri 2 app | temper-app | ratio |");
    println!("|---|---:|---:|---:|");
    for name in names {
        let m = |i: usize| {
            median(
                samples[i]
                    .iter()
                    .map(|r| mib(r.pss_by_name.get(name).copied().unwrap_or(0)))
                    .collect(),
            )
        };
        let (a, b) = (m(0), m(1));
        let ratio = if a > 0.0 {
            format!("{:.2}×", b / a)
        } else {
            "—".into()
        };
        println!("| {name} | {a:.1} MiB | {b:.1} MiB | {ratio} |");
    }
    let procs = |i: usize| {
        samples[i]
            .iter()
            .map(|r| r.processes.to_string())
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let others = samples
        .iter()
        .flatten()
        .map(|r| r.other_webkit)
        .max()
        .unwrap_or(0);
    println!(
        "\nProcesses in the tree: empty app {}; temper-app {}. Up to {others} WebKit processes of other programs \
         ran on the machine while memory was read (they share library pages and lower PSS). 1-minute load \
         average {} at the end.",
        procs(0),
        procs(1),
        loadavg()
    );
    drop(xvfb);
    Ok(())
}
