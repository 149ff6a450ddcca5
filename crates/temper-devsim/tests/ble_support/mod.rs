//! Helpers of the BLE world tests: a running `temper-devsim ble`, bluetoothctl and the Python peers (bleak,
//! dbus-fast) of the test venv, all reaching the simulated `org.bluez` through `DBUS_SYSTEM_BUS_ADDRESS`.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// A running `temper-devsim ble`; SIGTERM on drop.
pub struct World {
    child: Child,
    pub info: Value,
}

impl World {
    /// `temper-devsim ble --models MODELS` in a directory of its own.
    pub fn start(models: &str) -> World {
        World::start_with(models, &[])
    }

    /// `temper-devsim ble --models MODELS EXTRA...` (e.g. `--dir`, `--adapters 2`).
    pub fn start_with(models: &str, extra: &[&str]) -> World {
        let mut child = Command::new(env!("CARGO_BIN_EXE_temper-devsim"))
            .args(["ble", "--models", models])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start temper-devsim ble");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let info: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        World { child, info }
    }

    /// Stops the world (SIGTERM) and waits for it.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }

    pub fn bus(&self) -> &str {
        self.info["bus"].as_str().unwrap()
    }

    /// The `devices[]` entry of `model`.
    pub fn entry(&self, model: &str) -> &Value {
        self.info["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["model"] == model)
            .unwrap_or_else(|| panic!("no {model} in {}", self.info))
    }

    /// (address, name) of `model`.
    pub fn device(&self, model: &str) -> (String, String) {
        let d = self.entry(model);
        (
            d["address"].as_str().unwrap().to_string(),
            d["name"].as_str().unwrap().to_string(),
        )
    }

    /// `bluetoothctl ARGS` against this world; its output without colour codes.
    pub fn bluetoothctl(&self, args: &[&str]) -> String {
        let out = Command::new("timeout")
            .args(["20", "bluetoothctl"])
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", self.bus())
            .stdin(Stdio::null())
            .output()
            .expect("bluetoothctl (apt-get install bluez)");
        plain(&out)
    }

    /// `python -c SCRIPT ARGS` of the venv against this world; its output, asserting success.
    pub fn python(&self, script: &str, args: &[&str]) -> Output {
        let out = Command::new("timeout")
            .args(["40", &venv_python(), "-c", script])
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", self.bus())
            .output()
            .expect("python");
        assert!(out.status.success(), "{}", plain(&out));
        out
    }

    /// `tests/ble_pairing/peer.py ARGS` (bleak and a dbus-fast agent) against this world: its JSON line.
    pub fn peer(&self, args: &[&str]) -> Value {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ble_pairing/peer.py");
        let out = Command::new("timeout")
            .args(["40", &venv_python()])
            .arg(script)
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", self.bus())
            .output()
            .expect("python");
        assert!(out.status.success(), "peer.py {args:?}: {}", plain(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("peer.py {args:?}: {e}: {}", plain(&out)))
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// stdout and stderr with ANSI escape sequences and other control characters (readline's \x01/\x02 markers,
/// carriage returns) removed.
pub fn plain(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut clean = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else if !c.is_control() || c == '\n' {
            clean.push(c);
        }
    }
    clean
}

/// The venv's python (bleak, dbus-fast, cbor2); the tests fail, never skip, without it.
pub fn venv_python() -> String {
    let venv = "/var/tmp/temper-venv/bin/python";
    assert!(
        Path::new(venv).exists(),
        "{venv} missing: run `bash scripts/deps.sh test`"
    );
    venv.to_string()
}
