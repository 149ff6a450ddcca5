//! Provisioning profiles: declarative per-model data, validated when it loads.
//!
//! A profile file (`provisioning-profiles/*.toml`) holds everything Temper knows about one device model; the
//! engine has no model-specific code. Loading goes through three stages and fails closed at each — there
//! are no defaults to fall back on:
//! 1. serde parses the file into the raw layer (unknown keys refused everywhere);
//! 2. one `validate()` runs small named checks (patterns compile and have their groups, references resolve,
//!    the password policy can be met, ...);
//! 3. the typed [`Profile`] is built, with every pattern compiled.
//!
//! Every failure is a [`ProfileError`] naming the file, line, column and field, with a help line.
//! [`json_schema`] describes the file format for editors (`provisioning-profiles/profile.schema.json`).

mod ble;
mod build;
mod certificate;
mod error;
mod locate;
mod model;
mod policy;
mod raw;
mod validate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use ble::{BleIdentity, Pairing};
pub use certificate::{
    render_csr_command, CertInstall, CertificateSpec, ClientApplication, ClientCheckSpec,
    ClockMethod, ClockSetting, ClockSpec, PlainHttpAfter, PlainHttpSpec, CHUNK,
};
pub use error::{Location, ProfileError, ProfileErrorKind};
pub use model::{
    Accounts, AddressSpec, Confirm, CredentialChange, CredentialKind, CredentialStore,
    DialogTemplate, Driver, Protocol, Recognition, ServiceSpec, SettingValue, SmpSpec,
    NEW_PASSWORD, USER,
};
pub use policy::{CharClass, PasswordPolicy, RECOMMENDED_MIN_LENGTH};

/// The environment variable that overrides [`default_dir`].
pub const PROFILES_ENV: &str = "TEMPER_PROFILES";

/// One device model, validated. `Debug` redacts the default passwords.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Short stable id, e.g. `ipcam`.
    pub id: String,
    /// Model name.
    pub name: String,
    /// Manufacturer.
    pub vendor: String,
    /// The protocol driver.
    pub driver: Driver,
    /// The file it was loaded from.
    pub source_path: PathBuf,
    /// SHA-256 of the file's bytes, lowercase hex (recorded in reports).
    pub source_hash: String,
    /// How the model is recognised.
    pub recognition: Recognition,
    /// The console driver's settings (driver "console").
    pub console: Option<crate::proto::console::ConsoleConfig>,
    /// The SMP driver's settings (driver "smp").
    pub smp: Option<SmpSpec>,
    /// The Bluetooth LE identity, for a model reachable over BLE.
    pub ble: Option<BleIdentity>,
    /// Serial speed in bit/s.
    pub baud: u32,
    /// How to read the device's IP address.
    pub address: AddressSpec,
    /// What the device accepts as a password.
    pub password_policy: PasswordPolicy,
    /// Credential stores with default passwords, in file order.
    pub credentials: Vec<CredentialStore>,
    /// Factory accounts to lock, when the model has any.
    pub accounts: Option<Accounts>,
    /// Network services, in file order.
    pub services: Vec<ServiceSpec>,
    /// UDP ports probed beyond Temper's standard set.
    pub extra_udp_ports: Vec<u16>,
    /// Default-credential trials in flight at once against one service.
    pub trial_concurrency: usize,
    /// How the device's clock is set, when the profile says.
    pub clock: Option<ClockSpec>,
    /// Per-device certificate handling, when the model serves or uses TLS.
    pub certificate: Option<CertificateSpec>,
}

/// Trials in flight at once when a profile does not say.
pub const DEFAULT_TRIAL_CONCURRENCY: usize = 8;

impl Profile {
    /// This profile with its devices told to make `key` keys (a key kind name such as `ecdsa-p384`), and
    /// a CSR with any other key refused. A choice only narrows the profile: refused, saying why and what
    /// the profile allows, when its `[certificate]` does not allow `key` or its device picks its own key
    /// type. A profile without `[certificate]` is returned unchanged.
    pub fn with_cert_key(&self, key: &str) -> Result<Profile, String> {
        let kind = crate::pki::AllowedKey::from_name(key).ok_or_else(|| {
            format!(
                "unknown key type {key:?}: use {}",
                crate::pki::AllowedKey::NAMES.join(", ")
            )
        })?;
        let mut profile = self.clone();
        if let Some(cert) = &self.certificate {
            profile.certificate = Some(cert.with_key(kind)?);
        }
        Ok(profile)
    }

    /// Reads and validates one profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        parse_file(path).map(|(profile, _)| profile)
    }

    /// Validates a profile from text; `path` is only used in errors and [`Profile::source_path`].
    pub fn from_toml_str(source: &str, path: &Path) -> Result<Profile, ProfileError> {
        parse(source, path).map(|(profile, _)| profile)
    }

    /// The credential store with this id.
    pub fn credential(&self, id: &str) -> Option<&CredentialStore> {
        self.credentials.iter().find(|c| c.id == id)
    }

    /// The service with this id.
    pub fn service(&self, id: &str) -> Option<&ServiceSpec> {
        self.services.iter().find(|s| s.id == id)
    }

    /// The service the device's certificate is served on (`None` without a certificate section, and for a
    /// TLS client, which serves nothing).
    pub fn tls_service(&self) -> Option<&ServiceSpec> {
        let id = self.certificate.as_ref()?.service.as_deref()?;
        self.service(id)
    }
}

/// Loads every `*.toml` in `dir` (not recursively), sorted by id. Any invalid profile, or two profiles with
/// the same id, fails the whole load.
pub fn load_dir(dir: &Path) -> Result<Vec<Profile>, ProfileError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ProfileError::io(dir, &e))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| ProfileError::io(dir, &e))?.path();
        if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    let mut seen: HashMap<String, PathBuf> = HashMap::new();
    let mut profiles = Vec::with_capacity(paths.len());
    for path in paths {
        let (profile, id_at) = parse_file(&path)?;
        if let Some(first) = seen.insert(profile.id.clone(), path.clone()) {
            let message = format!(
                "the id {:?} is already used by {}",
                profile.id,
                first.display()
            );
            let help = "give each profile its own id";
            return Err(ProfileError::new(
                ProfileErrorKind::Duplicate,
                &path,
                Some(id_at),
                "profile.id",
                message,
                help,
            ));
        }
        profiles.push(profile);
    }
    profiles.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(profiles)
}

/// Where profiles live: `$TEMPER_PROFILES` if set and not empty, else the workspace's `provisioning-profiles/`.
pub fn default_dir() -> PathBuf {
    match std::env::var_os(PROFILES_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../provisioning-profiles"),
    }
}

/// The JSON Schema of profile files, pretty-printed with a trailing newline (the content of
/// `provisioning-profiles/profile.schema.json`).
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(raw::RawProfile);
    schema.schema.extensions.insert(
        "$comment".into(),
        "Generated from temper_core::profile::json_schema(); do not edit. Regenerate with \
         TEMPER_UPDATE_SCHEMA=1 cargo test -p temper-core --test profiles"
            .into(),
    );
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

fn parse_file(path: &Path) -> Result<(Profile, Location), ProfileError> {
    let bytes = std::fs::read(path).map_err(|e| ProfileError::io(path, &e))?;
    let source = String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let source = String::from_utf8_lossy(e.as_bytes());
        let location = Some(Location::in_source(&source, at..at + 1));
        ProfileError::new(
            ProfileErrorKind::Syntax,
            path,
            location,
            "",
            "the file is not UTF-8",
            "save the profile as UTF-8",
        )
    })?;
    parse(&source, path)
}

/// Parses, validates and builds; also returns where the profile id is written (for duplicate-id errors).
fn parse(source: &str, path: &Path) -> Result<(Profile, Location), ProfileError> {
    let raw: raw::RawProfile =
        toml::from_str(source).map_err(|e| ProfileError::from_toml(&e, source, path))?;
    validate::validate(&raw).map_err(|issue| issue.locate(source, path))?;
    let id_at = Location::in_source(source, raw.profile.id.span());
    let hash = hex::encode(Sha256::digest(source.as_bytes()));
    let profile = build::build(raw, path, hash).map_err(|issue| issue.locate(source, path))?;
    Ok((profile, id_at))
}
