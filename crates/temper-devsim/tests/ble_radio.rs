//! The simulated BLE world's radio link as a real BlueZ client (bleak, in the test venv) sees it: the MTU and
//! notification sizes follow `--mtu`, writes take their connection-event slots (`--conn-interval-ms`,
//! `--pdus-per-event`), and a link dropped by `org.temper.Sim1.DropLink` or by `--drop-after` is reported
//! as a disconnection and can be connected again.

#[path = "ble_support/mod.rs"]
mod ble_support;

use std::process::{Command, Output};

use ble_support::{venv_python, World};
use serde_json::Value;

/// `temper-devsim ble --models zephyr-sensor ARGS`.
fn sensor_world(args: &[&str]) -> World {
    World::start_with("zephyr-sensor", args)
}

/// The sensor's address.
fn sensor(world: &World) -> String {
    world.device("zephyr-sensor").0
}

/// Runs `body` (Python, after [`PRELUDE`]) with bleak against `world`'s sensor; its JSON output.
fn bleak(world: &World, body: &str) -> Value {
    let script = format!("{PRELUDE}\n{body}");
    let out = Command::new("timeout")
        .args(["60", &venv_python(), "-c", &script, &sensor(world)])
        .env("DBUS_SYSTEM_BUS_ADDRESS", world.bus())
        .output()
        .expect("python");
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Python helpers: an SMP OS echo over the SMP characteristic, and DropLink through dbus-send.
const PRELUDE: &str = r#"
import asyncio, json, subprocess, sys, time
from bleak import BleakScanner, BleakClient
SMP = "da2e7828-fbce-4e01-ae9e-261174997c48"
ADDRESS = sys.argv[1]

def echo_packet(text, seq=1):
    body = bytes([0xa1, 0x61, 0x64, 0x79]) + len(text).to_bytes(2, "big") + text.encode()
    return bytes([0x0a, 0, len(body) >> 8, len(body) & 0xff, 0, 0, seq, 0]) + body

class Replies:
    """Notifications gathered into SMP packets."""
    def __init__(self):
        self.buf = bytearray()
        self.sizes = []
        self.packets = asyncio.Queue()
    def __call__(self, _, data):
        self.sizes.append(len(data))
        self.buf.extend(data)
        while len(self.buf) >= 8 and len(self.buf) >= 8 + int.from_bytes(self.buf[2:4], "big"):
            n = 8 + int.from_bytes(self.buf[2:4], "big")
            self.packets.put_nowait(bytes(self.buf[:n]))
            del self.buf[:n]

async def write_all(client, packet, size):
    for i in range(0, len(packet), size):
        await client.write_gatt_char(SMP, packet[i:i + size], response=False)

def drop_link():
    subprocess.run(["dbus-send", "--system", "--print-reply", "--dest=org.bluez", "/org/bluez/hci0",
                    "org.temper.Sim1.DropLink", "string:" + ADDRESS], check=True, capture_output=True)

async def find():
    device = await BleakScanner.find_device_by_address(ADDRESS, timeout=5.0)
    assert device is not None, "not found"
    return device
"#;

/// The MTU property of the SMP characteristic, read over D-Bus.
fn mtu_property(world: &World) -> String {
    let path = format!(
        "/org/bluez/hci0/dev_{}/service0010/char0011",
        sensor(world).replace(':', "_")
    );
    let out = Command::new("dbus-send")
        .args(["--system", "--print-reply", "--dest=org.bluez", &path])
        .args([
            "org.freedesktop.DBus.Properties.Get",
            "string:org.bluez.GattCharacteristic1",
            "string:MTU",
        ])
        .env("DBUS_SYSTEM_BUS_ADDRESS", world.bus())
        .output()
        .expect("dbus-send");
    text(&out)
}

#[test]
fn the_mtu_and_notification_sizes_follow_the_mtu_option() {
    let world = sensor_world(&["--mtu", "64"]);
    assert_eq!(world.info["radio"]["mtu"], 64, "{}", world.info);
    let result = bleak(
        &world,
        r#"
async def main():
    replies = Replies()
    async with BleakClient(await find()) as client:
        await client.start_notify(SMP, replies)
        await write_all(client, echo_packet("m" * 200), 61)
        reply = await asyncio.wait_for(replies.packets.get(), 5.0)
        too_long = "accepted"
        try:
            await client.write_gatt_char(SMP, bytes(62), response=False)
        except Exception as e:
            too_long = str(e)
        # What smpclient does to learn the MTU: BlueZ's AcquireWrite.
        await client._backend._acquire_mtu()
        acquired = client.mtu_size
    print(json.dumps({"sizes": replies.sizes, "reply": len(reply), "too_long": too_long,
                      "acquired": acquired}))
asyncio.run(main())
"#,
    );
    assert!(mtu_property(&world).contains("uint16 64"));
    assert_eq!(result["acquired"], 64, "AcquireWrite's MTU: {result}");
    let sizes: Vec<u64> = serde_json::from_value(result["sizes"].clone()).unwrap();
    assert!(
        sizes.len() >= 4,
        "a 200-byte echo in 61-byte pieces: {sizes:?}"
    );
    assert!(sizes.iter().all(|s| *s <= 61), "{sizes:?}");
    assert_eq!(sizes[0], 61, "{sizes:?}");
    assert!(
        result["too_long"]
            .as_str()
            .unwrap()
            .contains("InvalidValueLength"),
        "a write over MTU - 3: {result}"
    );
}

#[test]
fn writes_take_their_connection_event_slots() {
    let world = sensor_world(&["--conn-interval-ms", "50", "--pdus-per-event", "2"]);
    assert_eq!(
        (
            &world.info["radio"]["conn_interval_ms"],
            &world.info["radio"]["pdus_per_event"]
        ),
        (&Value::from(50), &Value::from(2))
    );
    // 20 writes of 20 bytes: at most 2 per 50 ms event, so at least 9 intervals between the first and last.
    let result = bleak(
        &world,
        r#"
async def main():
    replies = Replies()
    async with BleakClient(await find()) as client:
        await client.start_notify(SMP, replies)
        packet = echo_packet("w" * (400 - 14))
        assert len(packet) == 400
        started = time.monotonic()
        await write_all(client, packet, 20)
        took = time.monotonic() - started
        reply = await asyncio.wait_for(replies.packets.get(), 5.0)
    print(json.dumps({"seconds": took, "reply": len(reply)}))
asyncio.run(main())
"#,
    );
    let secs = result["seconds"].as_f64().unwrap();
    assert!(secs >= 9.0 * 0.050, "20 writes in {secs} s");
    assert_eq!(result["reply"], 400, "{result}");
}

#[test]
fn drop_link_disconnects_bleak_and_a_new_connection_speaks_smp() {
    let world = sensor_world(&[]);
    let result = bleak(
        &world,
        r#"
async def main():
    device = await find()
    gone = asyncio.Event()
    replies = Replies()
    client = BleakClient(device, disconnected_callback=lambda _: gone.set())
    await client.connect()
    await client.start_notify(SMP, replies)
    await write_all(client, echo_packet("before"), 200)
    before = await asyncio.wait_for(replies.packets.get(), 5.0)
    drop_link()
    await asyncio.wait_for(gone.wait(), 5.0)
    refused = "accepted"
    try:
        await client.write_gatt_char(SMP, echo_packet("lost"), response=False)
    except Exception as e:
        refused = type(e).__name__ + ": " + str(e)
    replies = Replies()
    async with BleakClient(device) as again:
        await again.start_notify(SMP, replies)
        await write_all(again, echo_packet("after"), 200)
        after = await asyncio.wait_for(replies.packets.get(), 5.0)
    print(json.dumps({"before": before.hex(), "after": after.hex(), "refused": refused}))
asyncio.run(main())
"#,
    );
    for (key, word) in [("before", "before"), ("after", "after")] {
        let reply = hex::decode(result[key].as_str().unwrap()).unwrap();
        assert!(
            reply.windows(word.len()).any(|w| w == word.as_bytes()),
            "{result}"
        );
    }
    assert_ne!(result["refused"], "accepted", "{result}");
}

#[test]
fn drop_after_loses_the_first_echo_answer_with_the_link_then_answers_again() {
    let world = sensor_world(&["--drop-after", "0:0"]);
    let result = bleak(
        &world,
        r#"
async def main():
    device = await find()
    gone = asyncio.Event()
    replies = Replies()
    client = BleakClient(device, disconnected_callback=lambda _: gone.set())
    await client.connect()
    await client.start_notify(SMP, replies)
    await write_all(client, echo_packet("first"), 200)
    await asyncio.wait_for(gone.wait(), 5.0)
    lost = replies.packets.empty()
    replies = Replies()
    async with BleakClient(device) as again:
        await again.start_notify(SMP, replies)
        await write_all(again, echo_packet("second", 2), 200)
        second = await asyncio.wait_for(replies.packets.get(), 5.0)
        await write_all(again, echo_packet("third", 3), 200)
        third = await asyncio.wait_for(replies.packets.get(), 5.0)
    print(json.dumps({"lost": lost, "second": second.hex(), "third": third.hex()}))
asyncio.run(main())
"#,
    );
    assert_eq!(result["lost"], true, "the first answer is lost: {result}");
    for key in ["second", "third"] {
        let reply = hex::decode(result[key].as_str().unwrap()).unwrap();
        assert!(
            reply.windows(key.len()).any(|w| w == key.as_bytes()),
            "{result}"
        );
    }
}
