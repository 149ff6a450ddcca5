//! The station's settings. A setting may only tighten what a provisioning profile asks for, never loosen it:
//! saving checks every loaded profile and names the one a setting would loosen. The certificate key type
//! only chooses among the kinds each profile allows.

use std::path::Path;

use serde::{Deserialize, Serialize};
use temper_core::profile::Profile;
use ts_rs::TS;

use crate::error::{ApiError, ErrorCode};

/// Longest password a setting may ask for.
pub const MAX_PASSWORD_LENGTH: u32 = 64;

/// What the person can set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Minimum length of generated passwords (at least each profile's own minimum, at most 64).
    pub password_min_length: Option<u32>,
    /// Passwords expire after this many days (at most each profile's own expiry).
    pub password_max_age_days: Option<u32>,
    /// Minutes without use after which the inventory locks again (1–240).
    pub idle_lock_minutes: u32,
    /// The key type devices make for their certificates ("ecdsa-p256", "ecdsa-p384", "ed25519",
    /// "rsa-2048"...), one every profile with a certificate allows; `null`: each profile's default.
    pub certificate_key: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            password_min_length: None,
            password_max_age_days: None,
            idle_lock_minutes: 10,
            certificate_key: None,
        }
    }
}

impl Settings {
    /// Reads the settings file; a missing file gives the defaults, a broken one an error naming it.
    pub fn load(path: &Path) -> Result<Settings, ApiError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                ApiError::new(
                    ErrorCode::Invalid,
                    format!("{} is not valid: {e}", path.display()),
                )
                .help("Fix or delete the file; Temper then starts with the default settings.")
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(ApiError::new(
                ErrorCode::Internal,
                format!("cannot read {}: {e}", path.display()),
            )),
        }
    }

    /// Checks the settings against every profile, then writes them (atomically).
    pub fn save(&self, path: &Path, profiles: &[Profile]) -> Result<(), ApiError> {
        self.check(profiles)?;
        let text = serde_json::to_string_pretty(self).expect("settings serialize");
        let tmp = path.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            ApiError::new(
                ErrorCode::Internal,
                format!("cannot save {}: {e}", path.display()),
            )
        })
    }

    /// Refuses a setting that loosens any profile's policy, or is out of range.
    pub fn check(&self, profiles: &[Profile]) -> Result<(), ApiError> {
        if !(1..=240).contains(&self.idle_lock_minutes) {
            return Err(ApiError::new(
                ErrorCode::Invalid,
                "The idle lock must be between 1 and 240 minutes.",
            ));
        }
        if self
            .password_min_length
            .is_some_and(|l| l > MAX_PASSWORD_LENGTH)
        {
            return Err(ApiError::new(
                ErrorCode::Invalid,
                format!("Passwords can be at most {MAX_PASSWORD_LENGTH} characters long."),
            ));
        }
        for profile in profiles {
            self.apply(profile)?;
        }
        Ok(())
    }

    /// `profile` with its password policy tightened and its certificate key type chosen by these settings.
    pub fn apply(&self, profile: &Profile) -> Result<Profile, ApiError> {
        let policy = profile
            .password_policy
            .tightened(
                self.password_min_length.map(|l| l as usize),
                self.password_max_age_days,
            )
            .map_err(|why| {
                ApiError::new(
                    ErrorCode::Invalid,
                    format!("{} ({}): {why}", profile.name, profile.id),
                )
            })?;
        let mut tightened = match &self.certificate_key {
            Some(kind) => profile.with_cert_key(kind).map_err(|why| {
                ApiError::new(
                    ErrorCode::Invalid,
                    format!(
                        "Certificate key type: {} ({}): {why}",
                        profile.name, profile.id
                    ),
                )
                .help("Choose \"Profile default\", or a key type every device profile allows.")
            })?,
            None => profile.clone(),
        };
        tightened.password_policy = policy;
        Ok(tightened)
    }
}
