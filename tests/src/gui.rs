//! Driving the built desktop app in a real WebKit window: a private Xvfb display, `tauri-driver` in front of
//! Debian's WebKitWebDriver, and a WebDriver client (fantoccini). Each [`Gui`] has its own display, ports,
//! data directory and simulated USB bus, so tests run in parallel; everything stops when it is dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// A child process killed (with its process group) on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_group(cmd: &mut Command) -> Guard {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    Guard(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}")),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free X display number (no lock file, no socket).
fn free_display() -> u32 {
    for _ in 0..200 {
        let n = 100 + rand_u32() % 800;
        let taken = Path::new(&format!("/tmp/.X{n}-lock")).exists()
            || Path::new(&format!("/tmp/.X11-unix/X{n}")).exists();
        if !taken {
            return n;
        }
    }
    panic!("no free X display number");
}

fn rand_u32() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    nanos ^ (std::process::id() << 7)
}

/// How to start the app.
#[derive(Default)]
pub struct GuiOptions {
    /// Extra arguments for the app (e.g. `--no-simulator`, `--no-ble`).
    pub args: Vec<String>,
    /// The D-Bus system bus the app looks for Bluetooth on (`DBUS_SYSTEM_BUS_ADDRESS`), e.g.
    /// [`crate::BleWorld::bus`]. `None`: a bus address where nothing answers, so the app never sees the
    /// machine's own Bluetooth and reports it as unavailable.
    pub ble_bus: Option<String>,
    /// The provisioning profiles (`TEMPER_PROFILES`); `None`: the shipped ones.
    pub profiles: Option<PathBuf>,
}

/// What `DBUS_SYSTEM_BUS_ADDRESS` is for an app started without a simulated BLE world.
pub const NO_BLUETOOTH_BUS: &str = "unix:path=/nonexistent/temper-gui-test/system_bus_socket";

/// A running app under WebDriver.
pub struct Gui {
    /// The WebDriver session.
    pub client: Client,
    /// The app's data directory (XDG_DATA_HOME; the inventory is in `temper/`).
    pub data: PathBuf,
    /// The simulated USB bus the app watches.
    pub bus: PathBuf,
    /// Where the app saves reports.
    pub reports: PathBuf,
    /// Where screenshots go.
    pub shots: PathBuf,
    _dir: tempfile::TempDir,
    _driver: Guard,
    _xvfb: Guard,
}

/// Where GUI tests write screenshots: `$TEMPER_TEST_OUTPUT` or `target/gui-screenshots`.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("TEMPER_TEST_OUTPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().unwrap();
            exe.ancestors().nth(3).unwrap().join("gui-screenshots")
        })
}

impl Gui {
    /// Starts Xvfb, tauri-driver and the app (`temper-app` next to the test binaries).
    pub async fn start(options: GuiOptions) -> Gui {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let bus = dir.path().join("bus");
        let reports = dir.path().join("reports");
        std::fs::create_dir_all(&bus).unwrap();
        let display = free_display();
        let xvfb = spawn_group(
            Command::new("Xvfb")
                .arg(format!(":{display}"))
                .args(["-screen", "0", "1280x800x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        assert!(
            crate::wait_until(Duration::from_secs(10), || Path::new(&format!(
                "/tmp/.X11-unix/X{display}"
            ))
            .exists()),
            "Xvfb :{display} did not start (install it: apt-get install xvfb)"
        );
        let port = free_port();
        let native_port = free_port();
        let driver_bin = which("tauri-driver");
        let driver = spawn_group(
            Command::new(driver_bin)
                .args([
                    "--port",
                    &port.to_string(),
                    "--native-port",
                    &native_port.to_string(),
                ])
                .env("DISPLAY", format!(":{display}"))
                .env("XDG_DATA_HOME", &data)
                .env("HOME", dir.path())
                .env("TEMPER_SIM_BUS", &bus)
                .env(
                    "TEMPER_PROFILES",
                    options.profiles.clone().unwrap_or_else(crate::profiles_dir),
                )
                .env("TEMPER_DEVSIM", crate::binary("temper-devsim"))
                .env("TEMPER_REPORTS", &reports)
                .env(
                    "DBUS_SYSTEM_BUS_ADDRESS",
                    options.ble_bus.as_deref().unwrap_or(NO_BLUETOOTH_BUS),
                )
                .env("NO_AT_BRIDGE", "1")
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert(
            "tauri:options".into(),
            json!({ "application": crate::binary("temper-app"), "args": options.args }),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session at {url}: {e}"),
            }
        };
        let gui = Gui {
            client,
            data,
            bus,
            reports,
            shots: screenshot_dir(),
            _dir: dir,
            _driver: driver,
            _xvfb: xvfb,
        };
        gui.wait_js(
            "return document.body && document.body.dataset.ready === 'true'",
            Duration::from_secs(30),
        )
        .await;
        gui
    }

    /// Waits until `script` (a function body returning a truthy value) is truthy; panics with `what` if not.
    pub async fn wait_js(&self, script: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self
                .client
                .execute(script, vec![])
                .await
                .unwrap_or(Value::Null);
            if !(value.is_null() || value == json!(false) || value == json!("")) {
                return value;
            }
            if Instant::now() > deadline {
                let body = self
                    .client
                    .execute("return document.body.innerText", vec![])
                    .await
                    .unwrap_or_default();
                panic!(
                    "timed out after {timeout:?} waiting for `{script}`; the window shows:\n{}",
                    body.as_str().unwrap_or("")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for an element matching `css` and returns how long it took.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Duration {
        let start = Instant::now();
        let script = format!("return document.querySelector({}) !== null", json!(css));
        self.wait_js(&script, timeout).await;
        start.elapsed()
    }

    /// Waits until nothing matches `css` and returns how long it took.
    pub async fn wait_gone(&self, css: &str, timeout: Duration) -> Duration {
        let start = Instant::now();
        let script = format!("return document.querySelector({}) === null", json!(css));
        self.wait_js(&script, timeout).await;
        start.elapsed()
    }

    /// Clicks the element matching `css` (waits for it first).
    pub async fn click(&self, css: &str) {
        self.wait_for(css, Duration::from_secs(15)).await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Types `text` into the element matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.wait_for(css, Duration::from_secs(15)).await;
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// The text of the element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css, Duration::from_secs(15)).await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Calls a Tauri command from the page, as the UI would: `Ok(value)` or `Err(error)` as the window sees it.
    pub async fn invoke(&self, command: &str, args: Value) -> Result<Value, Value> {
        let script = "const [cmd, args, done] = arguments; \
            window.__TAURI_INTERNALS__.invoke(cmd, args).then(v => done({ok: v === undefined ? null : v}), e => done({err: e}));";
        let out = self
            .client
            .execute_async(script, vec![json!(command), args])
            .await
            .expect("execute_async");
        match out.get("err") {
            Some(err) => Err(err.clone()),
            None => Ok(out.get("ok").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Saves a screenshot of the whole window as `<shots>/<name>.png` (after two animation frames, so the last
    /// DOM change is painted).
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let _ = self
            .client
            .execute_async("const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));", vec![])
            .await;
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::create_dir_all(&self.shots).unwrap();
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Creates the inventory with the test passphrase through the create screen.
    pub async fn create_inventory(&self) {
        self.type_into("#create-passphrase", crate::PASSPHRASE)
            .await;
        self.wait_js("const m = document.querySelector('#strength-meter'); return m && Number(m.dataset.score) >= 3", Duration::from_secs(10)).await;
        self.click("#create-submit").await;
        self.wait_for("#recovery-key", Duration::from_secs(30))
            .await;
        self.click("#recovery-done").await;
        self.wait_for("#screen-devices", Duration::from_secs(10))
            .await;
    }

    /// Ends the WebDriver session (the app quits).
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

fn which(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
    {
        dirs.push(home.join("bin"));
    }
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} not found: install it with `cargo install tauri-driver --locked`")
        })
}
