//! Helpers of `zephyr_image.rs`: the real peers (imgtool, smpmgr from the test venv), images signed by
//! imgtool, following the device through reboots (boot events), and the SMP commands Temper's core does not
//! model yet, as [`Request`] types for its `SmpClient`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ciborium::Value;
use serde::Serialize;
use sha2::{Digest, Sha256};
use temper_core::proto::smp::client::SmpClient;
use temper_core::proto::smp::header::Op;
use temper_core::proto::smp::messages::{ImageState, ImageStateRead, Request};
use temper_core::transport::serial::SerialLink;

use crate::common::Sim;

/// A zephyr-sensor at [`BAUD`], off the USB bus unless `extra` names one.
pub fn spawn(dir: &Path, ip: &str, extra: &[&str]) -> Sim {
    let mut args = vec!["--baud", BAUD];
    if !extra.contains(&"--usb-bus") {
        args.push("--no-usb-bus");
    }
    args.extend_from_slice(extra);
    Sim::spawn_model("zephyr-sensor", dir, ip, &args)
}

/// A JSON string's text ("" for anything else).
pub fn str_of(v: &serde_json::Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// UART speed of these tests' devices: 8× the default, so 200 KiB uploads through smpmgr stay short.
pub const BAUD: &str = "921600";

/// The simulator's test keys (see data/README.md).
pub fn data(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(file)
}

/// A tool from the test venv (`scripts/deps.sh test`), or `$TEMPER_<NAME>`; fails, never skips, if missing.
pub fn venv_tool(name: &str) -> PathBuf {
    let var = format!("TEMPER_{}", name.to_uppercase());
    if let Some(p) = std::env::var_os(&var) {
        return p.into();
    }
    let path = PathBuf::from("/var/tmp/temper-venv/bin").join(name);
    assert!(
        path.exists(),
        "{name} not found: set {var} or run `bash scripts/deps.sh test` (creates /var/tmp/temper-venv with smpmgr 0.19 and imgtool 2.5)"
    );
    path
}

/// Runs a venv tool; panics with its output unless it succeeds.
pub fn run_tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(venv_tool(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name} ({e}): run `bash scripts/deps.sh test`"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{name} {args:?} failed: {text}");
    text
}

/// smpmgr on `port` (5 s timeout per request).
pub fn smpmgr(port: &str, args: &[&str]) -> String {
    let mut all = vec!["--port", port, "--timeout", "5"];
    all.extend_from_slice(args);
    run_tool("smpmgr", &all)
}

/// An image signed by `imgtool sign` with `key`: a `body_len`-byte body, version `version`. Returns the
/// file and its SHA256 TLV, computed here independently: SHA-256 of header + body (no protected TLVs).
pub fn signed_image(dir: &Path, key: &Path, version: &str, body_len: usize) -> (PathBuf, [u8; 32]) {
    let body = dir.join(format!("app-{version}.bin"));
    let bytes: Vec<u8> = (0..body_len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0])
        .collect();
    std::fs::write(&body, bytes).unwrap();
    let out = dir.join(format!("app-{version}.signed.bin"));
    run_tool(
        "imgtool",
        &[
            "sign",
            "--key",
            key.to_str().unwrap(),
            "--version",
            version,
            "--header-size",
            "0x200",
            "--pad-header",
            "--align",
            "4",
            "--slot-size",
            "0x60000",
            body.to_str().unwrap(),
            out.to_str().unwrap(),
        ],
    );
    let file = std::fs::read(&out).unwrap();
    let img_size = u32::from_le_bytes(file[12..16].try_into().unwrap()) as usize;
    let hash: [u8; 32] = Sha256::digest(&file[..0x200 + img_size]).into();
    assert!(
        file.windows(32).any(|w| w == hash),
        "imgtool wrote the hash of header + body as the SHA256 TLV"
    );
    (out, hash)
}

/// The highest event sequence number so far.
pub fn last_seq(sim: &Sim) -> u64 {
    sim.events()
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .max()
        .unwrap_or(0)
}

/// Waits (up to 20 s) for a boot event after `after_seq`: how a test finds the device after a reset.
pub fn next_boot(sim: &Sim, after_seq: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(boot) = sim
            .events()
            .into_iter()
            .find(|e| e["event"] == "boot" && e["seq"].as_u64() > Some(after_seq))
        {
            return boot;
        }
        assert!(
            Instant::now() < deadline,
            "no boot event after seq {after_seq}: {:?}",
            sim.events()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Temper's SMP client on `port`.
pub fn client(port: &str) -> SmpClient<SerialLink> {
    SmpClient::new(SerialLink::open(port, 921_600).expect("open the device's port"))
}

/// Image state read with Temper's client.
pub async fn state(port: &str) -> ImageState {
    client(port)
        .request(&ImageStateRead {})
        .await
        .expect("image state read")
}

macro_rules! raw_request {
    ($(#[$doc:meta])* $name:ident, $group:expr, $id:expr, $op:expr, $resp:ty) => {
        $(#[$doc])*
        #[derive(Serialize)]
        #[serde(transparent)]
        pub struct $name(pub Value);

        impl Request for $name {
            const GROUP: u16 = $group;
            const ID: u8 = $id;
            const OP: Op = $op;
            type Response = $resp;
        }
    };
}

raw_request!(
    /// Image state write (1/0): `{"hash"?, "confirm"?}`.
    StateWrite, 1, 0, Op::Write, ImageState
);
raw_request!(
    /// OS reset (0/5).
    Reset, 0, 5, Op::Write, Value
);
raw_request!(
    /// Image erase (1/5): `{"slot"?}`.
    Erase, 1, 5, Op::Write, Value
);
raw_request!(
    /// Bootloader info (0/8): `{"query"?}`.
    BootloaderInfo, 0, 8, Op::Read, Value
);

/// A CBOR map from text keys.
pub fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::Text(k.into()), v))
            .collect(),
    )
}

/// `images[]` entry of `slot`, if listed.
pub fn slot(
    state: &ImageState,
    slot: u32,
) -> Option<&temper_core::proto::smp::messages::ImageSlot> {
    state.images.iter().find(|s| s.slot == slot)
}
