//! The one facade Temper's desktop app calls (the Tauri commands are thin translations of these methods).
//!
//! [`App`] holds what a running app has: the profiles, the settings, the inventory [`Session`] (locked after
//! idle), the live [`DeviceList`] from discovery, the commissioning [`Jobs`] and the [`Simulators`] a
//! newcomer plugs in. Every call returns an [`ApiError`] with a stable code on failure; no call hands a
//! credential to the window except [`App::reveal`] and [`App::credential_label`], which are audited first.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod app;
pub mod devices;
pub mod error;
mod files;
pub mod jobs;
mod pages;
pub mod progress;
pub mod restore;
mod runs;
pub mod session;
pub mod settings;
mod shared;
pub mod simulator;
pub mod typescript;
pub mod views;

pub use app::{App, AppConfig, AppInfo};
pub use devices::{BluetoothView, DeviceList, DeviceView};
pub use error::{ApiError, ErrorCode};
pub use jobs::Jobs;
pub use progress::{JobEvent, RunEvent};
pub use restore::{BackupFile, RestoreResult};
pub use session::{Session, Unlock};
pub use settings::Settings;
pub use shared::SharedInventory;
pub use simulator::Simulators;
