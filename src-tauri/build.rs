//! Declares the app's commands to Tauri's ACL: each gets an `allow-<name>` permission, and the window can call
//! only those its capability grants (Tauri 2 opens undeclared app commands to every window).

const COMMANDS: &[&str] = &[
    "app_info",
    "lock_status",
    "passphrase_strength",
    "create_inventory",
    "unlock_inventory",
    "lock_inventory",
    "list_devices",
    "bluetooth_state",
    "secure_device",
    "rotate_credentials_now",
    "renew_certificate",
    "inventory_rows",
    "device_page",
    "reveal_credentials",
    "credential_label",
    "audit_page",
    "save_handover_report",
    "get_settings",
    "save_settings",
    "export_ca",
    "backup_inventory",
    "list_backups",
    "restore_backup",
    "plug_simulated_device",
    "unplug_simulated_device",
];

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
        .expect("tauri-build failed");
}
