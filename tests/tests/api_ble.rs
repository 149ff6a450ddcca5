//! The app's command layer with Bluetooth LE, without a window: `temper_api::App` discovering and securing the
//! simulated sensor of `temper-devsim ble` (btleplug's real BlueZ backend on a private system bus), and the
//! Bluetooth state it reports when the adapter is powered off. One test in this binary: it points the whole
//! process at the simulated bus (`DBUS_SYSTEM_BUS_ADDRESS`) before any thread starts.

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use temper_api::session::SecretInput;
use temper_api::{App, AppConfig, BluetoothView, ErrorCode, JobEvent, RunEvent, Unlock};
use temper_core::Secret;
use temper_e2e::{binary, profiles_dir, wait_until, BleWorld, PASSPHRASE};

fn app(dir: &std::path::Path) -> App {
    let config = AppConfig {
        inventory: dir.join("data/inventory.db"),
        profiles_dir: profiles_dir(),
        sim_bus: dir.join("bus"),
        devsim: binary("temper-devsim"),
        reports_dir: dir.join("reports"),
        simulators_dir: dir.join("simulators"),
        settings_file: dir.join("data/settings.json"),
        actor: "api-ble-test".into(),
        simulator_allowed: false,
        bluetooth: true,
    };
    std::fs::create_dir_all(dir.join("bus")).unwrap();
    App::new(config).expect("app")
}

/// Guards "BLE devices join the GUI list with RSSI and the matched profile", "the GUI says 'Bluetooth is off'"
/// and commissioning over BLE from the window's command layer: the sensor is listed as "Bluetooth LE" with
/// its address, signal and profile; a malformed passkey is refused before any run; securing it ends hardened
/// with the same event stream as over USB; "Rotate passwords now" finds it by its recorded BLE address and
/// runs over BLE, "Renew certificate" over BLE is refused as not supported yet; powering the adapter off is
/// reported as `off` in plain words and the sensor leaves the list.
#[test]
fn app_lists_secures_a_ble_sensor_and_reports_bluetooth_off() {
    let dir = tempfile::tempdir().unwrap();
    let world = BleWorld::start("zephyr-sensor", &dir.path().join("world"), &[]);
    std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", world.bus());
    let address = world.address("zephyr-sensor");
    let app = app(dir.path());
    let unlock: Unlock = serde_json::from_value(
        serde_json::json!({ "method": "passphrase", "passphrase": PASSPHRASE }),
    )
    .unwrap();
    app.create_inventory(unlock).expect("create");
    assert_eq!(app.bluetooth().state, "starting");
    app.start_discovery(Arc::new(|_| {})).expect("discovery");
    let seen: Arc<Mutex<Vec<BluetoothView>>> = Arc::default();
    let log = Arc::clone(&seen);
    app.watch_bluetooth(Arc::new(move |v| log.lock().unwrap().push(v)))
        .expect("watch");

    let id = format!("ble:{address}");
    assert!(
        wait_until(Duration::from_secs(20), || app
            .devices()
            .iter()
            .any(|d| d.id == id)),
        "the sensor is heard over BLE: {:?}",
        app.devices()
    );
    let view = app.devices().into_iter().find(|d| d.id == id).unwrap();
    assert_eq!(view.connection, "Bluetooth LE");
    assert_eq!(view.address.as_deref(), Some(address.as_str()));
    assert_eq!(view.profile_id.as_deref(), Some("zephyr-sensor"));
    assert!(view.rssi.is_some_and(|r| r < 0), "{view:?}");
    assert!(!view.needs_passkey);
    assert_eq!(app.bluetooth().state, "on");

    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let sink = Arc::new(move |e: JobEvent| {
        let _ = tx.lock().unwrap().send(e);
    });
    let bad = app
        .secure(
            &id,
            None,
            Some(SecretInput(Secret::new("12345"))),
            sink.clone(),
        )
        .unwrap_err();
    assert_eq!(bad.code, ErrorCode::Passkey, "{bad:?}");
    assert_eq!(bad.message, "The passkey is 6 digits.");

    app.secure(&id, Some("Depot 4".into()), None, sink.clone())
        .expect("the run starts");
    let events = until_end(&rx, &id);
    assert!(
        matches!(
            events.last(),
            Some(RunEvent::Finished { hardened: true, .. })
        ),
        "{:?}",
        events.last()
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, RunEvent::Identified { model, .. } if model.contains("NS-ENV1"))));
    let Some(RunEvent::Finished { serial, .. }) = events.last() else {
        unreachable!()
    };
    let serial = serial.clone();
    let rows = app.inventory_rows(None).expect("rows");
    assert!(
        rows.iter()
            .any(|r| r.state == "hardened" && r.site.as_deref() == Some("Depot 4")),
        "{rows:?}"
    );

    // The device page's actions find the sensor by the address its link record names: rotating every
    // password now runs over BLE; renewing the certificate over BLE is refused as not supported yet.
    // The finished run lets go of the device just after its last event.
    let mut started = app.rotate_now(&serial, sink.clone());
    while matches!(&started, Err(e) if e.code == ErrorCode::Busy) {
        std::thread::sleep(Duration::from_millis(50));
        started = app.rotate_now(&serial, sink.clone());
    }
    started.expect("rotate-now over BLE starts");
    let rotated = until_end(&rx, &id);
    assert!(
        matches!(
            rotated.last(),
            Some(RunEvent::Finished { hardened: true, .. })
        ),
        "{:?}",
        rotated.last()
    );
    let mut renew = app.renew_certificate(&serial, sink.clone()).unwrap_err();
    while renew.code == ErrorCode::Busy {
        std::thread::sleep(Duration::from_millis(50));
        renew = app.renew_certificate(&serial, sink.clone()).unwrap_err();
    }
    assert_eq!(renew.code, ErrorCode::Invalid, "{renew:?}");
    assert!(renew.message.contains("not supported yet"), "{renew:?}");

    world.bluetoothctl(&["power", "off"]);
    assert!(
        wait_until(Duration::from_secs(20), || app.bluetooth().state == "off"
            && app.devices().is_empty()),
        "off and empty: {:?} {:?}",
        app.bluetooth(),
        app.devices()
    );
    let off = app.bluetooth();
    assert!(off.message.unwrap().starts_with("Bluetooth is off."));
    assert!(
        wait_until(Duration::from_secs(2), || seen
            .lock()
            .unwrap()
            .iter()
            .any(|v| v.state == "off")),
        "the change was reported: {:?}",
        seen.lock().unwrap()
    );
    let states: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|v| v.state.clone())
        .collect();
    assert!(
        states.contains(&"on".to_string()) && states.last().map(String::as_str) == Some("off"),
        "{states:?}"
    );
}

fn until_end(rx: &mpsc::Receiver<JobEvent>, id: &str) -> Vec<RunEvent> {
    let mut events = Vec::new();
    loop {
        let e = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the run reports until it ends");
        assert_eq!(e.device, id);
        let end = matches!(e.event, RunEvent::Finished { .. } | RunEvent::Failed { .. });
        events.push(e.event);
        if end {
            return events;
        }
    }
}
