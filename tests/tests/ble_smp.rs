//! SMP over BLE end to end: Temper's `BleLink` (btleplug on the simulated BlueZ of `temper-devsim ble`) and
//! the same `SmpClient` as over serial: echo, MCUmgr parameters, and an image upload that lands in slot 1.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use temper_core::proto::smp::client::SmpClient;
use temper_core::transport::ble::BleLink;
use temper_core::transport::Link;
use temper_e2e::{binary, image_hash, mcuboot_image};

struct World(Child);

impl Drop for World {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

#[test]
fn smp_over_ble_echoes_and_uploads_an_image_to_slot_1() {
    let mut child = Command::new(binary("temper-devsim"))
        .args(["ble", "--models", "zephyr-sensor"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("temper-devsim ble");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _world = World(child);
    let info: Value = serde_json::from_str(&line).unwrap();
    let address = info["devices"][0]["address"].as_str().unwrap().to_string();
    // Before any thread of the runtime exists: libdbus and zbus read it when they connect.
    std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", info["bus"].as_str().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
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
