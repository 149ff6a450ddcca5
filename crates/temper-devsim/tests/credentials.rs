//! Password changes and account locking, on the console and over telnet, across a power cut.

mod common;

use common::{secs, sha256_hex, Sim, Telnet};

const NEW_ROOT_PW: &str = "Kq7-vXp2.MzR4tW9_bNc8Hj3";

#[tokio::test]
async fn passwd_changes_root_and_survives_power_cut() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.0.77.10";
    let mut sim = Sim::spawn(dir.path(), ip, &[]);
    let serial = sim.info.serial.clone();
    let old_port = sim.info.port.clone();
    let mut con = sim.console().await;
    con.wait_boot().await;
    assert!(con.login("root", "xmhdipc").await);

    // Mismatch and a refused password leave it unchanged.
    con.send("passwd root\r").await;
    con.expect("New password: ", secs(5)).await;
    con.send("abcdefgh1\r").await;
    con.expect("Retype password: ", secs(5)).await;
    con.send("abcdefgh2\r").await;
    let out = con.expect("~# ", secs(5)).await;
    assert!(out.contains("Passwords don't match"), "{out}");
    assert!(out.contains("passwd: password for root is unchanged"));
    con.send("passwd\r").await;
    con.expect("New password: ", secs(5)).await;
    con.send("short\r").await;
    con.expect("Retype password: ", secs(5)).await;
    con.send("short\r").await;
    let out = con.expect("~# ", secs(5)).await;
    assert!(out.contains("Bad password"), "{out}");

    con.send("passwd root\r").await;
    let out = con.expect("New password: ", secs(5)).await;
    assert!(out.contains("Changing password for root"));
    con.send(&format!("{NEW_ROOT_PW}\r")).await;
    con.expect("Retype password: ", secs(5)).await;
    con.send(&format!("{NEW_ROOT_PW}\r")).await;
    let out = con.expect("~# ", secs(5)).await;
    assert!(
        out.contains("passwd: password for root changed by root"),
        "{out}"
    );
    assert!(!out.contains(NEW_ROOT_PW), "password echoed");

    // Telnet: old refused, new accepted.
    let mut tn = Telnet::connect(ip).unwrap();
    assert_eq!(tn.login("root", "xmhdipc"), Some(false));
    let mut tn = Telnet::connect(ip).unwrap();
    assert_eq!(tn.login("root", NEW_ROOT_PW), Some(true));
    tn.send("exit\r\n");
    assert!(tn.closed_within(secs(3)));

    // Console: log out, old refused, new accepted.
    con.send("exit\r").await;
    con.expect("ipcam login: ", secs(5)).await;
    assert!(!con.login("root", "xmhdipc").await);
    assert!(con.login("root", NEW_ROOT_PW).await);
    drop(con);

    // Power cut, restart on the same state: same serial, new port, boot again, new password.
    sim.kill();
    let sim = Sim::spawn(dir.path(), ip, &[]);
    assert_eq!(sim.info.serial, serial);
    assert_ne!(sim.info.port, old_port);
    let mut con = sim.console().await;
    con.wait_boot().await;
    assert!(!con.login("root", "xmhdipc").await);
    assert!(con.login("root", NEW_ROOT_PW).await);
    let cpu = con.run("cat /proc/cpuinfo").await;
    assert!(cpu.contains(&serial));

    // Event log: secret input and change recorded, hashes only, never the plaintext.
    let raw = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    assert!(!raw.contains(NEW_ROOT_PW));
    assert!(!raw.contains("xmhdipc"));
    let events = sim.events();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] > w[0]),
        "seq monotonic: {seqs:?}"
    );
    assert!(events
        .iter()
        .any(|e| e["event"] == "secret-input-begin" && e["store"] == "shell-root"));
    assert!(events
        .iter()
        .any(|e| e["event"] == "password-changed" && e["store"] == "shell-root"));
    let auths: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "auth" && e["service"] == "telnet")
        .collect();
    assert!(auths
        .iter()
        .any(|e| e["ok"] == false && e["password_sha256"] == sha256_hex("xmhdipc")));
    assert!(auths
        .iter()
        .any(|e| e["ok"] == true && e["password_sha256"] == sha256_hex(NEW_ROOT_PW)));
    assert_eq!(events.iter().filter(|e| e["event"] == "boot").count(), 2);
}

#[tokio::test]
async fn passwd_l_locks_support_on_console_and_telnet() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.0.77.11";
    let sim = Sim::spawn(dir.path(), ip, &[]);
    let mut con = sim.console().await;
    con.wait_boot().await;
    // Factory state: support can log in (with a `$` prompt).
    assert!(con.login("support", "support").await);
    con.send("exit\r").await;
    con.expect("ipcam login: ", secs(5)).await;
    let mut tn = Telnet::connect(ip).unwrap();
    assert_eq!(tn.login("support", "support"), Some(true));
    drop(tn);

    assert!(con.login("root", "xmhdipc").await);
    let out = con.run("passwd -l support").await;
    assert!(
        out.contains("passwd: password for support changed by root"),
        "{out}"
    );
    let shadow = con.run("cat /etc/shadow").await;
    assert!(shadow.contains("\r\nsupport:!$5$"), "{shadow}");
    assert!(shadow.contains("daemon:*:"));
    con.send("exit\r").await;
    con.expect("ipcam login: ", secs(5)).await;
    assert!(!con.login("support", "support").await);
    let mut tn = Telnet::connect(ip).unwrap();
    assert_eq!(tn.login("support", "support"), Some(false));
    // Three failures close the telnet connection.
    tn.send("support\r\n");
    tn.expect_any(&["Password: "], secs(3)).unwrap();
    tn.send("nope\r\n");
    tn.send("support\r\n");
    tn.expect_any(&["Password: "], secs(3)).unwrap();
    tn.send("nope\r\n");
    assert!(tn.closed_within(secs(4)));
    assert!(sim
        .events()
        .iter()
        .any(|e| e["event"] == "account-locked" && e["user"] == "support"));
}
