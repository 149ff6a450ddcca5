//! Bad input gets a clear error naming what was wrong and how to fix it, and changes nothing.

use std::io::Write;
use std::time::{Duration, Instant};

use temper_e2e::*;

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// A wrong passphrase says "wrong inventory key", leaves the database and key header byte-identical, and is
/// audited at the next successful unlock.
#[test]
fn wrong_inventory_key_is_reported_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.db");
    let output = temper(&inventory)
        .args(["inventory", "list"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "a missing inventory is a usage error: {}",
        describe(&output)
    );
    assert!(
        stderr(&output).contains("temper inventory init"),
        "says how to create one: {}",
        stderr(&output)
    );

    // Create one through the library, as the CLI would.
    drop(
        temper_core::inventory::SqlCipherInventory::create(
            &inventory,
            &temper_core::Secret::new(PASSPHRASE),
        )
        .unwrap(),
    );
    let snapshot = |dir: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            // The audit sidecar counts failed unlocks (docs/security.md); nothing else may change.
            .filter(|p| !p.to_string_lossy().ends_with(".audit"))
            .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
            .collect();
        files.sort();
        files
    };
    let before = snapshot(dir.path());
    let output = temper(&inventory)
        .env(
            "TEMPER_INVENTORY_PASSPHRASE",
            "not-the-right-passphrase-at-all",
        )
        .args(["inventory", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        stderr(&output).contains("wrong inventory key"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        before,
        snapshot(dir.path()),
        "a wrong key must not change any inventory file but the failed-unlock counter"
    );
    // The next successful unlock puts the failed attempt on the audit trail.
    let output = temper(&inventory)
        .args(["--json", "audit", "show"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("failed-unlock"),
        "failed unlock audited: {text}"
    );
}

/// A weak passphrase is refused with a reason when the inventory is created.
#[test]
fn weak_passphrase_is_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.db");
    let output = temper(&inventory)
        .env("TEMPER_INVENTORY_PASSPHRASE", "password1")
        .args(["inventory", "init"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        stderr(&output).to_lowercase().contains("weak"),
        "{}",
        stderr(&output)
    );
    assert!(
        !inventory.exists(),
        "nothing is created for a refused passphrase"
    );
}

/// A broken profile names the file, line and field; Temper refuses to run with it (fails closed).
#[test]
fn broken_profile_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    let good = std::fs::read_to_string(profiles_dir().join("ipcam.toml")).unwrap();
    let broken = good.replace("shell_prompt = ", "shell_promt = ");
    std::fs::write(profiles.join("ipcam.toml"), broken).unwrap();
    let output = temper(&dir.path().join("inventory.db"))
        .env("TEMPER_PROFILES", &profiles)
        .args(["profile", "check"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let err = stderr(&output);
    assert!(
        err.contains("ipcam.toml:"),
        "names the file and line: {err}"
    );
    assert!(
        err.contains("shell_promt"),
        "names the unknown field: {err}"
    );
}

/// A port that spews garbage and never shows a prompt ends in a clear timeout error, quickly.
#[test]
fn hostile_console_ends_in_a_clear_timeout() {
    use std::os::fd::AsRawFd;

    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    use nix::pty::openpty;
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.db");
    ensure_inventory(&inventory);
    let pty = openpty(None, None).expect("openpty");
    let slave = nix::unistd::ttyname(&pty.slave).expect("ttyname");
    // Non-blocking, so the spewer notices the stop flag even when nobody reads the other end any more.
    let flags = OFlag::from_bits_truncate(
        fcntl(pty.master.as_raw_fd(), FcntlArg::F_GETFL).expect("F_GETFL"),
    );
    fcntl(
        pty.master.as_raw_fd(),
        FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK),
    )
    .expect("F_SETFL");
    let mut master = std::fs::File::from(pty.master);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let spewer = std::thread::spawn(move || {
        // Arbitrary bytes, minus the prompt characters `#` and `$`: garbage must never look like a prompt.
        let garbage: Vec<u8> = (0..4096u32)
            .map(|i| (i * 7919 % 251) as u8)
            .map(|b| if b == b'#' || b == b'$' { 0 } else { b })
            .collect();
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            match master.write(&garbage) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let started = Instant::now();
    let output = temper(&inventory)
        .args(["commission", "--port"])
        .arg(&slave)
        .output()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    drop(pty.slave);
    let _ = spewer.join();
    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    let err = stderr(&output);
    assert!(
        err.contains("last bytes"),
        "the timeout names the last bytes seen: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "bounded by the profile's timeouts"
    );
}
