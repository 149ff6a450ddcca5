//! A console over BLE: the PlugMini's Zephyr shell on the Nordic UART Service, read through Temper's
//! `BleLink` as a byte stream (as a serial port is read), after pairing with the label's passkey through
//! Temper's agent. The same `Link` trait as SMP over BLE and as serial ports, no special case.

use std::time::Duration;

use temper_core::transport::ble::{pair, BleLink, GattChannel};
use temper_core::transport::Link;
use temper_e2e::BleWorld;

const PROMPT: &str = "uart:~$ ";

/// Reads from `link` until `buf` ends with the prompt (10 s at most).
async fn until_prompt(link: &mut BleLink, buf: &mut Vec<u8>) -> usize {
    let mut reads = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(buf).ends_with(PROMPT) {
        tokio::time::timeout_at(deadline, link.recv(buf))
            .await
            .unwrap_or_else(|_| panic!("no prompt in {:?}", String::from_utf8_lossy(buf)))
            .expect("recv");
        reads += 1;
    }
    reads
}

#[test]
fn the_plugs_shell_over_nus_is_a_byte_stream_like_a_serial_console() {
    let dir = tempfile::tempdir().unwrap();
    let world = BleWorld::start("ble-plug", &dir.path().join("world"), &["--mtu", "23"]);
    let address = world.address("ble-plug");
    let plug = world.device("ble-plug").clone();
    // Before any D-Bus connection of this process (libdbus reads it once).
    std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", world.bus());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut link = BleLink::open(&address, GattChannel::NUS, Duration::from_secs(10))
            .await
            .expect("open the NUS console");
        assert!(!link.carries_packets(), "a console is a byte stream");
        assert_eq!(link.max_send(), Some(20), "writes sized to MTU 23 - 3");
        let passkey = plug["passkey"].as_str().unwrap().parse().unwrap();
        pair(&address, Some(passkey)).await.expect("pair");
        let mut buf = Vec::new();
        until_prompt(&mut link, &mut buf).await;
        buf.clear();
        // A line longer than one write goes out in pieces; the answer comes back in many notifications.
        link.send(b"app in").await.unwrap();
        link.send(b"fo\r").await.unwrap();
        let reads = until_prompt(&mut link, &mut buf).await;
        let text = String::from_utf8_lossy(&buf).into_owned();
        assert!(text.contains("model: PM-1"), "{text:?}");
        assert!(
            text.contains(&format!("serial: {}", plug["serial"].as_str().unwrap())),
            "{text:?}"
        );
        assert!(
            reads > 2,
            "the answer spans notifications of 20 bytes ({reads} reads)"
        );
    });
}
