//! SMP over BLE end to end: Temper's `BleLink` (btleplug on the simulated BlueZ of `temper-devsim ble`) and
//! the same `SmpClient` as over serial: echo, MCUmgr parameters, and an image upload that lands in slot 1; a
//! dropped link ends a wait for an answer at once.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use temper_core::proto::smp::client::{SmpClient, DEFAULT_TIMEOUT};
use temper_core::transport::ble::BleLink;
use temper_core::transport::{Link, TransportError};
use temper_e2e::{binary, image_hash, mcuboot_image};

/// A running `temper-devsim ble`; SIGTERM on drop.
struct World(Child);

impl Drop for World {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

/// Set in the process a test runs its body in.
const CHILD: &str = "TEMPER_BLE_SMP_TEST_CHILD";

/// Runs `body` in a process of its own (this test binary again, running only `test`): libdbus reads the system
/// bus address once per process, and each test's world has a bus of its own (`cargo test` runs the tests of
/// this file in one process; nextest already gives each its own).
fn in_own_process(test: &str, body: impl FnOnce()) {
    if std::env::var_os(CHILD).is_some() {
        body();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD, "1")
        .output()
        .expect("run the test in a process of its own");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Starts `temper-devsim ble --models zephyr-sensor EXTRA...`, points the system bus at it and returns the
/// world with the sensor's address.
fn start_world(extra: &[&str]) -> (World, String) {
    let mut child = Command::new(binary("temper-devsim"))
        .args(["ble", "--models", "zephyr-sensor"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("temper-devsim ble");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let world = World(child);
    let info: Value = serde_json::from_str(&line).unwrap();
    let address = info["devices"][0]["address"].as_str().unwrap().to_string();
    // Before any thread of the runtime exists: libdbus and zbus read it when they connect.
    std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", info["bus"].as_str().unwrap());
    (world, address)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn smp_over_ble_echoes_and_uploads_an_image_to_slot_1() {
    in_own_process(
        "smp_over_ble_echoes_and_uploads_an_image_to_slot_1",
        echo_and_upload,
    );
}

fn echo_and_upload() {
    let (_world, address) = start_world(&[]);
    runtime().block_on(async {
        let link = BleLink::open_smp(&address, Duration::from_secs(10))
            .await
            .expect("open the SMP characteristic");
        assert_eq!(link.mtu(), 247, "the MTU BlueZ negotiated");
        assert_eq!(link.max_send(), Some(244));
        let mut client = SmpClient::new(link);
        assert_eq!(client.echo("over the air").await.unwrap(), "over the air");
        let params = client.params().await.unwrap();
        assert_eq!((params.buf_size, params.buf_count), (2048, 4));
        let img = mcuboot_image(32 * 1024, 11);
        let started = Instant::now();
        client
            .upload(&img, |_, _| {})
            .await
            .expect("upload over BLE");
        let secs = started.elapsed().as_secs_f64();
        let state = client.image_state().await.unwrap();
        let slot1 = state
            .images
            .iter()
            .find(|i| i.slot == 1)
            .expect("slot 1 holds the image");
        assert_eq!(hex::encode(&slot1.hash), image_hash(&img));
        // A figure for the log, not a target (benchmarks live in temper-bench).
        eprintln!("32 KiB over simulated BLE in {secs:.2} s");
    });
}

/// Drops the link to `address` through the simulator's control interface (what a supervision timeout does).
fn drop_link(address: &str) {
    let out = Command::new("dbus-send")
        .args([
            "--system",
            "--print-reply",
            "--dest=org.bluez",
            "/org/bluez/hci0",
        ])
        .arg("org.temper.Sim1.DropLink")
        .arg(format!("string:{address}"))
        .output()
        .expect("dbus-send");
    assert!(
        out.status.success(),
        "DropLink: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A link that drops while Temper waits for an answer fails that wait at once, saying so, instead of running
/// into the SMP timeout.
#[test]
fn ble_link_recv_fails_promptly_when_the_link_drops() {
    in_own_process(
        "ble_link_recv_fails_promptly_when_the_link_drops",
        recv_after_drop_link,
    );
}

fn recv_after_drop_link() {
    let (_world, address) = start_world(&[]);
    runtime().block_on(async {
        let mut link = BleLink::open_smp(&address, Duration::from_secs(10))
            .await
            .expect("open the SMP characteristic");
        let waiting = tokio::spawn(async move {
            let mut buf = Vec::new();
            let result = link.recv(&mut buf).await;
            (result, Instant::now())
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let dropped = Instant::now();
        tokio::task::spawn_blocking({
            let address = address.clone();
            move || drop_link(&address)
        })
        .await
        .unwrap();
        let (result, failed) = tokio::time::timeout(DEFAULT_TIMEOUT, waiting)
            .await
            .expect("recv returns before the SMP timeout")
            .unwrap();
        let err = result.expect_err("nothing to receive on a dropped link");
        assert!(matches!(err, TransportError::Closed(_)), "{err:?}");
        assert!(
            err.to_string()
                .contains(&format!("BLE {address} disconnected")),
            "{err}"
        );
        let after = failed.saturating_duration_since(dropped);
        assert!(after < DEFAULT_TIMEOUT, "{after:?}");
        eprintln!("recv failed {after:?} after DropLink");
    });
}

/// `--drop-after 0:0`: the sensor handles the first echo but its answer is lost with the link; the client's
/// wait ends with the disconnection, and a new connection answers.
#[test]
fn an_echo_whose_answer_is_lost_with_the_link_fails_promptly_and_a_reconnect_answers() {
    in_own_process(
        "an_echo_whose_answer_is_lost_with_the_link_fails_promptly_and_a_reconnect_answers",
        echo_lost_with_the_link,
    );
}

fn echo_lost_with_the_link() {
    let (_world, address) = start_world(&["--drop-after", "0:0"]);
    runtime().block_on(async {
        let link = BleLink::open_smp(&address, Duration::from_secs(10))
            .await
            .expect("open the SMP characteristic");
        let mut client = SmpClient::new(link);
        let started = Instant::now();
        let err = client.echo("lost").await.expect_err("the answer is lost");
        assert!(
            started.elapsed() < DEFAULT_TIMEOUT,
            "{:?}",
            started.elapsed()
        );
        assert!(err.to_string().contains("disconnected"), "{err}");
        let link = BleLink::open_smp(&address, Duration::from_secs(10))
            .await
            .expect("connect again");
        let mut client = SmpClient::new(link);
        assert_eq!(client.echo("again").await.unwrap(), "again");
    });
}
