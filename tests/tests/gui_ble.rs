//! The desktop app with Bluetooth LE, end to end: a real WebKit window under Xvfb (WebDriver), the app's
//! discovery and commissioning on btleplug's real BlueZ backend, against the simulated BlueZ of
//! `temper-devsim ble` on a private system bus. Screenshots go to `target/gui-screenshots/ble-*.png`.

use std::time::{Duration, Instant};

use serde_json::json;
use temper_e2e::gui::{Gui, GuiOptions};
use temper_e2e::BleWorld;

const RUN: Duration = Duration::from_secs(180);

/// Guards the issue's "the GUI end-to-end test shows a BLE device appearing and being secured" and "the GUI
/// says 'Bluetooth is off' instead of an empty list": the sensor appears with "Bluetooth LE", its model and
/// signal, is secured with the one button (no passkey: its profile does not pair), ends hardened; when the
/// adapter is powered off it leaves the list and the empty state says "Bluetooth is off".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ble_sensor_appears_is_secured_and_bluetooth_off_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let world = BleWorld::start("zephyr-sensor", &dir.path().join("world"), &[]);
    let address = world.address("zephyr-sensor");
    let gui = Gui::start(GuiOptions {
        ble_bus: Some(world.bus().to_string()),
        ..GuiOptions::default()
    })
    .await;
    gui.create_inventory().await;

    let row = format!(".device[data-device-id=\"ble:{address}\"]");
    let appeared = gui.wait_for(&row, Duration::from_secs(30)).await;
    println!("BLE sensor listed {appeared:?} after the inventory was created");
    let text = gui.text(&row).await;
    assert!(
        text.contains("Nordsense NS-ENV1") && text.contains("Bluetooth LE"),
        "the sensor is listed with its model (profile matched over BLE) and how it is connected: {text:?}"
    );
    assert!(
        text.contains("signal (") && text.contains("dBm") && text.contains(&address),
        "the row says the signal strength and the address: {text:?}"
    );
    let connection = gui
        .wait_js(
            &format!(
                "return document.querySelector({}).dataset.connection",
                json!(row)
            ),
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(connection, json!("ble"));
    gui.screenshot("ble-01-device-listed").await;

    // The only device is picked; the sensor needs no passkey, so the button starts the run at once.
    let started = Instant::now();
    gui.click("#secure-button").await;
    gui.wait_for(
        "#run-steps .step[data-state=running]",
        Duration::from_secs(30),
    )
    .await;
    gui.screenshot("ble-02-securing").await;
    gui.wait_for("#run-result", RUN).await;
    println!("secured over BLE in {:?}", started.elapsed());
    let result = gui
        .wait_js(
            "return document.querySelector('#run-result').dataset.result",
            Duration::from_secs(5),
        )
        .await;
    if result != json!("secured") {
        gui.screenshot("ble-03-not-secured").await;
    }
    assert_eq!(
        result,
        json!("secured"),
        "the sensor is hardened over BLE; the window shows:\n{}",
        gui.text("#screen-devices").await
    );
    let steps = gui
        .wait_js("return Array.from(document.querySelectorAll('#run-steps .step')).map(s => s.dataset.step + '=' + s.dataset.state).join(',')", Duration::from_secs(5))
        .await;
    for step in ["identify", "rotate-credentials", "verify", "record"] {
        assert!(
            steps.as_str().unwrap().contains(&format!("{step}=done")),
            "step {step} shown done: {steps}"
        );
    }
    assert!(gui.text("#run-result").await.contains("Secured"));
    gui.screenshot("ble-03-secured").await;

    // The inventory lists it as secured.
    gui.click("[data-nav=inventory]").await;
    gui.wait_for(
        "#inventory-table tbody tr[data-serial]",
        Duration::from_secs(10),
    )
    .await;
    let inventory_row = gui.text("#inventory-table tbody tr[data-serial]").await;
    assert!(
        inventory_row.contains("Secured") && inventory_row.contains("NS-ENV1"),
        "{inventory_row}"
    );
    gui.click("[data-nav=devices]").await;

    // Power the adapter off: the sensor leaves the list and the window says why the list is empty.
    world.bluetoothctl(&["power", "off"]);
    let gone = gui.wait_gone(&row, Duration::from_secs(20)).await;
    gui.wait_js(
        "const e = document.querySelector('#empty-heading'); return e && e.textContent === 'Bluetooth is off'",
        Duration::from_secs(20),
    )
    .await;
    println!("after power off: device gone in {gone:?}");
    let empty = gui.text("#devices-empty").await;
    assert!(
        empty.contains("Bluetooth is off") && empty.contains("Turn Bluetooth on"),
        "the empty state says Bluetooth is off and how to turn it on: {empty}"
    );
    assert!(!empty.contains("No device found"), "{empty}");
    gui.screenshot("ble-04-bluetooth-off").await;

    // Powered on again, the sensor comes back.
    world.bluetoothctl(&["power", "on"]);
    gui.wait_for(&row, Duration::from_secs(30)).await;
    gui.close().await;
}

/// Without any Bluetooth service the app still starts, lists nothing, and the empty state says in plain
/// words that Bluetooth devices cannot be listed (the "Try with a simulated device" path stays).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_bluetooth_service_the_empty_state_says_so() {
    let gui = Gui::start(GuiOptions::default()).await;
    gui.create_inventory().await;
    gui.wait_js(
        "const e = document.querySelector('#devices-empty'); return e && e.dataset.bluetooth === 'unavailable'",
        Duration::from_secs(20),
    )
    .await;
    let empty = gui.text("#devices-empty").await;
    assert!(
        empty.contains("No device found")
            && empty.contains("Bluetooth devices cannot be listed")
            && empty.contains("Bluetooth service is not running"),
        "{empty}"
    );
    gui.wait_for("#try-simulated", Duration::from_secs(5)).await;
    let state = gui
        .invoke("bluetooth_state", json!({}))
        .await
        .expect("bluetooth_state");
    assert_eq!(state["state"], "unavailable", "{state}");
    gui.screenshot("ble-05-no-bluetooth-service").await;
    gui.close().await;
}

/// Guards "when a device needs a passkey, 'Secure this device' first asks for the 6-digit passkey": the
/// PlugMini (its profile pairs by passkey, printed per unit on its label) opens the passkey field; 5 digits are
/// refused in the window (no run starts); a wrong passkey stops the run with "The passkey was not accepted",
/// Retry asks again (the passkey was not kept), and the label's passkey pairs and secures it. Installer mode
/// lists the BLE plug with a simulated USB camera.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_is_asked_first_and_checked_and_installer_lists_ble_with_usb() {
    let dir = tempfile::tempdir().unwrap();
    let world = BleWorld::start("ble-plug", &dir.path().join("world"), &[]);
    let address = world.address("ble-plug");
    let label = world.device("ble-plug")["passkey"]
        .as_str()
        .unwrap()
        .to_string();
    let wrong = format!("{:06}", (label.parse::<u32>().unwrap() + 1) % 1_000_000);
    let gui = Gui::start(GuiOptions {
        ble_bus: Some(world.bus().to_string()),
        ..GuiOptions::default()
    })
    .await;
    gui.create_inventory().await;
    let row = format!(".device[data-device-id=\"ble:{address}\"]");
    gui.wait_for(&row, Duration::from_secs(30)).await;

    gui.click("#secure-button").await;
    gui.wait_for("#passkey-input", Duration::from_secs(5)).await;
    assert!(gui.text("#passkey-form").await.contains("6-digit passkey"));
    gui.type_into("#passkey-input", "12345").await;
    gui.click("#passkey-submit").await;
    let problem = gui.text("#passkey-problem").await;
    assert_eq!(problem, "The passkey has 6 digits; this has 5.");
    assert!(
        gui.client
            .execute("return document.querySelector('#run-steps') === null && document.querySelector('#run-activity').textContent === ''", vec![])
            .await
            .unwrap()
            == json!(true),
        "no run starts with a malformed passkey"
    );
    gui.screenshot("ble-06-passkey-asked").await;

    gui.type_into("#passkey-input", &wrong).await;
    gui.click("#passkey-submit").await;
    gui.wait_gone("#passkey-form", Duration::from_secs(5)).await;
    gui.wait_for("#run-error", Duration::from_secs(90)).await;
    let error = gui.text("#run-error").await;
    assert!(error.contains("The passkey was not accepted"), "{error}");
    assert!(
        !error.contains(&wrong),
        "the passkey is never shown back: {error}"
    );
    gui.screenshot("ble-07-passkey-not-accepted").await;
    gui.click("#retry-button").await;
    gui.wait_for("#passkey-input", Duration::from_secs(5)).await;
    let typed = gui
        .wait_js(
            "return document.querySelector('#passkey-input').value === '' ? 'empty' : 'kept'",
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(typed, json!("empty"), "the passkey was not kept for Retry");
    gui.type_into("#passkey-input", &label).await;
    gui.click("#passkey-submit").await;
    gui.wait_for("#run-result", RUN).await;
    let result = gui
        .wait_js(
            "return document.querySelector('#run-result').dataset.result",
            Duration::from_secs(5),
        )
        .await;
    gui.screenshot("ble-07b-plug-secured").await;
    assert_eq!(
        result,
        json!("secured"),
        "{}",
        gui.text("#run-result").await
    );
    assert!(world
        .bluetoothctl(&["info", &address])
        .contains("Paired: yes"));

    // Installer mode: the BLE plug beside a simulated USB camera.
    gui.invoke("plug_simulated_device", json!({ "model": "ipcam" }))
        .await
        .expect("plug a simulated camera");
    gui.click("#mode-installer").await;
    gui.wait_for(
        ".device[data-connection=usb] .device-select",
        Duration::from_secs(20),
    )
    .await;
    gui.wait_for(&format!("{row} .device-select"), Duration::from_secs(10))
        .await;
    let listed = gui.text("#device-list").await;
    assert!(
        listed.contains("Bluetooth LE") && listed.contains("Simulated USB"),
        "{listed}"
    );
    // Its row asks for the passkey; a short one is refused on the card, six digits start a run that pairs.
    let passkey = format!("{row} .device-passkey");
    gui.click(&format!("{row} .device-select")).await;
    gui.type_into(&passkey, "12").await;
    gui.click("#secure-selected").await;
    let card = format!(".run-card[data-device-id=\"ble:{address}\"]");
    gui.wait_for(
        &format!("{card}[data-state=failed]"),
        Duration::from_secs(5),
    )
    .await;
    assert!(
        gui.text(&card)
            .await
            .contains("The passkey has 6 digits; this has 2."),
        "{}",
        gui.text(&card).await
    );
    gui.screenshot("ble-08-installer-ble-and-usb").await;
    // Already bonded: the label's passkey is asked for by the profile, the existing bond is kept and the
    // run finds the plug secured.
    gui.type_into(&passkey, &label).await;
    gui.click(&format!("{card} .card-retry")).await;
    gui.wait_for(&format!("{card}[data-state=secured]"), RUN)
        .await;
    gui.close().await;
}
