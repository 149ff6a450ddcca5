//! The ble-plug's Nordic UART Service carrying the Zephyr shell, against real peers: bleak and a dbus-fast
//! pairing agent (`tests/ble_pairing/peer.py nus`, `pair`) and bluetoothctl.

#[path = "ble_support/mod.rs"]
mod ble_support;

use ble_support::World;
use serde_json::{json, Value};

const PLUG: &str = "ble-plug";
const NUS: &str = "6e400001-b5a3-f393-e0a9-e50e24dcca9e";
const PROMPT: &str = "uart:~$ ";

/// The shell over NUS through `adapter`: peer.py's `nus` answer.
fn nus(world: &World, adapter: &str, address: &str, steps: Value) -> Value {
    world.peer(&["nus", adapter, address, &steps.to_string()])
}

#[test]
fn a_bonded_central_runs_the_shell_over_nus_and_an_unbonded_one_may_not_write() {
    let world = World::start_with("ble-plug", &["--adapters", "2"]);
    let d = world.entry(PLUG);
    let address = d["address"].as_str().unwrap().to_string();
    let passkey = d["passkey"].as_str().unwrap().to_string();
    let serial = d["serial"].as_str().unwrap().to_string();
    let r = world.peer(&["pair", "hci0", &address, &passkey]);
    assert_eq!(r["ok"], true, "{r}");

    let out = nus(
        &world,
        "hci0",
        &address,
        json!([
            {"writes": ["app i", "nfo\r"], "prompts": 1},
            {"writes": ["\r\nkernel version\n\r"], "prompts": 2},
        ]),
    );
    assert_eq!(
        out["greeting"], PROMPT,
        "subscribing gives the prompt: {out}"
    );
    let info = out["steps"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{out}"));
    assert!(info.contains("model: PM-1\r\n"), "{info:?}");
    assert!(info.contains(&format!("serial: {serial}\r\n")), "{info:?}");
    assert!(info.ends_with(&format!("\r\n{PROMPT}")), "{info:?}");
    assert!(!info.contains("app info"), "no echo: {info:?}");
    assert_eq!(info.matches(PROMPT).count(), 1, "{info:?}");
    // Several lines in one write: CR LF is one end (an empty line: the prompt alone), LF CR two.
    assert_eq!(
        out["steps"][1]["text"],
        format!("{PROMPT}Zephyr version 3.7.0\r\n{PROMPT}"),
        "{out}"
    );

    // bluetoothctl lists the service once the GATT database is known.
    let attributes = world.bluetoothctl(&["gatt.list-attributes", &address]);
    assert!(attributes.contains(NUS), "{attributes}");

    // hci1 has no bond: it may subscribe, but RX refuses its keystrokes.
    let out = nus(
        &world,
        "hci1",
        &address,
        json!([{"writes": ["app info\r"], "prompts": 1}]),
    );
    assert_eq!(out["greeting"], PROMPT, "{out}");
    assert_eq!(
        out["steps"][0]["error"], "org.bluez.Error.NotPermitted",
        "{out}"
    );
}
