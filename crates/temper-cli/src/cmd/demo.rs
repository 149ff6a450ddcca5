//! `temper demo`: plugs in a simulated device (temper-devsim on a real pseudo-terminal; an IP camera with a login
//! console by default, or a Zephyr sensor driven over MCUmgr/SMP) and commissions it, so a newcomer sees Temper's
//! real job without a device.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use clap::Args;
use rand::Rng;

use crate::{exit, Failure, Globals};

/// Options of `temper demo`.
#[derive(Args)]
pub struct Cmd {
    /// Where the demo keeps its inventory and the simulator's state (default: a new temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Which simulated device to plug in.
    #[arg(long, value_enum, default_value_t = DemoModel::Ipcam)]
    model: DemoModel,
}

/// The simulated devices the demo offers.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoModel {
    /// Simvision SV-IPC2100 IP camera: a Linux login console.
    Ipcam,
    /// Nordsense NS-ENV1 sensor: Zephyr with MCUmgr (SMP) on its console, no login.
    ZephyrSensor,
    /// PlugMini PM-1 smart plug over Bluetooth LE (a simulated BlueZ on a private D-Bus): paired with the
    /// passkey on its label, then commissioned over SMP.
    BlePlug,
}

impl DemoModel {
    fn id(self) -> &'static str {
        match self {
            DemoModel::Ipcam => "ipcam",
            DemoModel::ZephyrSensor => "zephyr-sensor",
            DemoModel::BlePlug => "ble-plug",
        }
    }

    fn described(self) -> &'static str {
        match self {
            DemoModel::Ipcam => "Simvision SV-IPC2100 camera",
            DemoModel::ZephyrSensor => "Nordsense NS-ENV1 sensor (Zephyr, MCUmgr)",
            DemoModel::BlePlug => "PlugMini PM-1 smart plug (Bluetooth LE)",
        }
    }
}

/// Stops the simulator when the demo ends, however it ends: SIGTERM (it unplugs itself from the bus), then
/// SIGKILL if it has not exited within two seconds.
struct Simulator(Child);

impl Drop for Simulator {
    fn drop(&mut self) {
        use nix::sys::signal::{kill, Signal};
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        if kill(pid, Signal::SIGTERM).is_ok() {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn devsim_path() -> PathBuf {
    let here = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from));
    match here.map(|d| d.join("temper-devsim")) {
        Some(path) if path.exists() => path,
        _ => PathBuf::from("temper-devsim"),
    }
}

impl Cmd {
    /// Runs the demo.
    pub async fn run(self, globals: &Globals) -> Result<u8, Failure> {
        let dir = match self.dir {
            Some(dir) => dir,
            None => std::env::temp_dir().join(format!("temper-demo-{}", std::process::id())),
        };
        let state = dir.join(self.model.id());
        std::fs::create_dir_all(&state).map_err(|e| {
            Failure::new(exit::USAGE, format!("cannot create {}: {e}", dir.display()))
        })?;
        let (simulator, target) = if self.model == DemoModel::BlePlug {
            start_ble_world(&dir)?
        } else {
            start_serial(&dir, &state, self.model)?
        };

        let inventory = globals
            .inventory
            .clone()
            .unwrap_or_else(|| dir.join("inventory.db"));
        let passphrase: String = (0..4)
            .map(|_| {
                (0..6)
                    .map(|_| char::from(b'a' + rand::thread_rng().gen_range(0..26)))
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("-");
        let passphrase_file = dir.join("passphrase");
        write_private(&passphrase_file, &passphrase)?;
        let demo_globals = Globals {
            inventory: Some(inventory.clone()),
            passphrase_file: Some(passphrase_file.clone()),
            key_file: None,
            keyring: false,
            recovery_key: false,
            actor: globals.actor.clone(),
            profiles: globals.profiles.clone(),
            json: globals.json,
        };
        if !temper_core::inventory::SqlCipherInventory::exists(&inventory) {
            super::keyops::init(&demo_globals)?;
        }
        let commission = match target {
            Target::Port(port) => super::commission::Cmd::for_demo(port, dir.join("usb-bus")),
            Target::Ble { address, passkey } => {
                super::commission::Cmd::for_demo_ble(address, passkey)
            }
        };
        let code = commission.run(&demo_globals).await;
        drop(simulator);
        eprintln!(
            "\nThe demo inventory is {} (passphrase in {}).\nTry: temper --inventory {} --passphrase-file {} inventory list",
            inventory.display(),
            passphrase_file.display(),
            inventory.display(),
            passphrase_file.display()
        );
        code
    }
}

/// What the demo commissions.
enum Target {
    /// A serial port.
    Port(String),
    /// A BLE address, with the passkey from the device's label.
    Ble { address: String, passkey: String },
}

/// Starts `temper-devsim` with `args` and reads its JSON line.
fn start_devsim(args: &[&std::ffi::OsStr]) -> Result<(Simulator, serde_json::Value), Failure> {
    let mut child = Command::new(devsim_path())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Failure::new(exit::USAGE, format!("cannot start temper-devsim (build it with `cargo build -p temper-devsim`): {e}")))?;
    let stdout = child.stdout.take();
    let simulator = Simulator(child);
    let mut line = String::new();
    if let Some(stdout) = stdout {
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| Failure::new(exit::FAILED, format!("the simulator said nothing: {e}")))?;
    }
    let announce = serde_json::from_str(&line).map_err(|e| {
        Failure::new(
            exit::FAILED,
            format!("the simulator's first line is not JSON ({e}): {line:?}"),
        )
    })?;
    Ok((simulator, announce))
}

/// A simulated device on a PTY, announced on the demo's private USB bus.
fn start_serial(
    dir: &std::path::Path,
    state: &std::path::Path,
    model: DemoModel,
) -> Result<(Simulator, Target), Failure> {
    let ip = format!(
        "127.0.{}.{}",
        rand::thread_rng().gen_range(100..200),
        rand::thread_rng().gen_range(2..250)
    );
    let bus = dir.join("usb-bus");
    let args: Vec<&std::ffi::OsStr> = vec![
        "run".as_ref(),
        "--model".as_ref(),
        model.id().as_ref(),
        "--state".as_ref(),
        state.as_os_str(),
        "--ip".as_ref(),
        ip.as_ref(),
        // A private bus: the demo's device must not show up in the user's `temper devices`.
        "--usb-bus".as_ref(),
        bus.as_os_str(),
    ];
    let (simulator, announce) = start_devsim(&args)?;
    let port = announce["port"].as_str().unwrap_or_default().to_string();
    eprintln!(
        "Plugged in a simulated {} on {port} (network services on {ip}).\n",
        model.described()
    );
    Ok((simulator, Target::Port(port)))
}

/// A simulated BLE world with one plug; this process talks to its BlueZ from now on.
fn start_ble_world(dir: &std::path::Path) -> Result<(Simulator, Target), Failure> {
    let world = dir.join("ble-world");
    let args: Vec<&std::ffi::OsStr> = vec![
        "ble".as_ref(),
        "--models".as_ref(),
        "ble-plug".as_ref(),
        "--dir".as_ref(),
        world.as_os_str(),
    ];
    let (simulator, announce) = start_devsim(&args)?;
    let plug = &announce["devices"][0];
    let field = |name: &str| plug[name].as_str().unwrap_or_default().to_string();
    // Before any D-Bus connection of this process: libdbus and zbus read it when they first connect.
    std::env::set_var(
        "DBUS_SYSTEM_BUS_ADDRESS",
        announce["bus"].as_str().unwrap_or_default(),
    );
    eprintln!(
        "A simulated {} is advertising as {} ({}); the passkey on its label is {} (network services on {}).\n",
        DemoModel::BlePlug.described(),
        field("name"),
        field("address"),
        field("passkey"),
        field("ip"),
    );
    Ok((
        simulator,
        Target::Ble {
            address: field("address"),
            passkey: field("passkey"),
        },
    ))
}

fn write_private(path: &PathBuf, text: &str) -> Result<(), Failure> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Failure::new(exit::USAGE, format!("cannot write {}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Failure::new(exit::USAGE, format!("cannot write {}: {e}", path.display())))
}
