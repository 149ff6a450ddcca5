//! The app's command layer without a window: `temper_api::App` against simulated devices on real PTYs. The
//! Tauri commands are one-line translations of these calls, so this is what the window gets, event by event.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use temper_api::{App, AppConfig, ErrorCode, JobEvent, RunEvent, Settings, Unlock};
use temper_e2e::{binary, profiles_dir, test_ip, wait_until, Sim, PASSPHRASE};

fn app(dir: &std::path::Path) -> App {
    let config = AppConfig {
        inventory: dir.join("data/inventory.db"),
        profiles_dir: profiles_dir(),
        sim_bus: dir.join("bus"),
        devsim: binary("temper-devsim"),
        reports_dir: dir.join("reports"),
        simulators_dir: dir.join("simulators"),
        settings_file: dir.join("data/settings.json"),
        actor: "api-test".into(),
        simulator_allowed: true,
        bluetooth: false,
    };
    std::fs::create_dir_all(dir.join("bus")).unwrap();
    App::new(config).expect("app")
}

fn passphrase() -> Unlock {
    serde_json::from_value(serde_json::json!({ "method": "passphrase", "passphrase": PASSPHRASE }))
        .unwrap()
}

fn discover(app: &App) {
    app.start_discovery(Arc::new(|_| {})).expect("discovery");
}

fn secure(app: &App, id: &str) -> mpsc::Receiver<JobEvent> {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let sink = Arc::new(move |e: JobEvent| {
        let _ = tx.lock().unwrap().send(e);
    });
    app.secure(id, Some("Depot 4".into()), None, sink)
        .expect("job starts");
    rx
}

fn until_end(rx: &mpsc::Receiver<JobEvent>) -> Vec<RunEvent> {
    let mut events = Vec::new();
    loop {
        let e = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the run reports until it ends");
        let end = matches!(e.event, RunEvent::Finished { .. } | RunEvent::Failed { .. });
        events.push(e.event);
        if end {
            return events;
        }
    }
}

/// A whole run as the window sees it: started with the plan's steps, identified, every step started and
/// finished in order, plain-language activity, checks, finished hardened; the inventory row and the audited
/// reveal follow.
#[test]
fn a_run_reaches_the_window_in_order_and_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    assert_eq!(
        app.inventory_rows(None).unwrap_err().code,
        ErrorCode::Locked,
        "locked until created"
    );
    app.create_inventory(passphrase()).expect("create");
    discover(&app);
    let bus = dir.path().join("bus");
    let sim = Sim::start_with(
        &dir.path().join("cam"),
        &test_ip(210),
        &["--usb-bus", bus.to_str().unwrap()],
    );
    let id = format!("sim:{}", sim.serial);
    assert!(
        wait_until(Duration::from_secs(10), || app
            .devices()
            .iter()
            .any(|d| d.id == id)),
        "discovered"
    );
    let events = until_end(&secure(&app, &id));
    assert!(
        matches!(events.first(), Some(RunEvent::Started { steps }) if steps.len() == 9),
        "{:?}",
        events.first()
    );
    let identified = events
        .iter()
        .position(|e| matches!(e, RunEvent::Identified { serial, .. } if *serial == sim.serial));
    let baseline = events
        .iter()
        .position(|e| matches!(e, RunEvent::StepStarted { step, .. } if step == "baseline"));
    assert!(
        identified.is_some() && identified < baseline,
        "the device is identified before the baseline scan"
    );
    let order: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::StepFinished { step, ok: true, .. } => Some(step.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        [
            "identify",
            "baseline",
            "rotate-credentials",
            "lock-accounts",
            "default-credential-trials",
            "disable-services",
            "certificate",
            "verify",
            "record"
        ]
    );
    assert!(
        events.iter().any(|e| matches!(e, RunEvent::Activity { text, .. } if text == "Closing remote access (telnet)…")),
        "plain words for closing telnet"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, RunEvent::Check { passed: true, .. })));
    assert!(
        matches!(events.last(), Some(RunEvent::Finished { hardened: true, serial }) if *serial == sim.serial)
    );
    let rows = app.inventory_rows(Some("depot")).unwrap();
    assert_eq!(rows.len(), 1, "found by site");
    assert_eq!(rows[0].state, "hardened");
    assert!(rows[0].certificate_days_left.is_some_and(|d| d > 300));
    let revealed = app.reveal(&sim.serial).expect("reveal");
    assert_eq!(revealed.len(), 3, "three stores of the camera");
    let page = app.device_page(&sim.serial).unwrap();
    assert!(
        page.history.iter().any(|h| h.action == "reveal"),
        "the reveal is audited before it returns"
    );
    let html = std::fs::read_to_string(app.save_handover(Some("Depot 4"), &[]).unwrap()).unwrap();
    for c in &revealed {
        assert!(
            !html.contains(&c.password),
            "no credential in the handover report"
        );
    }
    let svg = app
        .credential_label(&sim.serial, "web-admin")
        .expect("label");
    assert!(
        svg.starts_with("<svg") || svg.contains("<svg"),
        "an SVG label"
    );
}

/// Unplugging mid-way reaches the window as `device-lost` with the plain retry words; the retried run resumes
/// and ends hardened with the credential committed before the unplug.
#[test]
fn an_unplug_is_device_lost_and_a_retry_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    app.create_inventory(passphrase()).expect("create");
    discover(&app);
    let bus = dir.path().join("bus");
    let state = dir.path().join("cam");
    let args = ["--usb-bus", bus.to_str().unwrap()];
    let sim = Sim::start_with(&state, &test_ip(211), &args);
    let id = format!("sim:{}", sim.serial);
    assert!(wait_until(Duration::from_secs(10), || app
        .devices()
        .iter()
        .any(|d| d.id == id)));
    let rx = secure(&app, &id);
    loop {
        let e = rx.recv_timeout(Duration::from_secs(120)).expect("events");
        if matches!(&e.event, RunEvent::StepStarted { step, .. } if step == "lock-accounts") {
            break;
        }
    }
    sim.stop_with(Signal::SIGKILL);
    let events = until_end(&rx);
    match events.last() {
        Some(RunEvent::Failed { error }) => {
            assert_eq!(error.code, ErrorCode::DeviceLost, "{error:?}");
            assert!(error
                .help
                .as_deref()
                .unwrap_or("")
                .contains("nothing was lost"));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let sim = Sim::start_with(&state, &test_ip(211), &args);
    let replugged =
        |d: &temper_api::DeviceView| d.id == id && d.port.as_deref() == Some(sim.port.as_str());
    assert!(
        wait_until(Duration::from_secs(10), || app
            .devices()
            .iter()
            .any(replugged)),
        "the power-cycled camera is listed on its new port {}",
        sim.port
    );
    let events = until_end(&secure(&app, &id));
    assert!(
        matches!(
            events.last(),
            Some(RunEvent::Finished { hardened: true, .. })
        ),
        "{:?}",
        events.last()
    );
    assert!(
        events.iter().any(|e| matches!(e, RunEvent::StepFinished { step, skipped: true, .. } if step == "rotate-credentials")),
        "the credentials rotated before the unplug are kept, not rotated again"
    );
}

/// Settings tighten a profile's policy and never loosen it; the error names the profile.
#[test]
fn settings_only_tighten() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let loose = Settings {
        password_min_length: Some(6),
        password_max_age_days: None,
        idle_lock_minutes: 10,
        certificate_key: None,
    };
    let error = app.save_settings(loose).unwrap_err();
    assert_eq!(error.code, ErrorCode::Invalid);
    // It names the first profile (by id) whose policy the setting would loosen.
    assert!(
        error.message.contains("(ble-plug)") && error.message.contains("looser"),
        "{}",
        error.message
    );
    let outside = Settings {
        certificate_key: Some("rsa-2048".into()),
        ..Settings::default()
    };
    let error = app.save_settings(outside).unwrap_err();
    assert_eq!(error.code, ErrorCode::Invalid);
    assert!(
        error.message.contains("(ble-plug)")
            && error.message.contains("rsa-2048")
            && error.message.contains("(ecdsa-p256, ed25519)"),
        "names the profile and the key types it allows: {}",
        error.message
    );
    assert_eq!(app.settings(), Settings::default(), "nothing was saved");
    let tight = Settings {
        password_min_length: Some(30),
        password_max_age_days: Some(90),
        idle_lock_minutes: 5,
        certificate_key: Some("ed25519".into()),
    };
    app.save_settings(tight.clone())
        .expect("tightening is allowed");
    assert_eq!(app.settings(), tight);
    let reopened = self::app(dir.path());
    assert_eq!(reopened.settings(), tight, "settings persist");
}
