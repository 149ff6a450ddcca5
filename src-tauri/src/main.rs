//! Temper's desktop app: a thin Tauri 2 shell. Commands are in [`commands`]; everything they do is in
//! `temper_api::App`. Core progress reaches the window as typed events (`devices://changed`,
//! `bluetooth://changed`, `run://event`, `session://locked`).
#![forbid(unsafe_code)]

mod commands;

use std::sync::Arc;
use std::time::Duration;

use tauri::{Emitter, Manager};
use temper_api::{App, AppConfig, BluetoothView, DeviceView};

/// Every command the app registers. `build.rs` declares the same list to the ACL; a command is callable
/// only from a window whose capability grants it (`capabilities/main.json`, and at run time
/// `runtime-capabilities/simulator.json` unless simulated devices are turned off).
macro_rules! handlers {
    () => {
        tauri::generate_handler![
            commands::app_info,
            commands::lock_status,
            commands::passphrase_strength,
            commands::create_inventory,
            commands::unlock_inventory,
            commands::lock_inventory,
            commands::list_devices,
            commands::bluetooth_state,
            commands::secure_device,
            commands::rotate_credentials_now,
            commands::renew_certificate,
            commands::inventory_rows,
            commands::device_page,
            commands::reveal_credentials,
            commands::credential_label,
            commands::audit_page,
            commands::save_handover_report,
            commands::get_settings,
            commands::save_settings,
            commands::export_ca,
            commands::backup_inventory,
            commands::list_backups,
            commands::restore_backup,
            commands::plug_simulated_device,
            commands::unplug_simulated_device,
        ]
    };
}

fn main() {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!("temper-app: no display (DISPLAY and WAYLAND_DISPLAY are unset).\nhelp: on a headless machine use the CLI: `temper demo`, `temper devices`, `temper commission`.");
        std::process::exit(2);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let exe = std::env::current_exe().ok();
    let mut config = AppConfig::from_env(exe.as_deref());
    config.simulator_allowed = !(std::env::args().any(|a| a == "--no-simulator")
        || std::env::var_os("TEMPER_NO_SIMULATOR").is_some());
    config.bluetooth &= !std::env::args().any(|a| a == "--no-ble");
    let app = match App::new(config) {
        Ok(app) => app,
        Err(e) => {
            eprintln!(
                "temper-app: {}{}",
                e.message,
                e.help.map(|h| format!("\nhelp: {h}")).unwrap_or_default()
            );
            std::process::exit(1);
        }
    };
    let simulator_allowed = app.info().simulator_allowed;
    tauri::Builder::default()
        .manage(app)
        .invoke_handler(handlers!())
        .setup(move |tauri_app| {
            if simulator_allowed {
                tauri_app.add_capability(include_str!("../runtime-capabilities/simulator.json"))?;
            }
            let handle = tauri_app.handle().clone();
            let emit = handle.clone();
            let on_change = Arc::new(move |devices: Vec<DeviceView>| {
                let _ = emit.emit("devices://changed", devices);
            });
            tauri_app.state::<App>().start_discovery(on_change)?;
            let emit = handle.clone();
            let on_bluetooth = Arc::new(move |bluetooth: BluetoothView| {
                let _ = emit.emit("bluetooth://changed", bluetooth);
            });
            tauri_app.state::<App>().watch_bluetooth(on_bluetooth)?;
            std::thread::Builder::new()
                .name("idle-lock".into())
                .spawn(move || loop {
                    std::thread::sleep(Duration::from_secs(5));
                    if handle.state::<App>().lock_if_idle() {
                        let _ = handle.emit("session://locked", ());
                    }
                })?;
            Ok(())
        })
        // Start-up probe of `temper-bench --gui` (docs/benchmarks.md); same lines in bench/empty-tauri-app.
        .on_page_load(|webview, payload| {
            if webview.label() == "main"
                && matches!(payload.event(), tauri::webview::PageLoadEvent::Finished)
                && std::env::var_os("TEMPER_STARTUP_PROBE").is_some()
            {
                let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                eprintln!(
                    "startup-probe page-loaded {}",
                    t.map_or(0, |d| d.as_micros())
                );
            }
        })
        .run(tauri::generate_context!())
        .expect("the Tauri runtime failed");
}
