//! The station CA through the `temper` binary, checked with OpenSSL as the independent peer: made once and kept
//! in the inventory (its key sealed, never a plain file), exported for other trust stores, imported from the
//! user's own root, and a CRL OpenSSL can read.

use std::path::Path;
use std::process::Command;

use temper_e2e::*;

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl")
}

fn ok(output: &std::process::Output) -> String {
    assert!(output.status.success(), "{}", describe(output));
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn init(inventory: &Path) {
    ensure_inventory(inventory);
}

#[test]
fn station_ca_is_made_once_exported_and_its_crl_reads() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.db");
    init(&inventory);
    ok(&temper(&inventory)
        .args(["ca", "init", "--name", "Site 7 CA"])
        .output()
        .unwrap());
    let again = temper(&inventory).args(["ca", "init"]).output().unwrap();
    assert_eq!(
        again.status.code(),
        Some(2),
        "a second CA is refused: {}",
        describe(&again)
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("station CA already"));

    let pem = dir.path().join("ca.pem");
    ok(&temper(&inventory)
        .args(["ca", "export", "--out"])
        .arg(&pem)
        .output()
        .unwrap());
    let text = ok(&openssl(&[
        "x509",
        "-in",
        pem.to_str().unwrap(),
        "-noout",
        "-text",
    ]));
    assert!(text.contains("CA:TRUE"), "a CA certificate: {text}");
    assert!(text.contains("Site 7 CA"));
    // The key is nowhere in plain files: not in the inventory directory, not in the export.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("PRIVATE KEY"),
            "no plaintext key anywhere"
        );
    }

    let crl = dir.path().join("ca.crl");
    ok(&temper(&inventory)
        .args(["ca", "crl", "--out"])
        .arg(&crl)
        .output()
        .unwrap());
    let text = ok(&openssl(&[
        "crl",
        "-in",
        crl.to_str().unwrap(),
        "-noout",
        "-text",
        "-CAfile",
        pem.to_str().unwrap(),
    ]));
    assert!(
        text.contains("Site 7 CA"),
        "issued by the station CA: {text}"
    );
    let events = ok(&temper(&inventory)
        .args(["--json", "audit", "show"])
        .output()
        .unwrap());
    assert!(
        events.contains("ca-created") && events.contains("crl-issued"),
        "{events}"
    );
}

#[test]
fn a_ca_from_the_users_own_root_is_imported_and_a_leaf_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    // The user's root and an intermediate it issues, made with OpenSSL.
    ok(&openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &d("root.key"),
        "-out",
        &d("root.pem"),
        "-subj",
        "/CN=Users Root",
        "-days",
        "30",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]));
    ok(&openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &d("int.key"),
        "-out",
        &d("int.csr"),
        "-subj",
        "/CN=Station Intermediate",
    ]));
    std::fs::write(
        d("ext.cnf"),
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .unwrap();
    ok(&openssl(&[
        "x509",
        "-req",
        "-in",
        &d("int.csr"),
        "-CA",
        &d("root.pem"),
        "-CAkey",
        &d("root.key"),
        "-CAcreateserial",
        "-out",
        &d("int.pem"),
        "-days",
        "30",
        "-extfile",
        &d("ext.cnf"),
    ]));

    let inventory = dir.path().join("inventory.db");
    init(&inventory);
    let leaf = temper(&inventory)
        .args([
            "ca",
            "import",
            "--cert",
            &d("root.pem"),
            "--key",
            &d("int.key"),
        ])
        .output()
        .unwrap();
    assert!(
        !leaf.status.success(),
        "a key that does not match the certificate is refused"
    );
    ok(&temper(&inventory)
        .args([
            "ca",
            "import",
            "--cert",
            &d("int.pem"),
            "--key",
            &d("int.key"),
        ])
        .output()
        .unwrap());
    let exported = ok(&temper(&inventory).args(["ca", "export"]).output().unwrap());
    assert!(exported.contains("BEGIN CERTIFICATE"));
    let events = ok(&temper(&inventory)
        .args(["--json", "audit", "show"])
        .output()
        .unwrap());
    assert!(events.contains("ca-imported"), "{events}");

    // A camera commissioned under the intermediate serves leaf + intermediate: the user's other systems,
    // which trust only their root, verify it.
    let sim = Sim::start(&dir.path().join("camera"), &test_ip(95));
    let out = commission(&inventory, &sim.port);
    assert!(out.status.success(), "{}", describe(&out));
    let script = format!(
        "openssl s_client -connect {ip}:443 -CAfile {root} -verify_return_error -verify_ip {ip} -showcerts </dev/null",
        ip = sim.ip,
        root = d("root.pem")
    );
    let s_client = Command::new("sh").args(["-c", &script]).output().unwrap();
    let text = String::from_utf8_lossy(&s_client.stdout);
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    assert_eq!(
        text.matches("BEGIN CERTIFICATE").count(),
        2,
        "leaf and intermediate: {text}"
    );
    let certs = device_certs(&inventory, &sim.serial);
    std::fs::write(d("leaf.pem"), &certs[0].cert_pem).unwrap();
    let within_31_days = openssl(&[
        "x509",
        "-noout",
        "-in",
        &d("leaf.pem"),
        "-checkend",
        &(31 * 86_400).to_string(),
    ]);
    assert!(
        !within_31_days.status.success(),
        "the leaf ends with the 30-day intermediate, not a year later: {}",
        String::from_utf8_lossy(&within_31_days.stdout)
    );
}
