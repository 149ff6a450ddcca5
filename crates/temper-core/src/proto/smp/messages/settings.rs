//! Settings management group (3): read, write and delete one setting, commit, load and save (Zephyr
//! `grp/settings_mgmt/src/settings_mgmt.c`).
//!
//! Values are bytes whose type only the application knows (a password is its UTF-8 bytes, a port number
//! often a little-endian integer). They can be secrets: [`SettingsWrite`] and [`SettingsReadResponse`] hold
//! them in memory that is wiped on drop and never print them in `Debug`.
//!
//! Errors come back as settings group errors: 2 KEY_TOO_LONG, 3 KEY_NOT_FOUND, 4 READ_NOT_SUPPORTED,
//! 5 ROOT_KEY_NOT_FOUND, 6 WRITE_NOT_SUPPORTED, 7 DELETE_NOT_SUPPORTED; an empty name is rc 3 (EINVAL).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{bstr, EmptyResponse, Request, GROUP_SETTINGS};
use crate::proto::smp::header::Op;

/// How long saving settings to flash may take.
pub const SAVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Read one setting (3/0, read): `{"name", "max_size"?}` → `{"val": bstr, "max_size"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsRead {
    /// The setting's full name, e.g. `app/broker`.
    pub name: String,
    /// Largest value wanted; the device caps it at `CONFIG_MCUMGR_GRP_SETTINGS_VALUE_LEN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u32>,
}

/// Reply to [`SettingsRead`]. `Debug` shows the value's length, never the value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsReadResponse {
    /// The value's bytes.
    #[serde(with = "bstr::secret")]
    pub val: Zeroizing<Vec<u8>>,
    /// Present when the device capped the read: its largest value size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u32>,
}

impl fmt::Debug for SettingsReadResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SettingsReadResponse")
            .field("val", &Redacted(self.val.len()))
            .field("max_size", &self.max_size)
            .finish()
    }
}

impl Request for SettingsRead {
    const GROUP: u16 = GROUP_SETTINGS;
    const ID: u8 = 0;
    const OP: Op = Op::Read;
    type Response = SettingsReadResponse;
}

/// Write one setting (3/0, write): `{"name", "val": bstr}` → `{}`. The value takes effect in the running
/// application at [`SettingsCommit`] and survives a reset after [`SettingsSave`]. `Debug` shows the name and
/// the value's length, never the value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsWrite {
    /// The setting's full name.
    pub name: String,
    /// The new value's bytes.
    #[serde(with = "bstr::secret")]
    pub val: Zeroizing<Vec<u8>>,
}

impl SettingsWrite {
    /// Writes `val` to `name`.
    pub fn new(name: impl Into<String>, val: &[u8]) -> Self {
        SettingsWrite {
            name: name.into(),
            val: Zeroizing::new(val.to_vec()),
        }
    }
}

impl fmt::Debug for SettingsWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SettingsWrite")
            .field("name", &self.name)
            .field("val", &Redacted(self.val.len()))
            .finish()
    }
}

impl Request for SettingsWrite {
    const GROUP: u16 = GROUP_SETTINGS;
    const ID: u8 = 0;
    const OP: Op = Op::Write;
    type Response = EmptyResponse;
}

/// Shows `<N bytes redacted>` in place of a secret.
struct Redacted(usize);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes redacted>", self.0)
    }
}

/// Delete one setting (3/1, write): `{"name"}` → `{}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsDelete {
    /// The setting's full name.
    pub name: String,
}

impl Request for SettingsDelete {
    const GROUP: u16 = GROUP_SETTINGS;
    const ID: u8 = 1;
    const OP: Op = Op::Write;
    type Response = EmptyResponse;
}

/// Commit (3/2, write): `{}` → `{}`; the application applies the settings written since the last commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsCommit {}

impl Request for SettingsCommit {
    const GROUP: u16 = GROUP_SETTINGS;
    const ID: u8 = 2;
    const OP: Op = Op::Write;
    type Response = EmptyResponse;
}

/// Load (3/3, read): `{}` → `{}`; the device reloads its settings from persistent storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsLoad {}

impl Request for SettingsLoad {
    const GROUP: u16 = GROUP_SETTINGS;
    const ID: u8 = 3;
    const OP: Op = Op::Read;
    type Response = EmptyResponse;
}

/// Save (3/3, write): `{}` → `{}`; the device writes its settings to persistent storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsSave {}

impl Request for SettingsSave {
    const GROUP: u16 = GROUP_SETTINGS;
    const ID: u8 = 3;
    const OP: Op = Op::Write;
    type Response = EmptyResponse;

    fn timeout(&self) -> Option<Duration> {
        Some(SAVE_TIMEOUT)
    }
}
