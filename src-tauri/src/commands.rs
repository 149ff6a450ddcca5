//! The window's commands: each one translates its arguments, makes one call into `temper_api::App`, and
//! translates the answer back. No decisions are made here.

use std::sync::Arc;

use tauri::{AppHandle, Emitter, State};
use temper_api::session::{LockStatus, SecretInput, Strength};
use temper_api::views::{AuditPage, DevicePage, InventoryRow, RevealedCredential};
use temper_api::{
    ApiError, App, AppInfo, BackupFile, BluetoothView, DeviceView, JobEvent, RestoreResult,
    Settings, Unlock,
};

/// Where run progress goes: `run://event` with a [`JobEvent`].
pub const RUN_EVENT: &str = "run://event";

type Result<T> = std::result::Result<T, ApiError>;

#[tauri::command]
pub async fn app_info(app: State<'_, App>) -> Result<AppInfo> {
    Ok(app.info())
}

#[tauri::command]
pub async fn lock_status(app: State<'_, App>) -> Result<LockStatus> {
    Ok(app.lock_status())
}

#[tauri::command]
pub async fn passphrase_strength(app: State<'_, App>, passphrase: SecretInput) -> Result<Strength> {
    Ok(app.passphrase_strength(&passphrase.0))
}

#[tauri::command]
pub async fn create_inventory(app: State<'_, App>, unlock: Unlock) -> Result<String> {
    app.create_inventory(unlock)
        .map(|key| key.expose().to_string())
}

#[tauri::command]
pub async fn unlock_inventory(app: State<'_, App>, unlock: Unlock) -> Result<()> {
    app.unlock(unlock)
}

#[tauri::command]
pub async fn lock_inventory(app: State<'_, App>) -> Result<()> {
    app.lock();
    Ok(())
}

#[tauri::command]
pub async fn list_devices(app: State<'_, App>) -> Result<Vec<DeviceView>> {
    Ok(app.devices())
}

#[tauri::command]
pub async fn bluetooth_state(app: State<'_, App>) -> Result<BluetoothView> {
    Ok(app.bluetooth())
}

#[tauri::command]
pub async fn secure_device(
    handle: AppHandle,
    app: State<'_, App>,
    device_id: String,
    site: Option<String>,
    passkey: Option<SecretInput>,
) -> Result<u32> {
    app.secure(&device_id, site, passkey, run_sink(handle))
}

#[tauri::command]
pub async fn rotate_credentials_now(
    handle: AppHandle,
    app: State<'_, App>,
    serial: String,
) -> Result<u32> {
    app.rotate_now(&serial, run_sink(handle))
}

#[tauri::command]
pub async fn renew_certificate(
    handle: AppHandle,
    app: State<'_, App>,
    serial: String,
) -> Result<u32> {
    app.renew_certificate(&serial, run_sink(handle))
}

/// A job's events to the window, as `run://event`.
fn run_sink(handle: AppHandle) -> temper_api::jobs::JobSink {
    Arc::new(move |event: JobEvent| {
        let _ = handle.emit(RUN_EVENT, event);
    })
}

#[tauri::command]
pub async fn inventory_rows(
    app: State<'_, App>,
    query: Option<String>,
) -> Result<Vec<InventoryRow>> {
    app.inventory_rows(query.as_deref())
}

#[tauri::command]
pub async fn device_page(app: State<'_, App>, serial: String) -> Result<DevicePage> {
    app.device_page(&serial)
}

#[tauri::command]
pub async fn reveal_credentials(
    app: State<'_, App>,
    serial: String,
) -> Result<Vec<RevealedCredential>> {
    app.reveal(&serial)
}

#[tauri::command]
pub async fn credential_label(
    app: State<'_, App>,
    serial: String,
    store: String,
) -> Result<String> {
    app.credential_label(&serial, &store)
}

#[tauri::command]
pub async fn audit_page(app: State<'_, App>) -> Result<AuditPage> {
    app.audit()
}

#[tauri::command]
pub async fn save_handover_report(
    app: State<'_, App>,
    site: Option<String>,
    serials: Vec<String>,
) -> Result<String> {
    app.save_handover(site.as_deref(), &serials)
}

#[tauri::command]
pub async fn get_settings(app: State<'_, App>) -> Result<Settings> {
    Ok(app.settings())
}

#[tauri::command]
pub async fn save_settings(app: State<'_, App>, settings: Settings) -> Result<Settings> {
    app.save_settings(settings)
}

#[tauri::command]
pub async fn export_ca(app: State<'_, App>) -> Result<String> {
    app.export_ca()
}

#[tauri::command]
pub async fn backup_inventory(app: State<'_, App>) -> Result<String> {
    app.backup_inventory()
}

#[tauri::command]
pub async fn list_backups(app: State<'_, App>) -> Result<Vec<BackupFile>> {
    app.backups()
}

#[tauri::command]
pub async fn restore_backup(
    app: State<'_, App>,
    file_name: String,
    unlock: Unlock,
) -> Result<RestoreResult> {
    app.restore_backup(&file_name, unlock)
}

#[tauri::command]
pub async fn plug_simulated_device(app: State<'_, App>, model: String) -> Result<u32> {
    app.plug_simulator(&model)
}

#[tauri::command]
pub async fn unplug_simulated_device(app: State<'_, App>, pid: u32) -> Result<()> {
    app.unplug_simulator(pid)
}
