//! An empty Tauri 2 app, built like `temper-app` (same tauri version, features and profile, same window size):
//! the anchor of the desktop app's start-up and idle-memory benchmark (`temper-bench --gui`,
//! docs/benchmarks.md). Its only code is the start-up probe, defined exactly as in src-tauri/src/main.rs.
#![forbid(unsafe_code)]

fn main() {
    tauri::Builder::default()
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
