//! `--sign`: certificates signed per second by the station CA (`StationCa::sign`), in this process, next to
//! OpenSSL doing the same job on the same CA key and the same CSR.
//!
//! The CSR is made once by `openssl req` (a P-256 device key, the subject CN, IP SAN and challengePassword the
//! ipcam profile asks for) and checked once with `check_csr` against the ipcam profile's policy; every CA kind
//! then signs that one checked CSR `count` times. Anchors, on the CA's own certificate and key (written to a
//! temporary directory):
//! - `openssl ca -batch -infiles csr.pem ×count`: one process signs them all (it also verifies the CSR's signature
//!   each time and writes each certificate and the index); the rate is taken from the difference between that
//!   run and a run with one CSR, so process start-up is left out as it is for the in-process figure;
//! - `openssl x509 -req` once per certificate (what a shell-script CA does): process start-up included;
//! - `openssl speed -mr`: raw signatures per second of the CA's algorithm (the primitive alone).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context};
use temper_core::pki::{check_csr, CaKeyKind, CertPolicy, CheckedCsr, DeviceIdentity, StationCa};
use temper_core::profile::Profile;

use super::median;

const SERIAL: &str = "5566e0de322c605d";
const CHALLENGE: &str = "a7e75e4f2ace01614d6abcf8287a2c6a";
const IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
/// Rounds of the in-process and `openssl ca` measurements (the median is printed).
const ROUNDS: usize = 5;

struct Kind {
    name: &'static str,
    kind: CaKeyKind,
    /// `default_md` for `openssl ca`, as the station CA signs (P-384 with SHA-384; Ed25519 has none).
    md: &'static str,
    /// What `openssl speed` calls the algorithm, and how to find its line in `-mr` output.
    speed: &'static str,
}

const KINDS: &[Kind] = &[
    Kind {
        name: "ECDSA P-256",
        kind: CaKeyKind::EcdsaP256,
        md: "sha256",
        speed: "ecdsap256",
    },
    Kind {
        name: "ECDSA P-384",
        kind: CaKeyKind::EcdsaP384,
        md: "sha384",
        speed: "ecdsap384",
    },
    Kind {
        name: "Ed25519",
        kind: CaKeyKind::Ed25519,
        md: "default",
        speed: "ed25519",
    },
];

fn openssl(dir: &Path, args: &[&str]) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .context("run openssl (is it installed?)")?;
    let took = t0.elapsed();
    if !out.status.success() {
        bail!(
            "openssl {}: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(took)
}

/// The device's CSR (PEM), made by OpenSSL with a fresh P-256 key.
fn make_csr(dir: &Path) -> anyhow::Result<String> {
    std::fs::write(
        dir.join("req.cnf"),
        format!(
            "[req]\nprompt = no\ndistinguished_name = dn\nattributes = attrs\nreq_extensions = ext\n\
             [dn]\nCN = {SERIAL}\n[attrs]\nchallengePassword = {CHALLENGE}\n\
             [ext]\nsubjectAltName = IP:{IP}\n"
        ),
    )?;
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "dev.key",
            "-config",
            "req.cnf",
            "-out",
            "csr.pem",
        ],
    )?;
    Ok(std::fs::read_to_string(dir.join("csr.pem"))?)
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(bytes)?;
    Ok(())
}

/// Ed25519 PKCS#8 v2 (RFC 5958 OneAsymmetricKey with the public key, as ring writes it) up to the seed.
const ED25519_V2_HEAD: &[u8] = &[
    0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// The same key as PKCS#8 v1 (no public key), up to the seed.
const ED25519_V1_HEAD: &[u8] = &[
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Writes the CA key where OpenSSL reads it (`ca.key`). OpenSSL 3.0 does not load ring's Ed25519 PKCS#8 v2
/// (it fails with `unsupported`), so that key is rewritten as PKCS#8 v1: the same 32-byte seed, without the
/// optional copy of the public key. `openssl ca` then checks it against the CA certificate.
fn write_ca_key(d: &Path, pem: &str) -> anyhow::Result<()> {
    write_private(&d.join("ca.key"), pem.as_bytes())?;
    if openssl(d, &["pkey", "-in", "ca.key", "-noout"]).is_ok() {
        return Ok(());
    }
    openssl(d, &["base64", "-d", "-in", "ca.key", "-out", "ca.der"])?;
    let der = std::fs::read(d.join("ca.der"))?;
    let _ = std::fs::remove_file(d.join("ca.der"));
    if der.len() != ED25519_V2_HEAD.len() + 32 + 35 || !der.starts_with(ED25519_V2_HEAD) {
        bail!("OpenSSL cannot read the CA key, and it is not an Ed25519 PKCS#8 v2 key");
    }
    let seed = &der[ED25519_V2_HEAD.len()..ED25519_V2_HEAD.len() + 32];
    write_private(&d.join("ca-v1.der"), &[ED25519_V1_HEAD, seed].concat())?;
    let _ = std::fs::remove_file(d.join("ca.key"));
    openssl(
        d,
        &[
            "pkey",
            "-inform",
            "DER",
            "-in",
            "ca-v1.der",
            "-out",
            "ca.key",
        ],
    )?;
    std::fs::remove_file(d.join("ca-v1.der"))?;
    Ok(())
}

/// The extensions `StationCa::sign` writes for the ipcam policy, for `openssl ca` and `openssl x509 -req`.
fn leaf_extensions() -> String {
    format!(
        "basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = IP:{IP}\n\
         authorityKeyIdentifier = keyid\nsubjectKeyIdentifier = hash\n"
    )
}

/// Seconds for `count` signatures, median of ROUNDS rounds.
fn time_in_process(
    count: usize,
    mut job: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    for _ in 0..count.min(20) {
        job()?; // warm-up
    }
    let mut rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let t0 = Instant::now();
        for _ in 0..count {
            job()?;
        }
        rounds.push(t0.elapsed().as_secs_f64());
    }
    Ok(median(rounds))
}

/// `openssl ca` signing the CSR `n` times in one process, in a fresh database.
fn openssl_ca(dir: &Path, n: usize) -> anyhow::Result<f64> {
    let db = dir.join("db");
    let _ = std::fs::remove_dir_all(&db);
    std::fs::create_dir_all(db.join("new"))?;
    std::fs::write(db.join("index.txt"), "")?;
    let mut args = vec![
        "ca",
        "-batch",
        "-notext",
        "-config",
        "ca.cnf",
        "-out",
        "db/out.pem",
        "-infiles",
    ];
    args.extend(std::iter::repeat_n("csr.pem", n));
    let took = openssl(dir, &args)?.as_secs_f64();
    let issued = std::fs::read_dir(db.join("new"))?.count();
    if issued != n {
        bail!("openssl ca issued {issued} certificates, not {n}");
    }
    Ok(took)
}

/// Raw signatures per second of each algorithm, from `openssl speed -mr`.
fn openssl_speed(seconds: u32) -> anyhow::Result<Vec<(&'static str, f64)>> {
    let mut args = vec![
        "speed".to_string(),
        "-mr".into(),
        "-seconds".into(),
        seconds.to_string(),
    ];
    args.extend(KINDS.iter().map(|k| k.speed.to_string()));
    let out = Command::new("openssl")
        .args(&args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .context("openssl speed")?;
    parse_speed(&String::from_utf8_lossy(&out.stdout))
}

fn parse_speed(text: &str) -> anyhow::Result<Vec<(&'static str, f64)>> {
    let mut rates = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        // +F4:IDX:BITS:SIGN/S:VERIFY/S (ECDSA), +F6:IDX:BITS:NAME:SIGN/S:VERIFY/S (EdDSA)
        let (speed, rate) = match f.as_slice() {
            ["+F4", _, "256", sign, _] => ("ecdsap256", sign),
            ["+F4", _, "384", sign, _] => ("ecdsap384", sign),
            ["+F6", _, _, "Ed25519", sign, _] => ("ed25519", sign),
            _ => continue,
        };
        rates.push((speed, rate.parse::<f64>().context("openssl speed rate")?));
    }
    Ok(rates)
}

pub fn run(count: usize, speed_seconds: u32) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let profile_path = super::workspace_root().join("provisioning-profiles/ipcam.toml");
    let profile =
        Profile::load(&profile_path).map_err(|e| anyhow!("{}: {e}", profile_path.display()))?;
    let policy: CertPolicy = profile
        .certificate
        .as_ref()
        .map(|c| c.policy.clone())
        .ok_or_else(|| anyhow!("the ipcam profile has no [certificate]"))?;
    let identity = DeviceIdentity {
        serial: SERIAL.into(),
        dns: None,
        ip: Some(IpAddr::V4(IP)),
    };
    let csr_pem = make_csr(d)?;
    let checked: CheckedCsr =
        check_csr(&csr_pem, &policy, &identity, CHALLENGE).context("check_csr refused the CSR")?;
    std::fs::write(d.join("leaf.ext"), leaf_extensions())?;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "temper-bench --sign: {count} certificates per measurement, one thread, {cpus} CPU(s); CSR: P-256 key \
         from `openssl req`, checked once against the ipcam policy\n"
    );
    eprintln!("openssl speed ({speed_seconds} s per algorithm)...");
    let speed = openssl_speed(speed_seconds)?;

    println!("| CA key | figure | certs/s | anchor | per s | ratio |");
    println!("|---|---|---:|---|---:|---:|");
    for k in KINDS {
        eprintln!("{}...", k.name);
        let now = SystemTime::now();
        let ca = StationCa::generate(k.kind, "Temper station CA", now)?;
        std::fs::write(d.join("ca.pem"), ca.cert_pem())?;
        write_ca_key(d, ca.key_pem().expose())?;
        std::fs::write(
            d.join("ca.cnf"),
            format!(
                "[ca]\ndefault_ca = station\n[station]\ndir = db\ndatabase = db/index.txt\n\
                 new_certs_dir = db/new\ncertificate = ca.pem\nprivate_key = ca.key\nrand_serial = yes\n\
                 default_md = {}\ndefault_days = {}\npolicy = any\nunique_subject = no\n\
                 copy_extensions = none\nx509_extensions = leaf\nemail_in_dn = no\n\
                 [any]\ncommonName = supplied\n[leaf]\n{}",
                k.md,
                policy.validity_days,
                leaf_extensions()
            ),
        )?;

        // The figure, on the checked CSR; then with the check, as OpenSSL checks each request too.
        let sign = || {
            ca.sign(&checked, &policy, &identity, now)
                .map(|_| ())
                .map_err(anyhow::Error::from)
        };
        let sign_s = time_in_process(count, sign)?;
        let check_sign_s = time_in_process(count, || {
            let c = check_csr(&csr_pem, &policy, &identity, CHALLENGE)?;
            ca.sign(&c, &policy, &identity, now)?;
            Ok(())
        })?;

        // Anchors.
        let one: Vec<f64> = (0..ROUNDS)
            .map(|_| openssl_ca(d, 1))
            .collect::<Result<_, _>>()?;
        let many: Vec<f64> = (0..ROUNDS)
            .map(|_| openssl_ca(d, count + 1))
            .collect::<Result<_, _>>()?;
        let ca_s = (median(many) - median(one)).max(f64::EPSILON);
        let t0 = Instant::now();
        for _ in 0..count {
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    "csr.pem",
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-days",
                    &policy.validity_days.to_string(),
                    "-extfile",
                    "leaf.ext",
                    "-out",
                    "x509.pem",
                ],
            )?;
        }
        let x509_s = t0.elapsed().as_secs_f64();
        let raw = speed
            .iter()
            .find(|(s, _)| *s == k.speed)
            .map(|(_, r)| *r)
            .ok_or_else(|| anyhow!("openssl speed printed no rate for {}", k.speed))?;

        let rate = |s: f64| count as f64 / s;
        let row = |figure: &str, f: f64, anchor: &str, a: f64| {
            println!(
                "| {} | {figure} | {f:.0} | {anchor} | {a:.0} | **{:.2}×** |",
                k.name,
                f / a
            );
        };
        let ca_anchor = "`openssl ca -infiles` (one process; verifies each CSR, writes each cert)";
        row(
            "`StationCa::sign` (checked CSR)",
            rate(sign_s),
            ca_anchor,
            rate(ca_s),
        );
        row(
            "`check_csr` + `StationCa::sign`",
            rate(check_sign_s),
            ca_anchor,
            rate(ca_s),
        );
        row(
            "`StationCa::sign` (checked CSR)",
            rate(sign_s),
            "`openssl x509 -req`, one process per certificate",
            rate(x509_s),
        );
        row(
            "`StationCa::sign` (checked CSR)",
            rate(sign_s),
            "raw signatures, `openssl speed` (the primitive alone)",
            raw,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_openssl_speed_machine_output() {
        let text = "+DTP:256:sign:ecdsa:1\n+F4:3:256:42055.555556:14503.000000\n\
                    +F4:4:384:978.000000:1164.000000\n+F6:0:253:Ed25519:21743.000000:7839.393939\n";
        assert_eq!(
            parse_speed(text).unwrap(),
            vec![
                ("ecdsap256", 42055.555556),
                ("ecdsap384", 978.0),
                ("ed25519", 21743.0)
            ]
        );
    }

    #[test]
    fn ed25519_v1_is_v2_without_the_public_key() {
        assert_eq!(ED25519_V1_HEAD.len(), ED25519_V2_HEAD.len());
        // Same algorithm and private key; version 0, and the SEQUENCE is 35 bytes shorter (no [1] public key).
        assert_eq!(ED25519_V1_HEAD[5..], ED25519_V2_HEAD[5..]);
        assert_eq!(ED25519_V1_HEAD[1] as usize, 3 + 7 + 36);
        assert_eq!(ED25519_V2_HEAD[1] as usize, 3 + 7 + 36 + 35);
    }
}
