//! The commands of each management group as [`SmpClient`] methods: one request each, typed results.
//!
//! Every method fails with [`SmpClientError::Smp`] carrying the device's error: a group error names the
//! group and the code (`device returned settings error 3 (KEY_NOT_FOUND)`), and rc 8 (ENOTSUP,
//! [`SmpError::is_not_supported`](crate::proto::smp::header::SmpError::is_not_supported)) means the firmware
//! lacks that group or command.

use std::time::Duration;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{SmpClient, SmpClientError};
use crate::proto::smp::messages::{
    AppInfo, BootloaderInfo, BootloaderInfoResponse, DateTimeRead, DateTimeResponse, DateTimeWrite,
    Echo, GroupList, ImageErase, ImageState, ImageStateRead, ImageStateWrite, McumgrParams,
    McumgrParamsResponse, Reset, SettingsCommit, SettingsDelete, SettingsLoad, SettingsRead,
    SettingsSave, SettingsWrite, ShellExec,
};
use crate::transport::Link;

/// What a shell command run on the device printed and returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellOutput {
    /// Its output text.
    pub output: String,
    /// Its return value: 0 for success, a negative errno otherwise.
    pub ret: i32,
}

impl ShellOutput {
    /// The command returned 0.
    pub fn success(&self) -> bool {
        self.ret == 0
    }
}

impl<L: Link> SmpClient<L> {
    /// OS echo: the device sends `text` back.
    pub async fn echo(&mut self, text: &str) -> Result<String, SmpClientError> {
        let req = Echo {
            text: text.to_string(),
        };
        Ok(self.request(&req).await?.text)
    }

    /// The device's SMP buffers (`buf_size`, `buf_count`).
    pub async fn params(&mut self) -> Result<McumgrParamsResponse, SmpClientError> {
        self.request(&McumgrParams {}).await
    }

    /// The device's clock as it reports it (no time zone; [`DateTimeResponse::parse`] reads it). A clock
    /// never set is OS error 4 (RTC_NOT_SET).
    pub async fn datetime(&mut self) -> Result<DateTimeResponse, SmpClientError> {
        self.request(&DateTimeRead {}).await
    }

    /// Sets the device's clock to `at` (sent as UTC, to the second).
    pub async fn set_datetime(&mut self, at: OffsetDateTime) -> Result<(), SmpClientError> {
        self.request(&DateTimeWrite::utc(at)).await.map(drop)
    }

    /// Resets the device. It answers first and reboots shortly after: the link then goes quiet, and a USB
    /// device's port closes ([`SmpClientError::is_link_closed`] on the next request) and may come back under
    /// another name. `force` overrides an application that refused a reset before (rc 10, EBUSY).
    pub async fn reset(&mut self, force: bool) -> Result<(), SmpClientError> {
        let req = Reset {
            force: force.then_some(true),
            boot_mode: None,
        };
        self.request(&req).await.map(drop)
    }

    /// Application / OS information for `format` letters (`None`: the kernel name; `Some("a")`: all).
    pub async fn app_info(&mut self, format: Option<&str>) -> Result<String, SmpClientError> {
        let req = AppInfo {
            format: format.map(str::to_string),
        };
        Ok(self.request(&req).await?.output)
    }

    /// Bootloader information: its name, or the answer to `query` (MCUboot answers `"mode"`).
    pub async fn bootloader_info(
        &mut self,
        query: Option<&str>,
    ) -> Result<BootloaderInfoResponse, SmpClientError> {
        let req = BootloaderInfo {
            query: query.map(str::to_string),
        };
        self.request(&req).await
    }

    /// The image slots and their state.
    pub async fn image_state(&mut self) -> Result<ImageState, SmpClientError> {
        self.request(&ImageStateRead {}).await
    }

    /// Marks the image whose SHA-256 TLV is `hash` for one test boot at the next reset; the new state.
    pub async fn image_test(&mut self, hash: &[u8]) -> Result<ImageState, SmpClientError> {
        self.request(&ImageStateWrite::test(hash)).await
    }

    /// Makes the image with `hash` permanent, or (with `None`) confirms the running image; the new state.
    pub async fn image_confirm(
        &mut self,
        hash: Option<&[u8]>,
    ) -> Result<ImageState, SmpClientError> {
        self.request(&ImageStateWrite::confirm(hash)).await
    }

    /// Erases `slot` (`None`: the secondary slot of image 0). A slot in use is IMG error 9.
    pub async fn image_erase(&mut self, slot: Option<u32>) -> Result<(), SmpClientError> {
        self.request(&ImageErase { slot }).await.map(drop)
    }

    /// The value of setting `name`, in memory wiped on drop (settings can hold secrets).
    pub async fn settings_read(
        &mut self,
        name: &str,
    ) -> Result<Zeroizing<Vec<u8>>, SmpClientError> {
        let req = SettingsRead {
            name: name.to_string(),
            max_size: None,
        };
        Ok(self.request(&req).await?.val)
    }

    /// Writes setting `name` (effective at [`Self::settings_commit`], persistent after
    /// [`Self::settings_save`]). The value is never logged.
    pub async fn settings_write(&mut self, name: &str, val: &[u8]) -> Result<(), SmpClientError> {
        self.request(&SettingsWrite::new(name, val)).await.map(drop)
    }

    /// Deletes setting `name`.
    pub async fn settings_delete(&mut self, name: &str) -> Result<(), SmpClientError> {
        let req = SettingsDelete {
            name: name.to_string(),
        };
        self.request(&req).await.map(drop)
    }

    /// Applies the settings written since the last commit.
    pub async fn settings_commit(&mut self) -> Result<(), SmpClientError> {
        self.request(&SettingsCommit {}).await.map(drop)
    }

    /// Reloads the settings from persistent storage.
    pub async fn settings_load(&mut self) -> Result<(), SmpClientError> {
        self.request(&SettingsLoad {}).await.map(drop)
    }

    /// Writes the settings to persistent storage.
    pub async fn settings_save(&mut self) -> Result<(), SmpClientError> {
        self.request(&SettingsSave {}).await.map(drop)
    }

    /// Runs a shell command line on the device (split as a POSIX shell would, then quoted for Zephyr's
    /// own parser where needed: see [`crate::proto::smp::messages::shell`]) and waits up to
    /// [`crate::proto::smp::messages::SHELL_TIMEOUT`]. A command that fails on the device is
    /// `Ok` with a non-zero [`ShellOutput::ret`]; an unsplittable line is
    /// [`SmpClientError::CommandLine`] and nothing is sent.
    pub async fn shell_exec(&mut self, line: &str) -> Result<ShellOutput, SmpClientError> {
        let req = ShellExec::from_line(line)?;
        self.shell_run(&req).await
    }

    /// Runs `argv` as given (no quoting), waiting up to `timeout` (`None`: the shell default).
    pub async fn shell_exec_argv(
        &mut self,
        argv: Vec<String>,
        timeout: Option<Duration>,
    ) -> Result<ShellOutput, SmpClientError> {
        let mut req = ShellExec::new(argv);
        req.timeout = timeout;
        self.shell_run(&req).await
    }

    async fn shell_run(&mut self, req: &ShellExec) -> Result<ShellOutput, SmpClientError> {
        let reply = self.request(req).await?;
        Ok(ShellOutput {
            output: reply.output,
            ret: reply.ret,
        })
    }

    /// The management groups the device supports (enumeration group; a device without it answers rc 8).
    pub async fn groups(&mut self) -> Result<Vec<u16>, SmpClientError> {
        Ok(self.request(&GroupList {}).await?.groups)
    }
}
