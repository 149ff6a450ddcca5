//! TLS credentials of the sensor (Zephyr's `tls_credentials`) and the `cred` shell subset.
//!
//! Store: CA_CERT and PUBLIC_CERT certificates (DER) by sectag, and the device key, the PRIVATE_KEY of sectag
//! [`DEVICE_SECTAG`] (made by `cert genkey`, never printed). All of it persists in `creds.json` (atomic
//! replace); the staging buffer of `cred buf` is RAM only.
//!
//! - `cred buf <base64>` appends text to the staging buffer (`Stored N bytes.`); more than [`MAX_CRED`] bytes
//!   once decoded → Zephyr's "Not enough room ..." error (ret -12) and the buffer is cleared. `cred buf
//!   clear` → `Credential buffer cleared.`
//! - `cred add <sectag> <type> DEFAULT <bin|bint>` decodes the buffer and stores it as `<type>` (CA_CERT or
//!   PUBLIC_CERT; Zephyr's synonyms CA, SERVER_CERT, CLIENT_CERT, SELF_CERT ... too) → `Added TLS credential of
//!   type <T>, sectag <S>, and length <N> bytes.`; the buffer is cleared either way. The bytes must be one DER
//!   X.509 certificate; a PUBLIC_CERT must carry the device key (`error: certificate does not match the device
//!   key`, `error: no key` without one). An existing (sectag, type) is refused, as Zephyr does (-17). Unlike
//!   Zephyr, `bint` stores the DER without a NUL terminator.
//! - `cred del <sectag> <type>` → `Deleted TLS credential with sectag <S> and type <T>.` (PRIVATE_KEY 42
//!   forgets the device key).
//! - `cred list [<sectag>|any [<type>|any]]` → `<sectag>,<type>,<digest>,0` per credential, then `N
//!   credentials found.`; digest = base64 (standard, padded) of the SHA-256 of the stored bytes, of the public
//!   key's DER SubjectPublicKeyInfo for the PRIVATE_KEY. Types are printed CA_CERT, PUBLIC_CERT, PRIVATE_KEY
//!   (Zephyr prints the compact CA, SERV, PK).

use std::fs;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::shell::{sub_help, Output, EEXIST, EINVAL, EIO, ENOENT, ENOEXEC, ENOMEM};
use super::smp::Server;
use crate::devkey::spki_der;
use crate::ipcam::certfmt::leaf_spki;
use crate::state::{save_named_json_atomically, DeviceKey};
use crate::SimError;

/// Where the credentials live in the state directory.
pub const CREDS_FILE: &str = "creds.json";
/// The sectag of the device key and the device certificate.
pub const DEVICE_SECTAG: u32 = 42;
/// Most bytes a credential has (decoded).
pub const MAX_CRED: usize = 4096;
/// Most base64 characters the staging buffer holds (what decodes to at most [`MAX_CRED`] bytes).
const MAX_STAGED: usize = MAX_CRED.div_ceil(3) * 4;
const CLEARED: &str = "Credential buffer cleared.";
const SUBCOMMANDS: &[(&str, &str)] = &[
    ("buf", "Buffer in credential data so it can be added."),
    ("add", "Add a TLS credential."),
    ("del", "Delete a TLS credential."),
    (
        "list",
        "List stored TLS credentials, optionally filtering by type or sectag.",
    ),
];

/// A credential type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CredType {
    #[serde(rename = "CA_CERT")]
    CaCert,
    #[serde(rename = "PUBLIC_CERT")]
    PublicCert,
    #[serde(rename = "PRIVATE_KEY")]
    PrivateKey,
}

impl CredType {
    /// The name the shell prints.
    pub fn name(self) -> &'static str {
        match self {
            CredType::CaCert => "CA_CERT",
            CredType::PublicCert => "PUBLIC_CERT",
            CredType::PrivateKey => "PRIVATE_KEY",
        }
    }

    /// A type name as the shell takes it (case-insensitive, Zephyr's synonyms).
    fn parse(s: &str) -> Option<CredType> {
        match s.to_ascii_uppercase().as_str() {
            "CA_CERT" | "CA" => Some(CredType::CaCert),
            "PUBLIC_CERT" | "SERVER_CERT" | "CLIENT_CERT" | "SELF_CERT" | "SELF" | "CLIENT"
            | "SERV" => Some(CredType::PublicCert),
            "PRIVATE_KEY" | "PK" => Some(CredType::PrivateKey),
            _ => None,
        }
    }
}

/// One stored certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredCert {
    sectag: u32,
    #[serde(rename = "type")]
    kind: CredType,
    /// Base64 of the DER.
    der: String,
}

/// Everything `creds.json` holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredStore {
    certificates: Vec<StoredCert>,
    device_key: Option<DeviceKey>,
}

impl CredStore {
    /// Reads `DIR/creds.json`; empty when there is none.
    pub fn load(dir: &Path) -> Result<CredStore, SimError> {
        let path = dir.join(CREDS_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| SimError::CorruptState { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CredStore::default()),
            Err(e) => Err(SimError::io(path.display().to_string(), e)),
        }
    }

    fn save(&self, dir: &Path) -> Result<(), SimError> {
        save_named_json_atomically(dir, CREDS_FILE, self)
    }

    /// The device key (PRIVATE_KEY of sectag 42).
    pub fn key(&self) -> Option<&DeviceKey> {
        self.device_key.as_ref()
    }

    /// Replaces (or, with `None`, forgets) the device key and persists that.
    pub fn set_key(&mut self, dir: &Path, key: Option<DeviceKey>) -> Result<(), SimError> {
        let before = std::mem::replace(&mut self.device_key, key);
        self.save(dir).inspect_err(|_| self.device_key = before)
    }

    /// The DER of the credential `kind` of `sectag` (certificates only).
    pub fn cert(&self, sectag: u32, kind: CredType) -> Option<Vec<u8>> {
        self.certificates
            .iter()
            .find(|c| c.sectag == sectag && c.kind == kind)
            .and_then(|c| B64.decode(&c.der).ok())
    }

    /// Every CA_CERT, whatever its sectag.
    pub fn ca_certs(&self) -> Vec<Vec<u8>> {
        self.certificates
            .iter()
            .filter(|c| c.kind == CredType::CaCert)
            .filter_map(|c| B64.decode(&c.der).ok())
            .collect()
    }

    /// Every credential as (sectag, type, stored bytes), sorted; the key as its public key's DER.
    fn entries(&self) -> Vec<(u32, CredType, Vec<u8>)> {
        let mut all: Vec<_> = self
            .certificates
            .iter()
            .filter_map(|c| Some((c.sectag, c.kind, B64.decode(&c.der).ok()?)))
            .collect();
        if let Some(spki) = self.device_key.as_ref().and_then(|k| spki_der(k).ok()) {
            all.push((DEVICE_SECTAG, CredType::PrivateKey, spki));
        }
        all.sort();
        all
    }
}

/// `cred ARGS`.
pub(crate) fn command(server: &mut Server, args: &[&str]) -> Output {
    match args {
        [] | ["-h" | "--help"] => sub_help("cred", SUBCOMMANDS),
        ["buf", "clear"] => {
            server.app.cred_buf.clear();
            Output::ok([CLEARED])
        }
        ["buf", chunk] => buf(server, chunk),
        ["add", sectag, kind, backend, format] => {
            let out = add(server, sectag, kind, backend, format);
            let had = !std::mem::take(&mut server.app.cred_buf).is_empty();
            match had {
                true => Output::lines(out.text.lines().chain([CLEARED]), out.ret),
                false => out,
            }
        }
        ["del", sectag, kind] => del(server, sectag, kind),
        ["list", filter @ ..] if filter.len() <= 2 => list(server, filter),
        [s @ ("buf" | "add" | "del" | "list"), ..] => {
            Output::err(format!("{s}: wrong parameter count"), EINVAL)
        }
        [other, ..] => Output::err(format!("cred: unknown parameter: {other}"), ENOEXEC),
    }
}

fn buf(server: &mut Server, chunk: &str) -> Output {
    if server.app.cred_buf.len() + chunk.len() > MAX_STAGED {
        server.app.cred_buf.clear();
        return Output::lines(
            [
                "Not enough room in credential buffer for provided data. Increase CONFIG_TLS_CREDENTIALS_SHELL_CRED_BUF_SIZE.",
                CLEARED,
            ],
            -ENOMEM,
        );
    }
    server.app.cred_buf.push_str(chunk);
    Output::ok([format!("Stored {} bytes.", chunk.len())])
}

fn sectag_arg(s: &str) -> Result<u32, Output> {
    s.parse::<u32>()
        .ok()
        .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| Output::err(format!("{s} is not a valid sectag."), EINVAL))
}

fn type_arg(s: &str) -> Result<CredType, Output> {
    CredType::parse(s)
        .ok_or_else(|| Output::err(format!("{s} is not a valid credential type."), EINVAL))
}

/// `cred add`; the caller clears the buffer.
fn add(server: &mut Server, sectag: &str, kind: &str, backend: &str, format: &str) -> Output {
    let (sectag, kind) = match (sectag_arg(sectag), type_arg(kind)) {
        (Ok(s), Ok(k)) => (s, k),
        (Err(out), _) | (_, Err(out)) => return out,
    };
    if !backend.eq_ignore_ascii_case("default") {
        return Output::err(format!("{backend} is not a valid backend."), EINVAL);
    }
    if !["bin", "bint"]
        .iter()
        .any(|f| f.eq_ignore_ascii_case(format))
    {
        return Output::err(format!("{format} is not a valid storage format."), EINVAL);
    }
    if server.app.cred_buf.is_empty() {
        return Output::err("Please provide a credential to add.", ENOENT);
    }
    let exists = match kind {
        CredType::PrivateKey => server.app.creds.key().is_some(),
        _ => server.app.creds.cert(sectag, kind).is_some(),
    };
    if exists {
        let line = format!(
            "TLS credential with sectag {sectag} and type {} already exists.",
            kind.name()
        );
        return Output::err(line, EEXIST);
    }
    if kind == CredType::PrivateKey {
        return Output::err("error: the device makes its own key: cert genkey", EINVAL);
    }
    let der = match B64.decode(server.app.cred_buf.as_bytes()) {
        Ok(d) if d.len() <= MAX_CRED => d,
        Ok(_) => {
            return Output::err(
                "Not enough room in credential buffer for provided data.",
                ENOMEM,
            )
        }
        Err(_) => return Output::err("Could not decode input from base64, error: -22", EINVAL),
    };
    if !matches!(x509_parser::parse_x509_certificate(&der), Ok(([], _))) {
        return Output::err("error: not a DER X.509 certificate", EINVAL);
    }
    if kind == CredType::PublicCert {
        let Some(key) = server.app.creds.key() else {
            return Output::err("error: no key", ENOENT);
        };
        if spki_der(key).ok() != Some(leaf_spki(&der)) {
            server.events.log(
                "cred",
                json!({"op": "add", "sectag": sectag, "type": kind.name(), "refused": "key-mismatch"}),
            );
            return Output::err("error: certificate does not match the device key", EINVAL);
        }
    }
    let len = der.len();
    server.app.creds.certificates.push(StoredCert {
        sectag,
        kind,
        der: B64.encode(&der),
    });
    let dir = server.dir().to_path_buf();
    if let Err(e) = server.app.creds.save(&dir) {
        tracing::error!("credentials not saved: {e}");
        server.app.creds.certificates.pop();
        return Output::err("error: credential not stored", EIO);
    }
    server.events.log(
        "cred",
        json!({"op": "add", "sectag": sectag, "type": kind.name(), "len": len}),
    );
    Output::ok([format!(
        "Added TLS credential of type {}, sectag {sectag}, and length {len} bytes.",
        kind.name()
    )])
}

fn del(server: &mut Server, sectag: &str, kind: &str) -> Output {
    let (sectag, kind) = match (sectag_arg(sectag), type_arg(kind)) {
        (Ok(s), Ok(k)) => (s, k),
        (Err(out), _) | (_, Err(out)) => return out,
    };
    let dir = server.dir().to_path_buf();
    let store = &mut server.app.creds;
    let found = match kind {
        CredType::PrivateKey if sectag == DEVICE_SECTAG && store.key().is_some() => {
            store.set_key(&dir, None).map(|_| true)
        }
        CredType::PrivateKey => Ok(false),
        _ => match store
            .certificates
            .iter()
            .position(|c| c.sectag == sectag && c.kind == kind)
        {
            Some(i) => {
                let removed = store.certificates.remove(i);
                store
                    .save(&dir)
                    .inspect_err(|_| store.certificates.insert(i, removed))
                    .map(|_| true)
            }
            None => Ok(false),
        },
    };
    match found {
        Ok(true) => {
            server.events.log(
                "cred",
                json!({"op": "del", "sectag": sectag, "type": kind.name()}),
            );
            Output::ok([format!(
                "Deleted TLS credential with sectag {sectag} and type {}.",
                kind.name()
            )])
        }
        Ok(false) => Output::err(
            format!(
                "There is no TLS credential with sectag {sectag} and type {}.",
                kind.name()
            ),
            ENOENT,
        ),
        Err(e) => {
            tracing::error!("credentials not saved: {e}");
            Output::err("error: credential not deleted", EIO)
        }
    }
}

fn list(server: &Server, filter: &[&str]) -> Output {
    let any = |s: &&str| s.eq_ignore_ascii_case("any");
    let sectag = match filter.first().filter(|s| !any(s)) {
        Some(s) => match sectag_arg(s) {
            Ok(t) => Some(t),
            Err(out) => return out,
        },
        None => None,
    };
    let kind = match filter.get(1).filter(|s| !any(s)) {
        Some(s) => match type_arg(s) {
            Ok(k) => Some(k),
            Err(out) => return out,
        },
        None => None,
    };
    let mut lines: Vec<String> = server
        .app
        .creds
        .entries()
        .into_iter()
        .filter(|(t, k, _)| sectag.is_none_or(|s| s == *t) && kind.is_none_or(|f| f == *k))
        .map(|(t, k, bytes)| format!("{t},{},{},0", k.name(), B64.encode(Sha256::digest(&bytes))))
        .collect();
    lines.push(format!("{} credentials found.", lines.len()));
    Output::ok(lines)
}
