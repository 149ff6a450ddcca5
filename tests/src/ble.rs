//! A simulated BLE world (`temper-devsim ble`) for end-to-end tests: started with the models asked for,
//! stopped (SIGTERM) when dropped. Point a child process at it with [`BleWorld::env`].

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A running `temper-devsim ble`.
pub struct BleWorld {
    child: Child,
    /// The JSON line it printed (bus, adapters, devices).
    pub info: Value,
}

impl BleWorld {
    /// Starts `temper-devsim ble --models MODELS --dir DIR` with `extra` arguments.
    pub fn start(models: &str, dir: &Path, extra: &[&str]) -> BleWorld {
        let mut child = Command::new(crate::binary("temper-devsim"))
            .args(["ble", "--models", models, "--dir"])
            .arg(dir)
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
        BleWorld { child, info }
    }

    /// The bus address, for `DBUS_SYSTEM_BUS_ADDRESS`.
    pub fn bus(&self) -> &str {
        self.info["bus"].as_str().unwrap()
    }

    /// The entry of the first device of `model` in the world's JSON line.
    pub fn device(&self, model: &str) -> &Value {
        self.info["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["model"] == model)
            .unwrap_or_else(|| panic!("no {model} in {}", self.info))
    }

    /// The address of the first device of `model`.
    pub fn address(&self, model: &str) -> String {
        self.device(model)["address"].as_str().unwrap().to_string()
    }

    /// `cmd` pointed at this world's system bus.
    pub fn env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("DBUS_SYSTEM_BUS_ADDRESS", self.bus())
    }

    /// `bluetoothctl ARGS` against this world (20 s at most); its stdout.
    pub fn bluetoothctl(&self, args: &[&str]) -> String {
        let out = Command::new("timeout")
            .args(["20", "bluetoothctl"])
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", self.bus())
            .stdin(Stdio::null())
            .output()
            .expect("bluetoothctl (apt-get install bluez)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for BleWorld {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
