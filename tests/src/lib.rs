//! Helpers shared by the end-to-end tests: start simulators, run the `temper` binary, read the simulator's
//! event log and the inventory.
//!
//! The binaries are the ones `cargo build --workspace --bins` put beside this test executable's `deps/` folder.

pub mod ble;
pub mod gui;

pub use ble::BleWorld;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use temper_core::inventory::{CredentialRecord, Inventory, SqlCipherInventory};
use temper_core::Secret;

/// The passphrase the tests use for their inventories (strong enough for the weak-passphrase check).
pub const PASSPHRASE: &str = "correct-horse-battery-staple-temper-e2e";

/// Path of a workspace binary built next to the test executable.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} missing: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// The shipped profiles directory.
pub fn profiles_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../provisioning-profiles")
}

/// A running simulated device (killed on drop).
pub struct Sim {
    child: Child,
    /// The PTY path the simulator announced.
    pub port: String,
    /// The serial it announced.
    pub serial: String,
    /// Its loopback address.
    pub ip: String,
    /// Its state directory.
    pub state: PathBuf,
    /// The extra simulator arguments it was started with (kept across power cycles: same unit).
    extra: Vec<String>,
}

impl Sim {
    /// Starts `temper-devsim run --model ipcam` on `ip` with state in `state`.
    pub fn start(state: &Path, ip: &str) -> Sim {
        Self::start_with(state, ip, &[])
    }

    /// Same, with extra simulator arguments (`--model M` among them replaces the default `ipcam`).
    pub fn start_with(state: &Path, ip: &str, extra: &[&str]) -> Sim {
        std::fs::create_dir_all(state).expect("state dir");
        let model: &[&str] = if extra.contains(&"--model") {
            &[]
        } else {
            &["--model", "ipcam"]
        };
        // Only simulators that a test puts on a bus announce themselves: the others would leave files on the
        // user's default bus when the test kills them.
        let bus: &[&str] = if extra.contains(&"--usb-bus") {
            &[]
        } else {
            &["--no-usb-bus"]
        };
        let mut child = Command::new(binary("temper-devsim"))
            .arg("run")
            .args(model)
            .args(bus)
            .arg("--state")
            .arg(state)
            .args(["--ip", ip])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start temper-devsim");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("announce line");
        let announce: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad announce {line:?}: {e}"));
        Sim {
            child,
            port: announce["port"].as_str().expect("port").to_string(),
            serial: announce["serial"].as_str().expect("serial").to_string(),
            ip: ip.to_string(),
            state: state.to_path_buf(),
            extra: extra.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// Power-cycles the simulator: SIGKILL, then start again on the same state (a new PTY path).
    pub fn power_cycle(mut self) -> Sim {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (state, ip, extra) = (self.state.clone(), self.ip.clone(), self.extra.clone());
        drop(self);
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        Sim::start_with(&state, &ip, &extra)
    }

    /// The simulator's event log.
    pub fn events(&self) -> Vec<Value> {
        read_events(&self.state)
    }

    /// Sends `signal` (SIGTERM: a clean unplug; SIGKILL: a power cut) and waits for the process to end.
    pub fn stop_with(mut self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("signal the simulator");
        let _ = self.child.wait();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a simulator's `events.jsonl`.
pub fn read_events(state: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(state.join("events.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A `temper` command against the inventory `inventory`, with the test passphrase.
pub fn temper(inventory: &Path) -> Command {
    let mut cmd = Command::new(binary("temper"));
    cmd.env("TEMPER_INVENTORY", inventory)
        .env("TEMPER_INVENTORY_PASSPHRASE", PASSPHRASE)
        .env("TEMPER_PROFILES", profiles_dir())
        .env_remove("TEMPER_FAULT_STOP_AT")
        .stdin(Stdio::null());
    cmd
}

/// Creates the inventory with `temper inventory init` (test passphrase) unless it exists.
pub fn ensure_inventory(inventory: &Path) {
    if inventory.exists() {
        return;
    }
    let output = temper(inventory)
        .args(["inventory", "init"])
        .output()
        .expect("run temper");
    assert!(
        output.status.success(),
        "inventory init failed: {}",
        describe(&output)
    );
}

/// Runs `temper commission --port PORT --json` to its end (creating the inventory first if needed).
pub fn commission(inventory: &Path, port: &str) -> Output {
    ensure_inventory(inventory);
    temper(inventory)
        .args(["--json", "commission", "--port", port])
        .output()
        .expect("run temper")
}

/// Text of an Output for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The JSON lines a `--json` run printed.
pub fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Opens the inventory as a second reader (the same code path as the CLI).
pub fn open_inventory(path: &Path) -> SqlCipherInventory {
    SqlCipherInventory::open(path, &Secret::new(PASSPHRASE)).expect("open inventory")
}

/// The credential record of one store.
pub fn credential(path: &Path, serial: &str, store: &str) -> CredentialRecord {
    open_inventory(path)
        .credentials(serial)
        .expect("credentials")
        .into_iter()
        .find(|c| c.store == store)
        .unwrap_or_else(|| panic!("no credential {store} for {serial}"))
}

/// SHA-256 hex of a password, as the simulator logs attempted passwords.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Waits until `f` is true or `timeout` passes; returns whether it became true.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// The loopback address of test `n`: every end-to-end test uses its own `n`, so tests can run in parallel.
pub fn test_ip(n: u8) -> String {
    format!("127.0.91.{n}")
}

/// Asserts that no file in `dir` holds any needle in any encoding `leak_scan` knows.
pub fn assert_no_plaintext(dir: &Path, needles: &[String]) {
    let mut scanned = 0;
    for entry in std::fs::read_dir(dir).expect("inventory dir") {
        let path = entry.expect("entry").path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        scanned += 1;
        for needle in needles {
            if let Some(encoding) = temper_core::inventory::leak_scan::find(&bytes, needle) {
                panic!(
                    "{} contains a secret or identifier as {encoding}",
                    path.display()
                );
            }
        }
    }
    assert!(scanned > 0, "nothing scanned in {}", dir.display());
}

/// True when a simulator `auth` event of a Digest service (HTTP, RTSP) was made with `password`: recomputes the
/// Digest response (MD5, with or without qop=auth) from the logged challenge fields.
pub fn digest_used(event: &Value, user: &str, password: &str) -> bool {
    use md5::{Digest, Md5};
    let md5 = |s: String| hex::encode(Md5::digest(s.as_bytes()));
    let d = &event["digest"];
    let f = |k: &str| d[k].as_str().unwrap_or("").to_string();
    let ha1 = md5(format!("{user}:{}:{password}", f("realm")));
    let ha2 = md5(format!("{}:{}", f("method"), f("uri")));
    let expected = if f("qop").is_empty() {
        md5(format!("{ha1}:{}:{ha2}", f("nonce")))
    } else {
        md5(format!(
            "{ha1}:{}:{}:{}:{}:{ha2}",
            f("nonce"),
            f("nc"),
            f("cnonce"),
            f("qop")
        ))
    };
    event["user"] == user && f("response").eq_ignore_ascii_case(&expected)
}

/// Logs in on the device's console with `user`/`password` (then logs out); true when the device let it in.
pub fn console_accepts(port: &str, user: &str, password: &str) -> bool {
    use temper_core::proto::console::{ConsoleSession, LoginOutcome};
    use temper_core::transport::serial::SerialLink;
    let profile = temper_core::profile::Profile::load(&profiles_dir().join("ipcam.toml"))
        .expect("ipcam profile");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let link = SerialLink::open(port, profile.baud).expect("open the console");
        let console = profile.console.clone().expect("a console profile");
        let mut session = ConsoleSession::new(Box::new(link), console);
        session.wake().await.expect("wake the console");
        session.logout().await.expect("log out");
        let outcome = session
            .login(user, &Secret::new(password))
            .await
            .expect("login answer");
        if outcome == LoginOutcome::Accepted {
            session.logout().await.expect("log out again");
        }
        outcome == LoginOutcome::Accepted
    })
}

/// Tries an RTSP Digest DESCRIBE of /stream1 with `user`/`password`; true when the device answered 200.
pub fn rtsp_accepts(ip: &str, user: &str, password: &str) -> bool {
    use temper_core::checks::{rtsp_digest_login, AuthOutcome};
    let addr = format!("{ip}:554").parse().expect("address");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(rtsp_digest_login(
        addr,
        "/stream1",
        user,
        &Secret::new(password),
    )) == Ok(AuthOutcome::Accepted)
}

/// Spawns `cmd` (a `temper` run with `TEMPER_FAULT_STOP_AT=key` set) and returns once the process has stopped
/// itself at that point; panics, killing it, if it never gets there.
pub fn spawn_until_stopped(cmd: &mut Command, key: &str) -> std::process::Child {
    let mut child = cmd
        .env("TEMPER_FAULT_STOP_AT", key)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn temper");
    let pid = child.id();
    let stopped = wait_until(Duration::from_secs(120), || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('T')
            })
            .unwrap_or(false)
    });
    if !stopped {
        let _ = child.kill();
        panic!("temper never reached {key} (exit {:?})", child.try_wait());
    }
    child
}

/// The `report` object of a `--json` run's final `{"event":"report"}` line (`Null` when there is none).
pub fn report_of(output: &Output) -> Value {
    json_lines(output)
        .into_iter()
        .find(|l| l["event"] == "report")
        .map_or(Value::Null, |l| l["report"].clone())
}

/// The message of a `--json` run's `{"event":"error"}` line (empty when there is none).
pub fn error_message(output: &Output) -> String {
    json_lines(output)
        .into_iter()
        .find(|l| l["event"] == "error")
        .and_then(|l| l["message"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Runs `future` to its end on a fresh single-threaded runtime (for sync tests that call async checks).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// The inventory's certificates of one device, oldest first.
pub fn device_certs(path: &Path, serial: &str) -> Vec<temper_core::inventory::DeviceCertRecord> {
    open_inventory(path)
        .device_certs(serial)
        .expect("device certificates")
}

/// The station CA certificate (PEM) the inventory holds.
pub fn station_ca_pem(path: &Path) -> String {
    open_inventory(path)
        .station_ca()
        .expect("station CA")
        .expect("a station CA in the inventory")
        .cert_pem
}

/// SHA-256 fingerprint (lower-case hex) of the leaf `ip:443` serves, read without trusting it.
pub fn served_fingerprint(ip: &str) -> String {
    let addr = format!("{ip}:443").parse().expect("address");
    block_on(temper_core::checks::served_certificate(addr))
        .expect("read the served certificate")
        .fingerprint_sha256
}

/// Runs `openssl ARGS` with `input` on stdin; its output whatever the exit status.
pub fn openssl_with(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl must be installed (Debian package openssl)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write to openssl");
    child.wait_with_output().expect("openssl output")
}

/// `openssl ARGS` with `input` on stdin, which must succeed; its stdout.
pub fn openssl_ok(args: &[&str], input: &[u8]) -> Vec<u8> {
    let output = openssl_with(args, input);
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        describe(&output)
    );
    output.stdout
}

/// The HTTP status curl (a real Digest client) gets for `url` with Digest credentials; `cacert` verifies an
/// https URL.
pub fn curl_digest_at(url: &str, cacert: Option<&Path>, user: &str, password: &str) -> String {
    let mut cmd = Command::new("curl");
    if let Some(ca) = cacert {
        cmd.arg("--cacert").arg(ca);
    }
    let out = cmd
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
        ])
        .args(["--digest", "-u"])
        .arg(format!("{user}:{password}"))
        .arg(url)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Whether a TCP connection to `ip:port` succeeds within half a second.
pub fn tcp_open(ip: &str, port: u16) -> bool {
    let addr: std::net::SocketAddr = format!("{ip}:{port}").parse().expect("an address");
    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

/// Bytes after the body: the TLV info header and one SHA-256 TLV.
const TLV_AREA: usize = 4 + 4 + 32;

/// A `len`-byte MCUboot image: a 32-byte header (magic, version 1.2.3), a body from `seed` and a TLV area
/// with the SHA-256 hash TLV over header and body (unsigned: slot state reports the hash, only a boot would
/// check a signature).
pub fn mcuboot_image(len: usize, seed: u64) -> Vec<u8> {
    let body_end = len - TLV_AREA;
    let mut img = Vec::with_capacity(len);
    img.extend_from_slice(&0x96f3_b83d_u32.to_le_bytes());
    img.extend_from_slice(&0u32.to_le_bytes()); // load address
    img.extend_from_slice(&32u16.to_le_bytes()); // header size
    img.extend_from_slice(&0u16.to_le_bytes()); // protected TLV size
    img.extend_from_slice(&((body_end - 32) as u32).to_le_bytes());
    img.extend_from_slice(&0u32.to_le_bytes()); // flags
    img.extend_from_slice(&[1, 2, 3, 0, 0, 0, 0, 0]); // 1.2.3 build 0
    img.extend_from_slice(&0u32.to_le_bytes());
    let mut x = seed | 1;
    while img.len() < body_end {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        img.push(x as u8);
    }
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(&img)
    };
    img.extend_from_slice(&0x6907u16.to_le_bytes()); // TLV info magic
    img.extend_from_slice(&(TLV_AREA as u16).to_le_bytes());
    img.extend_from_slice(&0x10u16.to_le_bytes()); // IMAGE_TLV_SHA256
    img.extend_from_slice(&32u16.to_le_bytes());
    img.extend_from_slice(&digest);
    img
}

/// The image hash the device reports for `img` (its SHA-256 TLV, hex).
pub fn image_hash(img: &[u8]) -> String {
    hex::encode(&img[img.len() - 32..])
}
