//! Issue 4 end to end through the `temper` binary: key sources (a real Secret Service, passphrase, neither),
//! audited reveal, rekey killed at every phase, backups restored with the recovery key alone, corrupted
//! backups refused, and an older database swapped in under a current audit sidecar.
//!
//! These tests expect the private D-Bus session with gnome-keyring that `scripts/test.sh` starts
//! (`scripts/with-secret-service.sh`); the keyring test fails, rather than passes silently, without it.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use temper_core::inventory::{Inventory, SqlCipherInventory};
use temper_core::Secret;
use temper_e2e::*;

/// A `temper` command with no key from the environment and no reachable Secret Service unless `keyring`.
fn bare(inventory: &Path, keyring: bool) -> Command {
    let mut cmd = temper(inventory);
    cmd.env_remove("TEMPER_INVENTORY_PASSPHRASE");
    if !keyring {
        cmd.env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/temper-test-bus",
        );
    }
    cmd
}

fn stdout_json(output: &Output) -> Vec<Value> {
    json_lines(output)
}

fn recovery_key_of(output: &Output) -> String {
    stdout_json(output)
        .into_iter()
        .find(|v| v["event"] == "recovery-key")
        .and_then(|v| v["recovery_key"].as_str().map(String::from))
        .unwrap_or_else(|| panic!("no recovery key printed: {}", describe(output)))
}

/// A passphrase inventory with one device and one active credential, made through the library.
fn seeded(path: &Path) -> Secret {
    let mut inv = open_or_create(path);
    let mut device = temper_core::inventory::conformance::sample_device("SN-TRUST");
    device.model = "Simvision SV-IPC2100".into();
    inv.upsert_device(&device).unwrap();
    let secret = Secret::new("Trusted-Credential-4711-abcdefgh");
    inv.put_pending("SN-TRUST", "web-admin", "admin", &secret)
        .unwrap();
    inv.activate_pending("SN-TRUST", "web-admin").unwrap();
    secret
}

fn open_or_create(path: &Path) -> SqlCipherInventory {
    if path.exists() {
        open_inventory(path)
    } else {
        SqlCipherInventory::create(path, &Secret::new(PASSPHRASE)).unwrap()
    }
}

fn web_current(inv: &SqlCipherInventory) -> Option<Secret> {
    inv.credentials("SN-TRUST")
        .unwrap()
        .into_iter()
        .find(|c| c.store == "web-admin")?
        .current
}

/// The OS keyring is the default key source: init and every later command need no passphrase at all.
#[test]
fn keyring_is_the_default_key_source_against_a_real_secret_service() {
    assert_eq!(
        std::env::var("TEMPER_TEST_SECRET_SERVICE").as_deref(),
        Ok("1"),
        "run the tests under scripts/with-secret-service.sh (scripts/test.sh does) so a Secret Service exists"
    );
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.db");
    let output = bare(&inventory, true)
        .args(["--json", "inventory", "init"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let header =
        std::fs::read_to_string(temper_core::inventory::keys::header_path(&inventory)).unwrap();
    assert!(
        header.contains("keyring"),
        "the key header has a keyring slot: {header}"
    );
    let output = bare(&inventory, true)
        .args(["inventory", "list"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "opens from the keyring alone: {}",
        describe(&output)
    );
    // Without the Secret Service the same inventory cannot be opened from the keyring, and says how else.
    let output = bare(&inventory, false)
        .args(["inventory", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--passphrase-file"),
        "{}",
        describe(&output)
    );
}

/// With neither a Secret Service nor a passphrase, `init` says how to provide a key and creates nothing.
#[test]
fn neither_keyring_nor_passphrase_says_how_to_provide_one() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.db");
    let output = bare(&inventory, false)
        .args(["inventory", "init"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let err = String::from_utf8_lossy(&output.stderr);
    for hint in ["--keyring", "--passphrase-file", "--key-file"] {
        assert!(err.contains(hint), "the message names {hint}: {err}");
    }
    assert!(!inventory.exists(), "nothing is created");
}

/// `--reveal` prints the credential and leaves an audit event naming the device and the actor.
#[test]
fn reveal_is_audited_with_device_and_actor() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.db");
    let secret = seeded(&inventory);
    let output = temper(&inventory)
        .args(["inventory", "show", "--device", "SN-TRUST"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains(secret.expose()),
        "no secret without --reveal"
    );
    let output = temper(&inventory)
        .args([
            "--actor",
            "alice",
            "inventory",
            "show",
            "--device",
            "SN-TRUST",
            "--reveal",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(secret.expose()),
        "revealed on request"
    );
    let output = temper(&inventory)
        .args(["--json", "audit", "show", "--device", "SN-TRUST"])
        .output()
        .unwrap();
    let events = stdout_json(&output)[0]["events"]
        .as_array()
        .cloned()
        .unwrap();
    let reveal = events
        .iter()
        .find(|e| e["action"] == "reveal")
        .expect("a reveal event");
    assert_eq!(reveal["actor"], "alice");
    assert_eq!(reveal["device"], "SN-TRUST");
    let output = temper(&inventory)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
}

/// `kill -9` at every phase of a rekey leaves an inventory that opens (old key before the switch, new key
/// after it) with every credential intact, and a trail that verifies.
#[test]
fn rekey_killed_at_every_phase_leaves_a_usable_inventory() {
    for phase in ["staged", "header-written", "done"] {
        let dir = tempfile::tempdir().unwrap();
        let inventory = dir.path().join("inventory.db");
        let secret = seeded(&inventory);
        let new_pass = dir.path().join("new-passphrase");
        std::fs::write(&new_pass, "quartz-meadow-lantern-orbit-7731").unwrap();
        let mut child = spawn_until_stopped(
            temper(&inventory)
                .args(["inventory", "rekey", "--to-passphrase-file"])
                .arg(&new_pass),
            &format!("rekey:{phase}"),
        );
        let pid = child.id();
        kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
        let _ = child.wait();
        let (old, new) = (
            Secret::new(PASSPHRASE),
            Secret::new("quartz-meadow-lantern-orbit-7731"),
        );
        let reopened = if phase == "staged" {
            SqlCipherInventory::open(&inventory, &old)
        } else {
            SqlCipherInventory::open(&inventory, &new)
        };
        let inv = reopened.unwrap_or_else(|e| panic!("after a kill at {phase}: {e}"));
        assert_eq!(
            web_current(&inv),
            Some(secret.clone()),
            "credential intact after a kill at {phase}"
        );
        inv.verify_audit()
            .unwrap_or_else(|e| panic!("trail after a kill at {phase}: {e}"));
        drop(inv);
        // And a reopen after the repair still reads it (staging resolved).
        let key = if phase == "staged" { &old } else { &new };
        let inv = SqlCipherInventory::open(&inventory, key).unwrap();
        assert_eq!(web_current(&inv), Some(secret.clone()));
    }
}

/// A backup verifies and restores with the recovery key alone, on a machine without the keyring; a corrupted,
/// truncated or foreign file is refused with a clear message.
#[test]
fn backup_restores_with_the_recovery_key_alone_and_corruption_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("station/inventory.db");
    std::fs::create_dir_all(inventory.parent().unwrap()).unwrap();
    let output = temper(&inventory)
        .args(["--json", "inventory", "init"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let recovery = recovery_key_of(&output);
    let secret = seeded(&inventory);
    let backup = dir.path().join("inventory.backup");
    let output = temper(&inventory)
        .args(["inventory", "backup"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));

    // Another machine: no keyring, no passphrase, only the recovery key.
    let elsewhere = dir.path().join("elsewhere/inventory.db");
    let with_recovery = |args: &[&str]| -> Output {
        bare(&elsewhere, false)
            .env("TEMPER_RECOVERY_KEY", &recovery)
            .arg("--recovery-key")
            .args(args)
            .output()
            .unwrap()
    };
    let output = with_recovery(&["inventory", "verify-backup", backup.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));
    let output = with_recovery(&["inventory", "restore", backup.to_str().unwrap()]);
    assert!(output.status.success(), "{}", describe(&output));
    let output = with_recovery(&["inventory", "show", "--device", "SN-TRUST", "--reveal"]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(secret.expose()),
        "credential restored"
    );
    let output = with_recovery(&["--json", "audit", "show"]);
    let events = stdout_json(&output)[0]["events"]
        .as_array()
        .cloned()
        .unwrap();
    assert!(
        events.iter().any(|e| e["action"] == "restore"),
        "the restore is audited"
    );
    assert!(
        events.iter().any(|e| e["action"] == "backup"),
        "the backup carried its own event"
    );

    // Corrupted copies are refused.
    let bytes = std::fs::read(&backup).unwrap();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "flipped",
            {
                let mut b = bytes.clone();
                let i = b.len() / 2;
                b[i] ^= 0x40;
                b
            },
            "corrupted",
        ),
        (
            "truncated",
            bytes[..bytes.len() - 100].to_vec(),
            "corrupted",
        ),
        (
            "foreign",
            b"PK\x03\x04 not a backup".to_vec(),
            "not a Temper inventory backup",
        ),
    ];
    for (name, content, expected) in cases {
        let path = dir.path().join(format!("{name}.backup"));
        std::fs::write(&path, content).unwrap();
        let output = with_recovery(&["inventory", "verify-backup", path.to_str().unwrap()]);
        assert!(!output.status.success(), "{name} backup must be refused");
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(err.contains(expected), "{name}: {err}");
    }
}

/// Putting an older copy of the database back while the sidecar stays current is caught by `audit verify`,
/// naming the first missing event.
#[test]
fn an_older_database_under_a_current_sidecar_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.db");
    seeded(&inventory);
    let old_copy = std::fs::read(&inventory).unwrap();
    let events_then = open_inventory(&inventory).audit_events(None).unwrap().len();
    // More security-relevant history after the copy.
    let output = temper(&inventory)
        .args(["inventory", "show", "--device", "SN-TRUST", "--reveal"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    std::fs::write(&inventory, old_copy).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", inventory.display()));
    }
    let output = temper(&inventory)
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "the rollback must be detected: {}",
        describe(&output)
    );
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains(&format!("#{}", events_then + 1)),
        "names the first missing event #{}: {err}",
        events_then + 1
    );
}

/// A key file must be owner-only: `init --key-file` creates it 0600, and a group-readable one is refused with
/// the fix.
#[test]
fn key_file_is_created_owner_only_and_refused_when_readable_by_others() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.db");
    let key = dir.path().join("station.key");
    let output = bare(&inventory, false)
        .arg("--key-file")
        .arg(&key)
        .args(["inventory", "init"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let output = bare(&inventory, false)
        .arg("--key-file")
        .arg(&key)
        .args(["inventory", "list"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = bare(&inventory, false)
        .arg("--key-file")
        .arg(&key)
        .args(["inventory", "list"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("chmod 600"), "says how to fix it: {err}");
}

/// Wrong passphrases are rate-limited with a growing back-off, then audited once the right key opens it.
#[test]
fn repeated_wrong_passphrases_back_off_and_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.db");
    seeded(&inventory);
    let wrong = |n: usize| {
        temper(&inventory)
            .env(
                "TEMPER_INVENTORY_PASSPHRASE",
                format!("definitely-not-it-{n}-xyzzy"),
            )
            .args(["inventory", "list"])
            .output()
            .unwrap()
    };
    let mut refused_for_backoff = None;
    for n in 0..6 {
        let output = wrong(n);
        assert!(!output.status.success());
        let err = String::from_utf8_lossy(&output.stderr).to_string();
        if !err.contains("wrong inventory key") {
            refused_for_backoff = Some((n, err));
            break;
        }
    }
    let (n, err) = refused_for_backoff.expect("a back-off must start after a few wrong keys");
    assert!(
        n >= 2,
        "the first attempts are not delayed (back-off started at attempt {n})"
    );
    assert!(
        err.to_lowercase().contains("wait") || err.contains("retry"),
        "says when to retry: {err}"
    );
    // After the back-off the right key opens it and the failures are on the trail.
    let opened = wait_until(Duration::from_secs(70), || {
        temper(&inventory)
            .args(["inventory", "list"])
            .output()
            .unwrap()
            .status
            .success()
    });
    assert!(
        opened,
        "the right key opens the inventory after the back-off"
    );
    let output = temper(&inventory)
        .args(["--json", "audit", "show"])
        .output()
        .unwrap();
    let events = stdout_json(&output)[0]["events"]
        .as_array()
        .cloned()
        .unwrap();
    let failed = events
        .iter()
        .find(|e| e["action"] == "failed-unlock")
        .expect("failed unlocks audited");
    assert!(
        failed["detail"].to_string().contains(&n.to_string()),
        "the count is recorded: {failed}"
    );
}
