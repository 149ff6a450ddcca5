//! The desktop app end to end, in a real WebKit window under Xvfb driven through WebDriver (tauri-driver +
//! WebKitWebDriver), against simulated devices on real PTYs. Screenshots of each main screen go to
//! `target/gui-screenshots/` (or `$TEMPER_TEST_OUTPUT`).

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::json;
use temper_e2e::gui::{Gui, GuiOptions};
use temper_e2e::{test_ip, Sim};

const RUN: Duration = Duration::from_secs(180);

/// The newcomer's path: create the inventory, plug a simulated camera from the empty state, secure it with the
/// one button, see every step and "Secured", keep the password (reveal, label), find it in the inventory and
/// the audit trail, save the handover report and check what it says (and that it holds no password).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_user_secures_a_simulated_camera_and_installer_saves_the_handover() {
    let gui = Gui::start(GuiOptions::default()).await;
    gui.screenshot("01-create-inventory").await;
    gui.create_inventory().await;
    gui.wait_for("#try-simulated", Duration::from_secs(10))
        .await;
    gui.screenshot("02-devices-empty").await;

    gui.click("#try-simulated").await;
    let appeared = gui
        .wait_for(".device[data-device-id]", Duration::from_secs(20))
        .await;
    println!(
        "simulated device listed {appeared:?} after the click (includes the simulator's start-up)"
    );
    let model = gui.text(".device .device-model").await;
    assert!(
        model.contains("SV-IPC2100"),
        "the camera is recognised from its USB id: {model:?}"
    );
    gui.screenshot("03-device-found").await;

    gui.click("#secure-button").await;
    gui.wait_for(
        "#run-steps .step[data-state=running]",
        Duration::from_secs(20),
    )
    .await;
    gui.screenshot("04-securing").await;
    gui.wait_for("#run-result", RUN).await;
    let result = gui
        .wait_js(
            "return document.querySelector('#run-result').dataset.result",
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(
        result,
        json!("secured"),
        "the simulated camera can be fully hardened"
    );
    let steps = gui
        .wait_js("return Array.from(document.querySelectorAll('#run-steps .step')).map(s => s.dataset.step + '=' + s.dataset.state).join(',')", Duration::from_secs(5))
        .await;
    for step in [
        "identify",
        "rotate-credentials",
        "disable-services",
        "certificate",
        "verify",
        "record",
    ] {
        assert!(
            steps.as_str().unwrap().contains(&format!("{step}=done")),
            "step {step} shown done: {steps}"
        );
    }
    gui.screenshot("05-secured").await;

    gui.click("#reveal-button").await;
    let password = gui.text("#revealed-password").await;
    assert!(
        password.len() >= 16,
        "the revealed password is the new strong one: {} chars",
        password.len()
    );
    gui.click("#print-label").await;
    gui.wait_for("#label-preview", Duration::from_secs(10))
        .await;
    gui.screenshot("06-password-and-label").await;

    gui.click("[data-nav=inventory]").await;
    gui.wait_for(
        "#inventory-table tbody tr[data-serial]",
        Duration::from_secs(10),
    )
    .await;
    let row = gui.text("#inventory-table tbody tr[data-serial]").await;
    assert!(
        row.contains("Secured"),
        "the inventory lists the camera as secured (state hardened): {row}"
    );
    gui.screenshot("07-inventory").await;
    gui.click("#inventory-table tbody tr[data-serial] button")
        .await;
    let history = gui.text("#device-history").await;
    assert!(
        history.contains("reveal"),
        "the reveal is in the device's audit history: {history}"
    );
    gui.screenshot("08-device-page").await;

    gui.click("[data-nav=audit]").await;
    gui.wait_for(
        "#audit-integrity[data-intact=true]",
        Duration::from_secs(10),
    )
    .await;
    gui.screenshot("09-audit").await;

    gui.click("[data-nav=devices]").await;
    gui.click("#mode-installer").await;
    gui.click("#save-handover").await;
    let path = gui.text("#handover-path").await;
    let html = std::fs::read_to_string(path.trim())
        .unwrap_or_else(|e| panic!("handover report {path:?}: {e}"));
    let serial = gui
        .wait_js(
            "return document.querySelector('.device[data-device-id]').dataset.deviceId",
            Duration::from_secs(5),
        )
        .await;
    let serial = serial
        .as_str()
        .unwrap()
        .trim_start_matches("sim:")
        .to_string();
    assert!(
        html.contains(&serial),
        "the report names the device {serial}"
    );
    assert!(
        html.contains("SV-IPC2100") && html.contains("default-credential-refused"),
        "model and checks are in the report"
    );
    assert!(
        !html.contains(&password),
        "the handover report never holds a credential"
    );
    assert!(!html.contains("<script"), "the report is static");
    gui.screenshot("10-installer-handover").await;

    gui.click("[data-nav=settings]").await;
    gui.type_into("#setting-min-length", "8").await;
    gui.click("#settings-save").await;
    let error = gui.text("#settings-error").await;
    assert!(
        error.contains("looser"),
        "settings may not loosen a profile's policy: {error}"
    );
    gui.screenshot("11-settings").await;
    gui.close().await;
}

/// Unplugging the camera mid-way shows the plain retry message; plugging it back in and pressing Retry
/// finishes, and nothing was lost (the device is hardened with the password saved before it was sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplug_mid_way_shows_retry_and_retry_finishes() {
    let gui = Gui::start(GuiOptions::default()).await;
    gui.create_inventory().await;
    let state = tempfile::tempdir().unwrap();
    let bus = gui.bus.to_string_lossy().to_string();
    let sim = Sim::start_with(state.path(), &test_ip(201), &["--usb-bus", &bus]);
    let id = format!(".device[data-device-id=\"sim:{}\"]", sim.serial);
    let seen = gui.wait_for(&id, Duration::from_secs(10)).await;
    println!("plugged camera listed after {seen:?}");
    gui.click("#secure-button").await;
    gui.wait_for(
        "#run-steps .step[data-step=disable-services][data-state=running]",
        RUN,
    )
    .await;
    sim.stop_with(Signal::SIGKILL);
    gui.wait_for("#run-error", Duration::from_secs(60)).await;
    let message = gui.text("#run-error").await;
    assert!(
        message.contains("stopped answering") && message.contains("nothing was lost"),
        "plain words: {message}"
    );
    gui.screenshot("12-unplugged-retry").await;
    let sim = Sim::start_with(state.path(), &test_ip(201), &["--usb-bus", &bus]);
    gui.wait_for(&id, Duration::from_secs(10)).await;
    gui.click("#retry-button").await;
    gui.wait_for("#run-result", RUN).await;
    let result = gui
        .wait_js(
            "return document.querySelector('#run-result').dataset.result",
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(result, json!("secured"), "the retry resumes and finishes");
    drop(sim);
    gui.close().await;
}

/// Discovery in the window: a plugged simulator is listed, an unplugged one disappears (the issue asks for
/// 2 s; the figures are printed, the deadline here is generous so a loaded machine does not fail the test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_lists_plugged_devices_and_drops_unplugged_ones() {
    let gui = Gui::start(GuiOptions::default()).await;
    gui.create_inventory().await;
    let state = tempfile::tempdir().unwrap();
    let bus = gui.bus.to_string_lossy().to_string();
    let start = Instant::now();
    let sim = Sim::start_with(state.path(), &test_ip(202), &["--usb-bus", &bus]);
    let started = start.elapsed();
    let id = format!(".device[data-device-id=\"sim:{}\"]", sim.serial);
    let seen = gui.wait_for(&id, Duration::from_secs(10)).await;
    println!("plug: listed {seen:?} after the simulator was up ({started:?} to start it)");
    sim.stop_with(Signal::SIGTERM);
    let gone = gui.wait_gone(&id, Duration::from_secs(10)).await;
    println!("unplug: gone from the list {gone:?} after the simulator exited");
    gui.close().await;
}

/// The webview can call only what its capability grants: with simulated devices turned off
/// (`--no-simulator`) the registered `plug_simulated_device` command is refused by Tauri's ACL, while a
/// granted command works; with the default capability set the same command works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_not_granted_to_the_window_are_refused() {
    let gui = Gui::start(GuiOptions {
        args: vec!["--no-simulator".into()],
        ..GuiOptions::default()
    })
    .await;
    let granted = gui.invoke("lock_status", json!({})).await;
    assert!(granted.is_ok(), "a granted command works: {granted:?}");
    let refused = gui
        .invoke("plug_simulated_device", json!({ "model": "ipcam" }))
        .await;
    let error = refused.expect_err("not granted: refused");
    let text = error.to_string();
    assert!(text.contains("not allowed"), "Tauri's ACL error: {text}");
    let unknown = gui.invoke("no_such_command", json!({})).await;
    assert!(unknown.is_err(), "an unregistered command fails too");
    gui.close().await;

    let gui = Gui::start(GuiOptions::default()).await;
    let pid = gui
        .invoke("plug_simulated_device", json!({ "model": "ipcam" }))
        .await;
    assert!(
        pid.as_ref().is_ok_and(|p| p.as_u64().is_some()),
        "granted by default: {pid:?}"
    );
    gui.invoke("unplug_simulated_device", json!({ "pid": pid.unwrap() }))
        .await
        .expect("unplug");
    gui.close().await;
}

/// The device page's maintenance (issue 6): a secured camera's passwords are rotated now (after an inline
/// confirm) and its certificate renewed, each run shown step by step on the page; the page then shows the new
/// history, the revealed password is a new one, and the camera serves a new certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_page_rotates_passwords_now_and_renews_the_certificate() {
    let gui = Gui::start(GuiOptions::default()).await;
    gui.create_inventory().await;
    let state = tempfile::tempdir().unwrap();
    let bus = gui.bus.to_string_lossy().to_string();
    let sim = Sim::start_with(state.path(), &test_ip(232), &["--usb-bus", &bus]);
    let id = format!(".device[data-device-id=\"sim:{}\"]", sim.serial);
    gui.wait_for(&id, Duration::from_secs(10)).await;
    gui.click("#secure-button").await;
    gui.wait_for("#run-result", RUN).await;
    let result = gui
        .wait_js(
            "return document.querySelector('#run-result').dataset.result",
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(result, json!("secured"), "the camera is secured first");
    gui.click("#reveal-button").await;
    let first = gui.text("#revealed-password").await;

    gui.click("[data-nav=inventory]").await;
    gui.click("#inventory-table tbody tr[data-serial] button")
        .await;
    gui.wait_for("#rotate-now", Duration::from_secs(10)).await;
    let rows = "return document.querySelectorAll('#device-history tbody tr').length";
    let history_before = gui.wait_js(rows, Duration::from_secs(10)).await;

    gui.click("#rotate-now").await;
    let question = gui.text("#rotate-confirm").await;
    assert!(
        question.contains("The device gets new passwords; the old ones stop working. Continue?"),
        "an inline confirm in plain words: {question}"
    );
    gui.screenshot("13-device-rotate-now").await;
    gui.click("#rotate-now-confirm").await;
    gui.wait_for(
        "#device-run-steps .step[data-step]",
        Duration::from_secs(20),
    )
    .await;
    gui.screenshot("16-device-rotating").await;
    gui.wait_for("#device-run-result, #device-run-error", RUN)
        .await;
    let result = gui
        .wait_js(
            "const r = document.querySelector('#device-run-result'); return r ? r.dataset.result : document.querySelector('#device-run-error').innerText",
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(result, json!("secured"), "the rotation finishes secured");
    let steps = gui
        .wait_js("return Array.from(document.querySelectorAll('#device-run-steps .step')).map(s => s.dataset.step + '=' + s.dataset.state).join(',')", Duration::from_secs(5))
        .await;
    assert!(
        steps.as_str().unwrap().contains("rotate-credentials=done"),
        "the passwords were rotated: {steps}"
    );
    gui.screenshot("17-device-rotated").await;
    let history_after = gui.wait_js(rows, Duration::from_secs(10)).await;
    assert!(
        history_after.as_u64() > history_before.as_u64(),
        "the page was refreshed with the new audit events: {history_before} → {history_after}"
    );
    gui.click("#reveal-button").await;
    let second = gui.text("#revealed-password").await;
    assert!(second.len() >= 16, "a strong new password");
    assert_ne!(second, first, "the revealed password is the new one");

    let served_before = served_fingerprint(&sim.ip).await;
    gui.click("#renew-certificate").await;
    gui.wait_for(
        "#device-run-steps .step[data-step=certificate][data-state=done], #device-run-error",
        RUN,
    )
    .await;
    gui.wait_for("#device-run-result, #device-run-error", RUN)
        .await;
    let result = gui
        .wait_js(
            "const r = document.querySelector('#device-run-result'); return r ? r.dataset.result : document.querySelector('#device-run-error').innerText",
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(result, json!("secured"), "the renewal finishes secured");
    gui.screenshot("18-device-renew-certificate").await;
    assert_ne!(
        served_fingerprint(&sim.ip).await,
        served_before,
        "the camera serves its new certificate"
    );
    drop(sim);
    gui.close().await;
}

/// The fingerprint of the certificate `ip:443` serves (read on a blocking thread: the helper runs its own
/// runtime).
async fn served_fingerprint(ip: &str) -> String {
    let ip = ip.to_string();
    tokio::task::spawn_blocking(move || temper_e2e::served_fingerprint(&ip))
        .await
        .expect("read the served certificate")
}
