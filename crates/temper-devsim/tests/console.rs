//! The UART console as a host sees it through the PTY.

mod common;

use std::time::{Duration, Instant};

use common::{secs, Console, Sim};

#[tokio::test]
async fn boot_then_idle_console_needs_enter() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::spawn(dir.path(), "127.0.77.1", &[]);
    assert_eq!(sim.info.model, "ipcam");
    assert_eq!(sim.info.ip, "127.0.77.1");
    let mut con = sim.console().await;
    let boot = con.wait_boot().await;
    assert!(boot.contains("Linux version 3.10.108"), "{boot}");
    assert!(
        boot.contains("Simvision IPC SV-IPC2100 firmware 4.2.7"),
        "{boot}"
    );
    assert!(boot.contains("\r\n"), "CRLF line endings");
    // Idle: nothing more until the host presses Enter.
    let idle = con.read_for(Duration::from_millis(1500)).await;
    assert!(idle.is_empty(), "console printed while idle: {idle:?}");
    con.send("\r").await;
    con.expect("ipcam login: ", secs(3)).await;
    // CRLF is one Enter: exactly one new prompt.
    con.send("\r\n").await;
    let got = con.read_for(Duration::from_millis(800)).await;
    assert_eq!(got.matches("ipcam login: ").count(), 1, "{got:?}");
    let boots: Vec<_> = sim
        .events()
        .into_iter()
        .filter(|e| e["event"] == "boot")
        .collect();
    assert_eq!(boots.len(), 1);
}

#[tokio::test]
async fn late_host_sees_nothing_until_enter() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::spawn(dir.path(), "127.0.77.2", &[]);
    // Let the boot finish with nobody listening.
    tokio::time::sleep(secs(5)).await;
    let mut con = sim.console().await;
    let stale = con.read_for(Duration::from_millis(1000)).await;
    assert!(stale.is_empty(), "late host got stale output: {stale:?}");
    con.send("\r").await;
    con.expect("ipcam login: ", secs(3)).await;
}

#[tokio::test]
async fn login_wrong_password_then_root_works_and_session_persists() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::spawn(dir.path(), "127.0.77.3", &[]);
    let mut con = sim.console().await;
    con.wait_boot().await;
    let t = Instant::now();
    assert!(!con.login("root", "wrong-password").await);
    assert!(
        t.elapsed() >= Duration::from_millis(1300),
        "failed login is slow"
    );
    // Password is not echoed, the user name is.
    con.send("root\r").await;
    let echoed = con.expect("Password: ", secs(5)).await;
    assert!(echoed.contains("root"));
    con.send("xmhdipc\r").await;
    let shell = con.expect("~# ", secs(5)).await;
    assert!(!shell.contains("xmhdipc"), "password echoed: {shell:?}");
    assert!(shell.contains("\x1b]0;root@ipcam: ~\x07\x1b[1;32mroot@ipcam\x1b[0m:~# "));
    // Host disconnects and comes back: same shell.
    drop(con);
    let mut con = sim.console().await;
    con.send("\r").await;
    con.expect("~# ", secs(3)).await;
    let out = con.run("frobnicate --now").await;
    assert!(out.contains("-sh: frobnicate: not found"), "{out}");
    // Backspace edits, Ctrl-C abandons.
    con.send("echo abX\x7fc\r").await;
    let out = con.expect("~# ", secs(3)).await;
    assert!(out.contains("\r\nabc\r\n"), "{out:?}");
    con.send("echo never\x03").await;
    let out = con.expect("~# ", secs(3)).await;
    assert!(out.contains("^C") && !out.contains("\r\nnever"), "{out:?}");
    con.send("exit\r").await;
    con.expect("ipcam login: ", secs(5)).await;
    let events = sim.events();
    assert!(events
        .iter()
        .any(|e| e["event"] == "console-login" && e["user"] == "root" && e["ok"] == true));
    assert!(events
        .iter()
        .any(|e| e["event"] == "console-login" && e["ok"] == false));
}

#[tokio::test]
async fn identity_commands_report_serial_firmware_and_address() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::spawn(dir.path(), "127.0.77.4", &[]);
    let mut con = sim.console().await;
    con.wait_boot().await;
    assert!(con.login("root", "xmhdipc").await);
    let cpu = con.run("cat /proc/cpuinfo").await;
    assert!(
        cpu.contains("Hardware\t: Simvision SV-IPC2100\r\n"),
        "{cpu}"
    );
    assert!(cpu.contains("model name\t: ARMv7 Processor rev 5 (v7l)"));
    assert!(
        cpu.contains(&format!("Serial\t\t: {}\r\n", sim.info.serial)),
        "{cpu}"
    );
    assert_eq!(sim.info.serial.len(), 16);
    let ver = con.run("cat /etc/version").await;
    assert!(ver.contains("\r\n4.2.7\r\n"), "{ver:?}");
    let ip = con.run("ip addr show eth0").await;
    assert!(ip.contains("inet 127.0.77.4/8 scope global eth0"), "{ip}");
    let passwd = con.run("cat /etc/passwd").await;
    assert!(passwd.contains("support:x:1000:1000:support:/home/support:/bin/sh"));
    let cfg = con.run("cfgcli -g web.admin.user").await;
    assert!(cfg.contains("\r\nadmin\r\n"), "{cfg:?}");
}

#[tokio::test]
async fn output_is_paced_at_the_line_speed() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::spawn(
        dir.path(),
        "127.0.77.5",
        &["--baud", "9600", "--quiet-kernel"],
    );
    let mut con = Console::open(&sim.info.port, 9600);
    con.wait_boot().await;
    assert!(con.login("root", "xmhdipc").await);
    let t = Instant::now();
    let out = con
        .run("cat /proc/cpuinfo /proc/cpuinfo /proc/cpuinfo /proc/cpuinfo /proc/cpuinfo /proc/cpuinfo")
        .await;
    let took = t.elapsed();
    assert!(out.len() >= 2000, "only {} bytes", out.len());
    // 960 bytes per second at 9600 baud.
    let floor = Duration::from_secs_f64(out.len() as f64 / 960.0 * 0.9);
    assert!(took >= floor, "{} bytes in {took:?}", out.len());
    assert!(took >= Duration::from_secs(2), "{took:?}");
}
