//! The device session a plan runs on, whatever driver the profile names: a logged-in console, or an SMP
//! link ([`SmpSession`]). Steps that only need "run this command, give me its output" call
//! [`DeviceSession::run`]; steps that need a driver's own operations ask for it with
//! [`DeviceSession::console`] and get a [`PlanError::ProfileIncomplete`]-style error on the other driver.

use crate::proto::console::ConsoleSession;
use crate::Secret;

use super::smp_session::SmpSession;
use super::PlanError;

/// A session on the device being commissioned.
pub(crate) enum DeviceSession {
    /// A logged-in serial console.
    Console(Box<ConsoleSession>),
    /// An MCUmgr (SMP) link.
    Smp(Box<SmpSession>),
}

impl DeviceSession {
    /// Runs a command and returns its output (console: at the shell prompt).
    pub async fn run(&mut self, command: &str) -> Result<String, PlanError> {
        match self {
            DeviceSession::Console(console) => Ok(console.run(command).await?),
            DeviceSession::Smp(smp) => smp.run(command).await,
        }
    }

    /// Runs a command line that holds a secret; the line is never logged and is redacted from errors.
    pub async fn run_secret(&mut self, line: &Secret) -> Result<String, PlanError> {
        match self {
            DeviceSession::Console(console) => Ok(console.run_secret(line).await?),
            DeviceSession::Smp(smp) => smp.run_secret(line).await,
        }
    }

    /// Runs `command` and types `lines` as its input (console only).
    pub async fn run_with_input(
        &mut self,
        command: &str,
        lines: &[&str],
    ) -> Result<String, PlanError> {
        Ok(self
            .console(command)?
            .run_with_input(command, lines)
            .await?)
    }

    /// The console, for what only a console does (logins, dialogs); `what` names the operation in the error.
    pub fn console(&mut self, what: &str) -> Result<&mut ConsoleSession, PlanError> {
        match self {
            DeviceSession::Console(console) => {
                tracing::trace!(what, "console operation");
                Ok(console)
            }
            DeviceSession::Smp(_) => Err(PlanError::DeviceIncompatible(format!(
                "{what} needs a login console, but this device is driven over SMP (MCUmgr); check the profile"
            ))),
        }
    }

    /// Writes a secret to an SMP setting and commits it (SMP only); the value is never logged.
    pub async fn write_secret_setting(
        &mut self,
        name: &str,
        value: &Secret,
    ) -> Result<(), PlanError> {
        match self {
            DeviceSession::Console(_) => Err(smp_only(name)),
            DeviceSession::Smp(smp) => {
                smp.write_setting(name, value.expose().as_bytes()).await?;
                smp.commit_settings().await
            }
        }
    }

    /// Sets the device clock to `unix` (UTC) with the SMP OS group's datetime command and reads it back
    /// (SMP only); returns the device's time as Unix seconds.
    pub async fn set_clock_smp(&mut self, unix: u64) -> Result<u64, PlanError> {
        match self {
            DeviceSession::Console(_) => Err(PlanError::DeviceIncompatible(
                "the clock is set over SMP, but this device is driven through its console".into(),
            )),
            DeviceSession::Smp(smp) => smp.set_clock(unix).await,
        }
    }

    /// Reads an SMP setting (SMP only); `None` when the device has no such setting.
    pub async fn read_setting(&mut self, name: &str) -> Result<Option<Vec<u8>>, PlanError> {
        match self {
            DeviceSession::Console(_) => Err(smp_only(name)),
            DeviceSession::Smp(smp) => smp.read_setting(name).await,
        }
    }

    /// Writes an SMP setting (SMP only). Not for secrets: see [`DeviceSession::write_secret_setting`].
    pub async fn write_setting(&mut self, name: &str, value: &[u8]) -> Result<(), PlanError> {
        match self {
            DeviceSession::Console(_) => Err(smp_only(name)),
            DeviceSession::Smp(smp) => smp.write_setting(name, value).await,
        }
    }

    /// Deletes an SMP setting (SMP only); deleting a setting the device does not have is not an error.
    pub async fn delete_setting(&mut self, name: &str) -> Result<(), PlanError> {
        match self {
            DeviceSession::Console(_) => Err(smp_only(name)),
            DeviceSession::Smp(smp) => smp.delete_setting(name).await,
        }
    }

    /// Applies the settings written so far (SMP only: the settings group's commit).
    pub async fn commit_settings(&mut self) -> Result<(), PlanError> {
        match self {
            DeviceSession::Console(_) => Err(smp_only("commit")),
            DeviceSession::Smp(smp) => smp.commit_settings().await,
        }
    }

    /// Ends the session cleanly (console: logs out, so no root shell is left open).
    pub async fn close(&mut self) -> Result<(), PlanError> {
        match self {
            DeviceSession::Console(console) => Ok(console.logout().await?),
            // Nothing to log out of.
            DeviceSession::Smp(_) => Ok(()),
        }
    }
}

/// The error for an SMP operation on a device driven through its console.
fn smp_only(what: &str) -> PlanError {
    PlanError::DeviceIncompatible(format!(
        "{what}: settings are an SMP (MCUmgr) feature, but this device is driven through its console; \
         check the profile's driver"
    ))
}
