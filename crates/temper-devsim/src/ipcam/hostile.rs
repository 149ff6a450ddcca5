//! Hostile device modes: a camera that misbehaves on request, so that the station's certificate and
//! clock checks can be tested against a device that lies.
//!
//! Turned on with `temper-devsim run --hostile MODE` (repeatable) or [`crate::SimOptions::hostile`];
//! several modes combine. Without any, the camera behaves exactly as documented in [`super::certtool`]
//! and [`super::clock`].
//!
//! - `csr-foreign-key`: `certtool csr` signs the request with a throwaway key made for that request
//!   (same type as the device key), not the key from `certtool genkey`; a certificate for that key is
//!   then refused by `certtool install` like any other (`ERR certificate does not match the device key`).
//! - `csr-no-challenge`: the CSR carries no challengePassword attribute.
//! - `csr-stale-challenge`: the CSR carries the fixed challenge [`STALE_CHALLENGE`] instead of the one
//!   given (a pre-made or replayed request). With `csr-no-challenge` too, the CSR carries none.
//! - `csr-ca-true`: the CSR also requests basicConstraints CA:TRUE (in its extensionRequest).
//! - `csr-foreign-san`: the CSR also requests the SAN DNS name [`FOREIGN_SAN_DNS`].
//! - `install-other-cert`: `certtool install` only parses what was sent, then stores (and httpsd serves
//!   after a restart) a self-signed certificate the device makes for its current key (CN = serial,
//!   SAN IP = the device address). Its `OK installed` line prints the fingerprint of the leaf that was
//!   sent; `certtool show` tells the truth about what is stored and served.
//! - `clock-stuck`: `date -s` prints the requested time as if it had been set, but the clock keeps
//!   running from 1970 plus the uptime.
//! - `genkey-wrong-type`: `certtool genkey` ignores `--type` and always makes an `ec-p256` key (old
//!   firmware that knows one key type), still answering `OK key generated`.
//!
//! Each misbehaviour, when it happens, is logged in `events.jsonl` as
//! `{"event":"hostile","mode":MODE,...}` with details (never a secret); the regular events (`csr-issued`,
//! `cert-installed`) keep telling the truth: what the CSR really carries, what was really stored.

use rcgen::string::Ia5String;
use rcgen::SanType;
use serde_json::{json, Map, Value};

use super::{tls, Device};
use crate::state::{sha256_hex, DeviceKey};

/// The challenge a `csr-stale-challenge` device puts in every CSR (a pre-made, replayed request).
pub const STALE_CHALLENGE: &str = "factory-0000";
/// The extra SAN DNS name a `csr-foreign-san` device requests.
pub const FOREIGN_SAN_DNS: &str = "evil.example";
/// The only key type a `genkey-wrong-type` device makes, whatever `--type` says.
pub const WRONG_KEY_TYPE: &str = "ec-p256";

/// One way the simulated device misbehaves (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum HostileMode {
    /// certtool csr signs the request with a throwaway key, not the device key.
    CsrForeignKey,
    /// The CSR carries no challengePassword attribute.
    CsrNoChallenge,
    /// The CSR carries the fixed challenge factory-0000 instead of the one given.
    CsrStaleChallenge,
    /// The CSR also requests basicConstraints CA:TRUE.
    CsrCaTrue,
    /// The CSR also requests SAN DNS evil.example.
    CsrForeignSan,
    /// certtool install stores a self-signed certificate but prints the sent leaf's fingerprint.
    InstallOtherCert,
    /// date -s answers as if it worked but the clock is not changed.
    ClockStuck,
    /// certtool genkey ignores --type and always makes an ec-p256 key.
    GenkeyWrongType,
}

impl HostileMode {
    pub const ALL: [HostileMode; 8] = [
        HostileMode::CsrForeignKey,
        HostileMode::CsrNoChallenge,
        HostileMode::CsrStaleChallenge,
        HostileMode::CsrCaTrue,
        HostileMode::CsrForeignSan,
        HostileMode::InstallOtherCert,
        HostileMode::ClockStuck,
        HostileMode::GenkeyWrongType,
    ];

    /// The name on the command line and in events.
    pub fn id(self) -> &'static str {
        match self {
            HostileMode::CsrForeignKey => "csr-foreign-key",
            HostileMode::CsrNoChallenge => "csr-no-challenge",
            HostileMode::CsrStaleChallenge => "csr-stale-challenge",
            HostileMode::CsrCaTrue => "csr-ca-true",
            HostileMode::CsrForeignSan => "csr-foreign-san",
            HostileMode::InstallOtherCert => "install-other-cert",
            HostileMode::ClockStuck => "clock-stuck",
            HostileMode::GenkeyWrongType => "genkey-wrong-type",
        }
    }

    pub fn from_id(id: &str) -> Option<HostileMode> {
        HostileMode::ALL.into_iter().find(|m| m.id() == id)
    }
}

impl std::fmt::Display for HostileMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Device {
    /// Whether the simulator was started with this hostile mode.
    pub fn hostile(&self, mode: HostileMode) -> bool {
        self.opts.hostile.contains(&mode)
    }

    /// Log `{"event":"hostile","mode":MODE, ...fields}`.
    pub fn log_hostile(&self, mode: HostileMode, fields: Value) {
        let mut obj = Map::new();
        obj.insert("mode".into(), Value::from(mode.id()));
        if let Value::Object(extra) = fields {
            obj.extend(extra);
        }
        self.events.log("hostile", Value::Object(obj));
    }
}

/// What `certtool csr` is about to put into a request.
pub struct CsrRequest {
    /// The key that signs it (and whose public key it carries).
    pub key: DeviceKey,
    /// The challengePassword; `None`: no such attribute.
    pub challenge: Option<String>,
    pub sans: Vec<SanType>,
    /// Request basicConstraints CA:TRUE.
    pub ca: bool,
}

/// Apply the CSR modes that are on. Returns the hostile events to log once the request is out.
pub fn distort_csr(
    dev: &Device,
    req: &mut CsrRequest,
) -> Result<Vec<(HostileMode, Value)>, String> {
    let mut done = Vec::new();
    if dev.hostile(HostileMode::CsrForeignKey) {
        let foreign = tls::generate_key(&req.key.kind)?;
        let spki = tls::spki_der(&foreign)?;
        done.push((
            HostileMode::CsrForeignKey,
            json!({"type": foreign.kind, "spki_sha256": tls::fingerprint(&spki)}),
        ));
        req.key = foreign;
    }
    if dev.hostile(HostileMode::CsrNoChallenge) {
        let given = req.challenge.take().map(|c| sha256_hex(&c));
        done.push((
            HostileMode::CsrNoChallenge,
            json!({"omitted_challenge_sha256": given}),
        ));
    } else if dev.hostile(HostileMode::CsrStaleChallenge) {
        let given = req.challenge.replace(STALE_CHALLENGE.into());
        done.push((
            HostileMode::CsrStaleChallenge,
            json!({"challenge": STALE_CHALLENGE,
                   "replaced_challenge_sha256": given.map(|c| sha256_hex(&c))}),
        ));
    }
    if dev.hostile(HostileMode::CsrCaTrue) {
        req.ca = true;
        done.push((HostileMode::CsrCaTrue, json!({})));
    }
    if dev.hostile(HostileMode::CsrForeignSan) {
        let name = Ia5String::try_from(FOREIGN_SAN_DNS).map_err(|e| e.to_string())?;
        req.sans.push(SanType::DnsName(name));
        done.push((
            HostileMode::CsrForeignSan,
            json!({"san_dns": FOREIGN_SAN_DNS}),
        ));
    }
    Ok(done)
}

/// `install-other-cert`: the DER of a fresh self-signed certificate for `key` (CN = the serial, SAN IP =
/// the device address, rcgen's default validity 1975..4096).
pub fn other_cert(dev: &Device, key: &DeviceKey) -> Result<Vec<u8>, String> {
    let kp = tls::key_pair(key)?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, dev.serial());
    params.subject_alt_names = vec![SanType::IpAddress(dev.ip.into())];
    let cert = params.self_signed(&kp).map_err(|e| e.to_string())?;
    Ok(cert.der().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn ids_match_the_command_line_names() {
        assert_eq!(HostileMode::value_variants(), HostileMode::ALL.as_slice());
        for m in HostileMode::ALL {
            let pv = m.to_possible_value().unwrap();
            assert_eq!(pv.get_name(), m.id());
            assert_eq!(HostileMode::from_id(m.id()), Some(m));
            assert_eq!(m.to_string(), m.id());
        }
        assert_eq!(HostileMode::from_id("nice"), None);
    }
}
