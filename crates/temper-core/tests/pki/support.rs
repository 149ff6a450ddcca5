//! Helpers for the PKI tests: a device identity and policy, CSRs made by rcgen and by `openssl req`.

use base64::Engine;
use rcgen::{Attribute, CertificateParams, DnType, KeyPair};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};
use temper_core::pki::{check_csr, CaKeyKind, CertPolicy, CheckedCsr, DeviceIdentity, StationCa};
use temper_core::Secret;

pub const CHALLENGE: &str = "q7-Xw2pLr9vZk4Tn";
pub const DAY: Duration = Duration::from_secs(86_400);

pub fn identity() -> DeviceIdentity {
    DeviceIdentity {
        serial: "SV2100-0042".into(),
        dns: Some("cam-0042.local".into()),
        ip: Some("127.0.0.42".parse().unwrap()),
    }
}

pub fn policy() -> CertPolicy {
    CertPolicy {
        subject_cn: "ipcam-{serial}".into(),
        ..CertPolicy::default()
    }
}

pub fn ca(kind: CaKeyKind) -> StationCa {
    StationCa::generate(kind, "Temper station CA", SystemTime::now()).unwrap()
}

pub fn to_pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A CSR made with rcgen: `edit` may add any requested extension; `challenge` goes into the
/// challengePassword attribute (UTF8String, as OpenSSL 3 writes it).
pub fn rcgen_csr(
    key: &KeyPair,
    challenge: Option<&str>,
    edit: impl FnOnce(&mut CertificateParams),
) -> String {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "ipcam-SV2100-0042");
    edit(&mut params);
    let attrs = challenge
        .map(|c| {
            let mut value = vec![0x0c, c.len() as u8];
            value.extend_from_slice(c.as_bytes());
            let mut set = vec![0x31, value.len() as u8];
            set.extend(value);
            vec![Attribute {
                oid: &[1, 2, 840, 113549, 1, 9, 7],
                values: set,
            }]
        })
        .unwrap_or_default();
    params
        .serialize_request_with_attributes(key, attrs)
        .unwrap()
        .pem()
        .unwrap()
}

pub fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl CLI is installed");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// A CSR made by `openssl req` with a config (prompt=no) carrying the challengePassword.
pub fn openssl_csr(
    dir: &Path,
    key_args: &[&str],
    challenge: Option<&str>,
    addext: &[&str],
) -> String {
    let attrs = challenge.map_or(String::new(), |c| {
        format!("attributes = attrs\n[attrs]\nchallengePassword = {c}\n")
    });
    let conf = format!(
        "[req]\nprompt = no\ndistinguished_name = dn\n{}[dn]\nCN = ipcam-SV2100-0042\nO = Simvision\n",
        attrs
    );
    std::fs::write(dir.join("req.cnf"), conf).unwrap();
    let mut args = vec![
        "req", "-new", "-nodes", "-config", "req.cnf", "-keyout", "dev.key", "-out", "dev.csr",
    ];
    args.extend_from_slice(key_args);
    for ext in addext {
        args.extend_from_slice(&["-addext", ext]);
    }
    let (ok, text) = openssl(dir, &args);
    assert!(ok, "openssl req failed: {text}");
    let (ok, text) = openssl(dir, &["req", "-verify", "-noout", "-in", "dev.csr"]);
    assert!(
        ok && text.contains("verify OK"),
        "openssl req -verify: {text}"
    );
    std::fs::read_to_string(dir.join("dev.csr")).unwrap()
}

pub const P256: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

pub fn checked(pem: &str) -> CheckedCsr {
    check_csr(pem, &policy(), &identity(), CHALLENGE).unwrap()
}

/// An RSA-3072 CA made by OpenSSL (ring cannot generate RSA keys), imported as a station CA.
pub fn openssl_rsa_ca(dir: &Path) -> StationCa {
    let keygen = "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out rsa.key";
    let (ok, text) = openssl(dir, &keygen.split(' ').collect::<Vec<_>>());
    assert!(ok, "{text}");
    let conf = "[req]\nprompt=no\ndistinguished_name=dn\n[dn]\nCN=RSA station CA\n";
    std::fs::write(dir.join("ca.cnf"), conf).unwrap();
    let req = "req -x509 -new -key rsa.key -config ca.cnf -days 30 -out rsa-ca.pem \
               -addext basicConstraints=critical,CA:TRUE,pathlen:0 \
               -addext keyUsage=critical,keyCertSign,cRLSign";
    let (ok, text) = openssl(dir, &req.split_whitespace().collect::<Vec<_>>());
    assert!(ok, "{text}");
    StationCa::from_pem(
        &std::fs::read_to_string(dir.join("rsa-ca.pem")).unwrap(),
        &Secret::new(std::fs::read_to_string(dir.join("rsa.key")).unwrap()),
    )
    .unwrap()
}
