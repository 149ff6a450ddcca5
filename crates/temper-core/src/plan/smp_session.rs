//! The SMP side of a [`super::session::DeviceSession`]: shell commands through the shell group, settings
//! through the settings group, the clock through the OS group's datetime command. No login: an MCUmgr
//! transport on a console has none (which is why hardening turns the network ones off).

use std::time::Duration;

use time::OffsetDateTime;

use crate::proto::smp::client::SmpClient;
use crate::proto::smp::client::SmpClientError;
use crate::proto::smp::header::SmpError;
use crate::proto::smp::messages::shell::ShellExec;
use crate::transport::Link;
use crate::Secret;

use super::PlanError;

/// Settings group (3) error KEY_NOT_FOUND, and the v1 rc Zephyr maps it to (ENOENT).
const SETTINGS_KEY_NOT_FOUND: u64 = 3;
const MGMT_ERR_ENOENT: u64 = 5;

/// An SMP link to the device being commissioned.
pub(crate) struct SmpSession {
    client: SmpClient<Box<dyn Link>>,
    /// Wait for a shell command's reply.
    command_timeout: Duration,
}

impl SmpSession {
    pub fn new(client: SmpClient<Box<dyn Link>>, command_timeout: Duration) -> Self {
        SmpSession {
            client,
            command_timeout,
        }
    }

    /// Runs `line` through the shell group and returns its output; a command that fails on the device
    /// (non-zero `ret`) still returns its output, as a console does: callers judge it by the profile's patterns.
    pub async fn run(&mut self, line: &str) -> Result<String, PlanError> {
        let mut req = ShellExec::from_line(line).map_err(SmpClientError::from)?;
        req.timeout = Some(self.command_timeout);
        let reply = self.client.request(&req).await?;
        tracing::debug!(ret = reply.ret, "shell command ran over SMP");
        Ok(reply.output)
    }

    /// Runs a line that holds a secret; errors never quote it (the SMP client logs no payloads).
    pub async fn run_secret(&mut self, line: &Secret) -> Result<String, PlanError> {
        self.run(line.expose()).await
    }

    /// The value of setting `name`; `None` when the device has no such setting.
    pub async fn read_setting(&mut self, name: &str) -> Result<Option<Vec<u8>>, PlanError> {
        match self.client.settings_read(name).await {
            Ok(val) => Ok(Some(val.to_vec())),
            Err(e) if is_key_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn write_setting(&mut self, name: &str, value: &[u8]) -> Result<(), PlanError> {
        Ok(self.client.settings_write(name, value).await?)
    }

    pub async fn delete_setting(&mut self, name: &str) -> Result<(), PlanError> {
        match self.client.settings_delete(name).await {
            Err(e) if !is_key_not_found(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Applies the settings written so far, then saves them (devices that persist only at save).
    pub async fn commit_settings(&mut self) -> Result<(), PlanError> {
        self.client.settings_commit().await?;
        match self.client.settings_save().await {
            // A device without the save command persists at write.
            Err(SmpClientError::Smp(e)) if e.is_not_supported() => Ok(()),
            other => Ok(other?),
        }
    }

    /// Sets the clock to `unix` (UTC) and reads it back; returns the device's time as Unix seconds.
    pub async fn set_clock(&mut self, unix: u64) -> Result<u64, PlanError> {
        let at = OffsetDateTime::from_unix_timestamp(unix as i64)
            .map_err(|e| PlanError::DeviceMisbehaved(format!("station clock out of range: {e}")))?;
        self.client.set_datetime(at).await?;
        let reply = self.client.datetime().await?;
        let read = reply.parse().ok_or_else(|| {
            PlanError::DeviceMisbehaved(format!(
                "the device reports its clock as {:?}, which is not YYYY-MM-DDTHH:MM:SS",
                reply.datetime
            ))
        })?;
        Ok(read.assume_utc().unix_timestamp().max(0) as u64)
    }

    /// Confirms the device answers SMP (OS echo).
    pub async fn echo(&mut self) -> Result<(), PlanError> {
        let text = "temper";
        let back = self.client.echo(text).await?;
        if back != text {
            return Err(PlanError::DeviceMisbehaved(format!(
                "SMP echo of {text:?} came back as {back:?}"
            )));
        }
        Ok(())
    }
}

/// Whether `e` says the setting does not exist (v2 group error or its v1 rc).
fn is_key_not_found(e: &SmpClientError) -> bool {
    matches!(
        e,
        SmpClientError::Smp(SmpError::GroupRc {
            group: 3,
            rc: SETTINGS_KEY_NOT_FOUND
        }) | SmpClientError::Smp(SmpError::DeviceRc {
            rc: MGMT_ERR_ENOENT,
            ..
        })
    )
}
