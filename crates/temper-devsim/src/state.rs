//! Persistent device state (`state.json`), written atomically: temp file, fsync, rename, fsync dir.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::SimError;

pub const STATE_FILE: &str = "state.json";

/// A stored credential: never the plaintext.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Credential {
    /// Shell account: hex SHA-256 of `salt:password`.
    SaltedSha256 { salt: String, hash: String },
    /// Digest account: HA1 = MD5(user:realm:password), what a Digest server needs. The SHA-256 of the
    /// password is kept too so that a successful Digest login can be logged like the others.
    DigestHa1 {
        user: String,
        realm: String,
        ha1: String,
        password_sha256: String,
    },
}

impl Credential {
    pub fn salted(password: &str) -> Credential {
        const ALPHA: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut rng = rand::thread_rng();
        let salt: String = (0..8)
            .map(|_| ALPHA[rng.gen_range(0..ALPHA.len())] as char)
            .collect();
        let hash = salted_hash(&salt, password);
        Credential::SaltedSha256 { salt, hash }
    }

    pub fn digest(user: &str, realm: &str, password: &str) -> Credential {
        Credential::DigestHa1 {
            user: user.to_string(),
            realm: realm.to_string(),
            ha1: md5_hex(&format!("{user}:{realm}:{password}")),
            password_sha256: sha256_hex(password),
        }
    }

    /// Check a plaintext password (shell logins).
    pub fn verify(&self, password: &str) -> bool {
        match self {
            Credential::SaltedSha256 { salt, hash } => salted_hash(salt, password) == *hash,
            Credential::DigestHa1 {
                user, realm, ha1, ..
            } => md5_hex(&format!("{user}:{realm}:{password}")) == *ha1,
        }
    }
}

fn salted_hash(salt: &str, password: &str) -> String {
    sha256_hex(&format!("{salt}:{password}"))
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

pub fn md5_hex(s: &str) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(s.as_bytes()))
}

/// Everything a device remembers across power cycles.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceState {
    pub model: String,
    pub serial: String,
    pub boot_count: u64,
    /// Last event sequence number written (the log itself is authoritative when it is ahead).
    pub event_seq: u64,
    /// Credential store id (e.g. `shell-root`) to its hash.
    pub credentials: BTreeMap<String, Credential>,
    /// Locked login accounts.
    pub locked: BTreeSet<String>,
    /// Service id to "enabled at boot".
    pub services: BTreeMap<String, bool>,
    /// PTY path of the previous run (a restarted device gets a different one).
    #[serde(default)]
    pub last_port: Option<String>,
    /// Device key and installed certificate chain (`certtool`).
    #[serde(default)]
    pub tls: TlsState,
    /// What plain HTTP on port 80 does (`cfgcli -s web.http_mode`).
    #[serde(default)]
    pub http_mode: HttpMode,
}

/// `web.http_mode`: the web admin on plain HTTP.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum HttpMode {
    /// The Digest web admin answers on port 80 (factory default).
    #[default]
    On,
    /// Every request on port 80 gets `301` to https, no authentication.
    Redirect,
    /// Port 80 is closed.
    Off,
}

impl HttpMode {
    pub fn id(self) -> &'static str {
        match self {
            HttpMode::On => "on",
            HttpMode::Redirect => "redirect",
            HttpMode::Off => "off",
        }
    }

    pub fn from_id(id: &str) -> Option<HttpMode> {
        match id {
            "on" => Some(HttpMode::On),
            "redirect" => Some(HttpMode::Redirect),
            "off" => Some(HttpMode::Off),
            _ => None,
        }
    }
}

/// A private key made on the device (PKCS#8 PEM). It never leaves the state file: not printed, not
/// logged, and `Debug` redacts it.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceKey {
    /// `ec-p256`, `ec-p384` or `ed25519`.
    pub kind: String,
    pub pkcs8_pem: String,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKey")
            .field("kind", &self.kind)
            .field("pkcs8_pem", &"<redacted>")
            .finish()
    }
}

/// A certificate chain installed with `certtool install`, with the key it was installed for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstalledChain {
    /// PEM certificates, leaf first.
    pub chain_pem: Vec<String>,
    pub key: DeviceKey,
    /// Lower-case hex SHA-256 of the leaf's DER.
    pub fingerprint: String,
}

/// Certificate state of the device.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TlsState {
    /// The key of the last `certtool genkey` (the one `certtool csr` signs with). One-slot models.
    pub key: Option<DeviceKey>,
    /// The chain `httpsd` loads when it starts; the factory certificate when `None`. One-slot models.
    pub installed: Option<InstalledChain>,
    /// Two-slot models (`ipcam-pro`): slot number (1, 2) to its key and chain; a slot with neither is
    /// absent. Always empty (and not written) on one-slot models.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slots: BTreeMap<u8, CertSlot>,
    /// Two-slot models: the slot httpsd serves (`certtool use --slot N`); `None`: the factory certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_slot: Option<u8>,
}

/// One certificate slot of a two-slot model.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertSlot {
    /// The slot's key (`certtool genkey --slot N`).
    pub key: Option<DeviceKey>,
    /// The chain installed into the slot for that key (`certtool install --slot N`).
    pub installed: Option<InstalledChain>,
}

impl TlsState {
    /// The chain httpsd loads when it starts: the active slot's (two-slot models) or the installed
    /// one (one-slot models); `None`: the factory certificate.
    pub fn serving_chain(&self) -> Option<&InstalledChain> {
        match self.active_slot {
            Some(n) => self.slots.get(&n).and_then(|slot| slot.installed.as_ref()),
            None => self.installed.as_ref(),
        }
    }
}

impl DeviceState {
    pub fn new(model: &str) -> DeviceState {
        let serial = hex::encode(rand::thread_rng().gen::<[u8; 8]>());
        DeviceState {
            model: model.to_string(),
            serial,
            boot_count: 0,
            event_seq: 0,
            credentials: BTreeMap::new(),
            locked: BTreeSet::new(),
            services: BTreeMap::new(),
            last_port: None,
            tls: TlsState::default(),
            http_mode: HttpMode::default(),
        }
    }
}

/// The state file of one device directory.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    pub fn new(dir: &Path) -> Result<StateStore, SimError> {
        fs::create_dir_all(dir).map_err(|e| SimError::io(dir.display().to_string(), e))?;
        Ok(StateStore {
            dir: dir.to_path_buf(),
        })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn load(&self) -> Result<Option<DeviceState>, SimError> {
        let path = self.path();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| SimError::CorruptState { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SimError::io(path.display().to_string(), e)),
        }
    }

    /// Atomic replace: after this returns, a power cut leaves either the old or the new state.
    pub fn save(&self, state: &DeviceState) -> Result<(), SimError> {
        save_json_atomically(&self.dir, state)
    }
}

/// Writes `value` as pretty JSON to `dir/state.json` by atomic replace (temp file, fsync, rename, fsync of the
/// directory): after it returns, a power cut leaves either the old or the new state. Every model's state uses it.
pub fn save_json_atomically(dir: &Path, value: &impl Serialize) -> Result<(), SimError> {
    save_named_json_atomically(dir, STATE_FILE, value)
}

/// Like [`save_json_atomically`] for another file of the state directory (`name`, e.g. `settings.json`),
/// for a model that keeps some of its state in files of its own.
pub fn save_named_json_atomically(
    dir: &Path,
    name: &str,
    value: &impl Serialize,
) -> Result<(), SimError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let io = |e| SimError::io(tmp.display().to_string(), e);
    let mut json = serde_json::to_vec_pretty(value).expect("state serialises");
    json.push(b'\n');
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io)?;
        f.write_all(&json).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    let path = dir.join(name);
    fs::rename(&tmp, &path).map_err(|e| SimError::io(path.display().to_string(), e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SimError::io(dir.display().to_string(), e))
}
