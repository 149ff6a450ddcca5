//! A private D-Bus *system* bus: `dbus-daemon` with a system-type configuration of its own, a unix socket in a
//! directory of ours, EXTERNAL authentication and an allow-all policy. BlueZ clients (bluetoothctl, bleak,
//! btleplug through libdbus) reach it with `DBUS_SYSTEM_BUS_ADDRESS` set to [`PrivateBus::address`].

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::SimError;

/// A running private system bus; the daemon is killed on drop.
pub struct PrivateBus {
    child: Child,
    address: String,
    config: PathBuf,
}

impl PrivateBus {
    /// Starts `dbus-daemon` with its configuration and socket in `dir`; returns once it prints its address.
    pub fn start(dir: &Path) -> Result<PrivateBus, SimError> {
        std::fs::create_dir_all(dir).map_err(|e| SimError::io(dir.display().to_string(), e))?;
        let socket = dir.join("system_bus_socket");
        let _ = std::fs::remove_file(&socket);
        let config = dir.join("system-bus.conf");
        std::fs::write(&config, config_text(&socket))
            .map_err(|e| SimError::io(config.display().to_string(), e))?;
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                SimError::Setup(format!(
                    "cannot start dbus-daemon (apt-get install dbus): {e}"
                ))
            })?;
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| SimError::Setup(format!("dbus-daemon printed no address: {e}")))?;
        let address = line.trim().to_string();
        if !address.starts_with("unix:") {
            let _ = child.kill();
            return Err(SimError::Setup(format!(
                "dbus-daemon did not start: it printed {line:?}"
            )));
        }
        Ok(PrivateBus {
            child,
            address,
            config,
        })
    }

    /// The bus address, for `DBUS_SYSTEM_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The configuration file the daemon runs with.
    pub fn config(&self) -> &Path {
        &self.config
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A system-type bus on `socket`: anyone may own any name and send anything (a test bus, not a real one).
fn config_text(socket: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"#,
        socket.display()
    )
}
