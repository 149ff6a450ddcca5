//! End to end: a simulated IP camera on a real PTY is commissioned by the `temper` binary; everything is then
//! proven independently of Temper's own report: by the simulator's event log, by curl, and by fresh logins.

use std::net::UdpSocket;
use std::time::Duration;

use serde_json::Value;
use temper_e2e::*;

const MIRAI: &str = include_str!("../../crates/temper-core/data/mirai-default-credentials.txt");

fn mirai_pairs() -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = MIRAI
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            l.split_once(':')
                .map(|(u, p)| (u.to_string(), p.to_string()))
        })
        .collect();
    pairs.sort();
    pairs.dedup();
    pairs
}

fn ssdp_answers(ip: &str) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let search = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n";
    socket
        .send_to(search.as_bytes(), format!("{ip}:1900"))
        .unwrap();
    let mut buf = [0u8; 2048];
    matches!(socket.recv_from(&mut buf), Ok((n, _)) if String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"))
}

fn curl_digest(ip: &str, user: &str, password: &str) -> String {
    curl_digest_at(&format!("http://{ip}/"), None, user, password)
}

fn seq_of(events: &[Value], event: &str, key: &str, value: &str) -> Option<u64> {
    events
        .iter()
        .find(|e| e["event"] == event && e[key] == value)
        .and_then(|e| e["seq"].as_u64())
}

/// Guards the whole promise of issue 3: defaults replaced, every default refused while the service was still
/// open, support locked, telnet and SSDP closed, new credentials working, and all of it surviving a power cycle.
#[test]
fn commissions_ipcam_end_to_end_and_survives_power_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    let sim = Sim::start(&dir.path().join("state"), &test_ip(10));

    // Before: the factory state is visible from outside.
    // Services come up during the simulated boot, after the port appears.
    assert!(
        wait_until(Duration::from_secs(10), || tcp_open(&sim.ip, 23)),
        "telnet should be open on a factory-fresh camera"
    );
    assert!(
        wait_until(Duration::from_secs(10), || curl_digest(
            &sim.ip, "admin", "admin"
        ) == "200"),
        "factory web default should work before"
    );
    assert!(
        wait_until(Duration::from_secs(10), || ssdp_answers(&sim.ip)),
        "SSDP should answer before hardening"
    );

    let output = commission(&inventory, &sim.port);
    assert!(
        output.status.success(),
        "commission should succeed: {}",
        describe(&output)
    );
    let lines = json_lines(&output);
    let report = lines
        .iter()
        .find(|l| l["event"] == "report")
        .expect("a report line")["report"]
        .clone();
    assert_eq!(report["hardened"], true);
    assert_eq!(
        report["device"]["serial"],
        sim.serial.as_str(),
        "device keyed by the serial it reports"
    );
    let before: Vec<u64> = report["surface_before"]["tcp_open"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    for port in [23, 80, 554] {
        assert!(
            before.contains(&port),
            "baseline should show tcp/{port} open: {before:?}"
        );
    }
    assert!(
        !report["surface_before"]["ssdp"].is_null(),
        "baseline should show SSDP answering"
    );
    let after: Vec<u64> = report["surface_after"]["tcp_open"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(
        !after.contains(&23),
        "telnet must be closed after: {after:?}"
    );
    assert!(
        report["surface_after"]["ssdp"].is_null(),
        "SSDP must be silent after"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("xmhdipc"), "no secret in the output");

    // The simulator's own log: each default and Mirai pair refused on each store between that store's
    // rotation and its service's stop.
    let events = sim.events();
    let stores = [
        ("shell-root", "telnet", "root", "xmhdipc"),
        ("web-admin", "http", "admin", "admin"),
        ("rtsp-admin", "rtsp", "admin", "12345"),
    ];
    for (store, service, user, default) in stores {
        let rotated = seq_of(&events, "password-changed", "store", store)
            .unwrap_or_else(|| panic!("no password-changed for {store}"));
        let stopped = if service == "telnet" {
            seq_of(&events, "service-stopped", "service", "telnet").expect("telnet stopped")
        } else {
            u64::MAX
        };
        let mut pairs = mirai_pairs();
        pairs.push((user.to_string(), default.to_string()));
        for (u, p) in pairs {
            let sha = sha256_hex(&p);
            let hit = events.iter().find(|e| {
                let used = if service == "telnet" {
                    e["user"] == u.as_str() && e["password_sha256"] == sha.as_str()
                } else {
                    digest_used(e, &u, &p)
                };
                e["event"] == "auth"
                    && e["service"] == service
                    && used
                    && e["seq"]
                        .as_u64()
                        .is_some_and(|s| s > rotated && s < stopped)
            });
            let hit = hit.unwrap_or_else(|| {
                panic!(
                    "{service}: no trial of {u}:<{} chars> between rotation and stop",
                    p.len()
                )
            });
            assert_eq!(hit["ok"], false, "{service} must refuse {u}");
        }
    }
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "account-locked" && e["user"] == "support"),
        "support must be locked"
    );

    // The audit trail has the commissioning, the profile with its hash, and each credential change.
    let output = temper(&inventory)
        .args(["--json", "audit", "show", "--device", &sim.serial])
        .output()
        .unwrap();
    let trail = json_lines(&output)[0]["events"]
        .as_array()
        .cloned()
        .unwrap();
    let count = |action: &str| trail.iter().filter(|e| e["action"] == action).count();
    assert!(
        trail.iter().any(|e| e["action"] == "profile-loaded"
            && e["detail"]["sha256"]
                .as_str()
                .is_some_and(|h| h.len() == 64)),
        "profile loaded with its hash: {trail:?}"
    );
    assert!(trail
        .iter()
        .any(|e| e["action"] == "commission" && e["outcome"] == "hardened"));
    assert_eq!(
        count("credential-pending"),
        3,
        "one pending commit per store"
    );
    assert_eq!(count("credential-active"), 3, "one activation per store");
    let output = temper(&inventory)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));

    // From outside now.
    assert!(!tcp_open(&sim.ip, 23), "telnet closed");
    assert!(!ssdp_answers(&sim.ip), "SSDP silent");
    let web = credential(&inventory, &sim.serial, "web-admin");
    let web_password = web.current.expect("web current").expose().to_string();
    assert!(
        web_password.len() >= 20,
        "generated passwords are at least 20 characters"
    );
    assert!(web.pending.is_none());
    // The web admin moved to HTTPS with the device's own certificate; plain HTTP only redirects.
    let ca = dir.path().join("station-ca.pem");
    let exported = temper(&inventory)
        .args(["ca", "export", "--out"])
        .arg(&ca)
        .output()
        .unwrap();
    assert!(exported.status.success(), "{}", describe(&exported));
    let https = format!("https://{}/", sim.ip);
    assert_eq!(
        curl_digest_at(&https, Some(&ca), "admin", &web_password),
        "200",
        "new web credential works over HTTPS, verified against the exported station CA"
    );
    assert_eq!(
        curl_digest_at(&https, Some(&ca), "admin", "admin"),
        "401",
        "factory web credential refused"
    );
    assert_eq!(
        curl_digest(&sim.ip, "admin", &web_password),
        "301",
        "plain HTTP only redirects, even with the right credential"
    );

    let shell_password = credential(&inventory, &sim.serial, "shell-root")
        .current
        .expect("shell current");
    let rtsp_password = credential(&inventory, &sim.serial, "rtsp-admin")
        .current
        .expect("rtsp current");
    assert!(
        console_accepts(&sim.port, "root", shell_password.expose()),
        "new console password works"
    );
    assert!(
        !console_accepts(&sim.port, "root", "xmhdipc"),
        "factory console password refused"
    );
    assert!(
        !console_accepts(&sim.port, "support", "support"),
        "support account locked"
    );
    assert!(
        rtsp_accepts(&sim.ip, "admin", rtsp_password.expose()),
        "new RTSP credential works"
    );
    assert!(
        !rtsp_accepts(&sim.ip, "admin", "12345"),
        "factory RTSP credential refused"
    );

    // A power cycle keeps it so.
    let sim = sim.power_cycle();
    assert!(
        wait_until(Duration::from_secs(10), || curl_digest_at(
            &https,
            Some(&ca),
            "admin",
            &web_password
        ) == "200"),
        "the web service comes back after boot with the new credential"
    );
    assert!(
        !tcp_open(&sim.ip, 23),
        "telnet stays closed after a restart"
    );
    assert!(!ssdp_answers(&sim.ip), "SSDP stays silent after a restart");
    assert_eq!(
        curl_digest_at(&https, Some(&ca), "admin", &web_password),
        "200",
        "new web credential and the device's certificate survive a restart"
    );
    assert_eq!(
        curl_digest(&sim.ip, "admin", &web_password),
        "301",
        "plain HTTP still only redirects after a restart"
    );

    assert!(
        console_accepts(&sim.port, "root", shell_password.expose()),
        "console password survives a restart"
    );
    assert!(
        rtsp_accepts(&sim.ip, "admin", rtsp_password.expose()),
        "RTSP credential survives a restart"
    );

    // Re-running on the new PTY path is idempotent: the same credentials, nothing rotated again.
    let shell_before = credential(&inventory, &sim.serial, "shell-root")
        .current
        .unwrap();
    let output = commission(&inventory, &sim.port);
    assert!(
        output.status.success(),
        "re-run should succeed: {}",
        describe(&output)
    );
    let rotate = json_lines(&output)
        .into_iter()
        .find(|l| l["event"] == "step-finished" && l["step"] == "rotate-credentials")
        .expect("rotate step finished");
    assert_eq!(
        rotate["outcome"], "already-done",
        "re-running should not rotate again"
    );
    assert_eq!(
        credential(&inventory, &sim.serial, "shell-root")
            .current
            .unwrap(),
        shell_before
    );
    assert_eq!(
        open_inventory_devices(&inventory),
        1,
        "one device, keyed by serial, across two PTY paths"
    );

    // The inventory files hold no plaintext.
    let needles = [
        sim.serial.clone(),
        "Simvision".to_string(),
        "SV-IPC2100".to_string(),
        web_password.clone(),
        shell_before.expose().to_string(),
        rtsp_password.expose().to_string(),
    ];
    assert_no_plaintext(inventory.parent().unwrap(), &needles);
}

fn open_inventory_devices(path: &std::path::Path) -> usize {
    use temper_core::inventory::Inventory;
    open_inventory(path).devices().unwrap().len()
}
