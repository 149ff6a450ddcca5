//! The TypeScript declarations of every type the window receives or sends, generated from the Rust types with
//! ts-rs (`ui/src/generated/types.ts`; a test fails when the file is stale, and
//! `TEMPER_UPDATE_TYPES=1 cargo test -p temper-api typescript` rewrites it).

use ts_rs::TS;

use crate::app::AppInfo;
use crate::devices::{BluetoothView, DeviceView};
use crate::error::{ApiError, ErrorCode};
use crate::progress::{JobEvent, RunEvent, StepTitle};
use crate::restore::{BackupFile, RestoreResult};
use crate::session::{LockStatus, Strength, Unlock};
use crate::settings::Settings;
use crate::views::{
    AuditPage, AuditRow, CertificateView, CheckView, CredentialView, DevicePage, InventoryRow,
    RevealedCredential,
};

/// The generated file's text.
pub fn declarations() -> String {
    let decls = [
        ErrorCode::decl(),
        ApiError::decl(),
        AppInfo::decl(),
        LockStatus::decl(),
        Strength::decl(),
        Unlock::decl(),
        DeviceView::decl(),
        BluetoothView::decl(),
        StepTitle::decl(),
        RunEvent::decl(),
        JobEvent::decl(),
        InventoryRow::decl(),
        CertificateView::decl(),
        CredentialView::decl(),
        RevealedCredential::decl(),
        CheckView::decl(),
        AuditRow::decl(),
        DevicePage::decl(),
        AuditPage::decl(),
        Settings::decl(),
        BackupFile::decl(),
        RestoreResult::decl(),
    ];
    let mut out = String::from(
        "// Generated from the Rust types in crates/temper-api by ts-rs. Do not edit.\n\
         // Regenerate: TEMPER_UPDATE_TYPES=1 cargo test -p temper-api typescript\n\n",
    );
    for decl in decls {
        out.push_str("export ");
        out.push_str(&decl);
        out.push_str("\n\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    /// Guards "types shared with Rust are generated, not written twice": the UI's copy must match.
    #[test]
    fn typescript_declarations_are_current() {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/generated/types.ts");
        let want = super::declarations();
        if std::env::var_os("TEMPER_UPDATE_TYPES").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale: run TEMPER_UPDATE_TYPES=1 cargo test -p temper-api typescript",
            path.display()
        );
    }
}
