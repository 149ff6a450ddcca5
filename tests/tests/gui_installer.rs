//! Installer mode in the real window: several devices at once, each with its own progress card, a site name,
//! and the handover report of that site at the end (every device, its checks and certificate; no password).

use std::time::Duration;

use serde_json::json;
use temper_e2e::gui::{Gui, GuiOptions};
use temper_e2e::{test_ip, Sim};

/// Two cameras secured in parallel from one click; the report names both, with the site, and no credential.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installer_secures_two_devices_at_once_and_hands_over_the_site() {
    let gui = Gui::start(GuiOptions::default()).await;
    gui.create_inventory().await;
    let bus = gui.bus.to_string_lossy().to_string();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cam_a = Sim::start_with(a.path(), &test_ip(205), &["--usb-bus", &bus]);
    let cam_b = Sim::start_with(
        b.path(),
        &test_ip(206),
        &["--usb-bus", &bus, "--model", "ipcam-pro"],
    );
    gui.click("#mode-installer").await;
    for cam in [&cam_a, &cam_b] {
        let tick = format!(".device-select[data-device-id=\"sim:{}\"]", cam.serial);
        gui.click(&tick).await;
    }
    gui.type_into("#site-name", "Harbour St. 12").await;
    gui.click("#secure-selected").await;
    gui.wait_for(".run-card[data-state=running]", Duration::from_secs(20))
        .await;
    let running = gui
        .wait_js(
            "return document.querySelectorAll('.run-card[data-state=running]').length",
            Duration::from_secs(5),
        )
        .await;
    println!("{running} runs in progress at once");
    gui.screenshot("14-installer-two-running").await;
    let done = "return document.querySelectorAll('.run-card[data-state=secured]').length === 2";
    gui.wait_js(done, Duration::from_secs(240)).await;
    gui.screenshot("15-installer-two-secured").await;

    gui.click("#save-handover").await;
    let path = gui.text("#handover-path").await;
    let html =
        std::fs::read_to_string(path.trim()).unwrap_or_else(|e| panic!("report {path:?}: {e}"));
    assert!(
        html.contains("Harbour St. 12"),
        "the site name is on the report"
    );
    for cam in [&cam_a, &cam_b] {
        assert!(
            html.contains(&cam.serial),
            "the report lists {}",
            cam.serial
        );
    }
    assert!(
        html.contains("SV-IPC2100") && html.contains("SV-IPC3100"),
        "both models are named"
    );
    let rows = gui
        .invoke("inventory_rows", json!({ "query": "Harbour" }))
        .await
        .expect("inventory rows");
    assert_eq!(
        rows.as_array().map(Vec::len),
        Some(2),
        "both devices are recorded at the site: {rows}"
    );
    for cam in [&cam_a, &cam_b] {
        let revealed = gui
            .invoke("reveal_credentials", json!({ "serial": cam.serial }))
            .await
            .expect("reveal");
        for credential in revealed.as_array().unwrap() {
            let password = credential["password"].as_str().unwrap();
            assert!(
                !html.contains(password),
                "the handover report never holds a credential"
            );
        }
    }
    gui.close().await;
}
