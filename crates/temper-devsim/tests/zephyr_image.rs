//! The zephyr-sensor's image slots and bootloader against the real peers: images signed by `imgtool` 2.5,
//! uploaded and marked by `smpmgr` 0.19 (`upgrade`), the device reset and followed to its new port through
//! the `boot` event in events.jsonl (and the simulated USB bus), its state read with Temper's `SmpClient`.
//!
//! imgtool and smpmgr come from `/var/tmp/temper-venv` (`scripts/deps.sh test`) or `$TEMPER_IMGTOOL` /
//! `$TEMPER_SMPMGR`; without them these tests fail (they are never skipped).

mod common;
#[path = "zephyr_image/protocol.rs"]
mod protocol;
#[path = "zephyr_image/support.rs"]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use support::*;
use temper_core::proto::smp::client::SmpClientError;
use temper_core::proto::smp::messages::{Echo, ImageStateRead};
use temper_core::transport::TransportError;

/// `smpmgr upgrade --slot 1` (upload, mark for test, reset): slot 1 was pending with the image's TLV hash,
/// the device came back on a new port running 1.2.3 unconfirmed, and was re-announced there on the USB bus.
/// Confirmed with `smpmgr image state-write --confirm` and reset again, 1.2.3 stays, confirmed.
#[tokio::test]
async fn smpmgr_upgrade_tests_the_image_and_a_confirm_keeps_it() {
    let tmp = tempfile::tempdir().unwrap();
    let bus = tmp.path().join("bus");
    let sim = spawn(
        &tmp.path().join("state"),
        "127.79.0.1",
        &["--usb-bus", bus.to_str().unwrap()],
    );
    let first = next_boot(&sim, 0);
    let (file, hash) = signed_image(
        tmp.path(),
        &data("zephyr-boot-ecdsa-p256.pem"),
        "1.2.3",
        200 * 1024,
    );
    let seq = last_seq(&sim);
    let out = smpmgr(
        &sim.info.port,
        &["upgrade", "--slot", "1", file.to_str().unwrap()],
    );
    assert!(out.contains("Upgrade complete"), "{out}");

    let marked = sim
        .events()
        .into_iter()
        .find(|e| e["event"] == "image_state" && e["seq"].as_u64() > Some(seq))
        .expect("the state write was logged");
    assert_eq!(
        (
            &marked["slot"],
            &marked["pending"],
            &marked["permanent"],
            str_of(&marked["hash"])
        ),
        (
            &1.into(),
            &true.into(),
            &false.into(),
            hex::encode(hash).as_str()
        ),
        "before the reset slot 1 held the image's TLV hash as pending (test): {marked}"
    );

    let boot = next_boot(&sim, seq);
    let port = str_of(&boot["port"]).to_string();
    assert_ne!(
        port, sim.info.port,
        "a CDC-ACM device comes back under a new port name"
    );
    assert_eq!(str_of(&boot["active"]["version"]), "1.2.3", "{boot}");
    assert_eq!(str_of(&boot["active"]["hash"]), hex::encode(hash));
    assert_eq!(
        boot["confirmed"], false,
        "a test image runs unconfirmed: {boot}"
    );
    assert_eq!(boot["swap"], "test");
    assert_eq!(
        boot["boot_count"],
        first["boot_count"].as_u64().unwrap() + 1
    );

    // The simulated USB bus shows the same serial on the new port.
    let announcement = bus.join(format!("{}.json", sim.info.serial));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&announcement).unwrap_or_default();
        let on_bus: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if on_bus["port"] == port.as_str() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not re-announced on {port}: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let st = state(&port).await;
    let s0 = slot(&st, 0).expect("slot 0");
    assert_eq!(
        (s0.version.as_str(), s0.hash.as_slice()),
        ("1.2.3", &hash[..])
    );
    assert!(s0.active && !s0.confirmed, "running under test: {st:?}");
    let s1 = slot(&st, 1).expect("the previous image is kept in slot 1");
    assert_eq!(s1.version, "1.0.0");
    assert!(
        s1.confirmed && !s1.pending,
        "slot 1 is what a revert would boot: {st:?}"
    );

    smpmgr(&port, &["image", "state-write", "--confirm"]);
    let seq = last_seq(&sim);
    smpmgr(&port, &["os", "reset"]);
    let boot = next_boot(&sim, seq);
    assert_eq!(str_of(&boot["active"]["version"]), "1.2.3", "{boot}");
    assert_eq!(
        (&boot["confirmed"], &boot["swap"]),
        (&true.into(), &serde_json::Value::Null)
    );
    let port2 = str_of(&boot["port"]).to_string();
    assert_ne!(port2, port);
    let st = state(&port2).await;
    let s0 = slot(&st, 0).unwrap();
    assert!(
        s0.active && s0.confirmed,
        "confirmed before the reset, so kept: {st:?}"
    );
    assert_eq!(s0.hash, hash);
}

/// With the Ed25519 built-in key: a tested image that is not confirmed is reverted at the next reset.
#[tokio::test]
async fn unconfirmed_test_image_is_reverted_at_the_next_reset() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = spawn(
        &tmp.path().join("state"),
        "127.79.0.2",
        &["--boot-key", "ed25519"],
    );
    let factory = next_boot(&sim, 0)["active"].clone();
    assert_eq!(str_of(&factory["version"]), "1.0.0");
    let (file, hash) = signed_image(
        tmp.path(),
        &data("zephyr-boot-ed25519.pem"),
        "2.0.0",
        64 * 1024,
    );
    let seq = last_seq(&sim);
    smpmgr(
        &sim.info.port,
        &["upgrade", "--slot", "1", file.to_str().unwrap()],
    );
    let boot = next_boot(&sim, seq);
    assert_eq!(str_of(&boot["active"]["hash"]), hex::encode(hash), "{boot}");
    assert_eq!(boot["confirmed"], false);

    let seq = last_seq(&sim);
    smpmgr(str_of(&boot["port"]), &["os", "reset"]);
    let boot = next_boot(&sim, seq);
    assert_eq!(boot["swap"], "revert", "{boot}");
    assert_eq!(boot["active"], factory, "the factory image runs again");
    assert_eq!(boot["confirmed"], true);
    let st = state(str_of(&boot["port"])).await;
    let s1 = slot(&st, 1).expect("the reverted image stays in slot 1");
    assert_eq!(
        (s1.version.as_str(), s1.hash.as_slice()),
        ("2.0.0", &hash[..])
    );
    assert!(!s1.pending && !s1.confirmed && !s1.active, "{st:?}");
}

/// An image signed with another key (made by `imgtool keygen`) is uploaded and marked by smpmgr, then
/// refused by the bootloader: `boot_refused` logged, slot 1 erased, the factory image still runs.
#[tokio::test]
async fn image_signed_by_another_key_is_refused_at_boot() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = spawn(&tmp.path().join("state"), "127.79.0.3", &[]);
    let other = tmp.path().join("other-key.pem");
    run_tool(
        "imgtool",
        &["keygen", "-k", other.to_str().unwrap(), "-t", "ecdsa-p256"],
    );
    let (file, hash) = signed_image(tmp.path(), &other, "1.2.3", 64 * 1024);
    let seq = last_seq(&sim);
    smpmgr(
        &sim.info.port,
        &["upgrade", "--slot", "1", file.to_str().unwrap()],
    );
    let boot = next_boot(&sim, seq);
    assert_eq!(
        str_of(&boot["active"]["version"]),
        "1.0.0",
        "slot 0 stays active: {boot}"
    );
    assert!(str_of(&boot["refused"]).contains("KEYHASH"), "{boot}");
    let refused = sim
        .events()
        .into_iter()
        .find(|e| e["event"] == "boot_refused")
        .expect("boot_refused logged");
    assert_eq!(
        str_of(&refused["image"]["hash"]),
        hex::encode(hash),
        "{refused}"
    );
    let st = state(str_of(&boot["port"])).await;
    assert_eq!(st.images.len(), 1, "slot 1 was erased: {st:?}");
    assert!(st.images[0].active && st.images[0].confirmed);
}

/// SIGKILL while a test swap is due, restart with the same state: the swap happens at that power-on (new
/// image, unconfirmed); SIGKILL again: the unconfirmed image is reverted. state.json stays consistent.
#[tokio::test]
async fn power_cycle_while_a_swap_is_due() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let mut sim = spawn(&dir, "127.79.0.4", &[]);
    let (file, hash) = signed_image(
        tmp.path(),
        &data("zephyr-boot-ecdsa-p256.pem"),
        "1.3.0",
        32 * 1024,
    );
    smpmgr(&sim.info.port, &["image", "upload", file.to_str().unwrap()]);
    smpmgr(
        &sim.info.port,
        &["image", "state-write", &hex::encode(hash)],
    );
    let st = state(&sim.info.port).await;
    assert!(
        slot(&st, 1).is_some_and(|s| s.pending && s.hash == hash),
        "{st:?}"
    );

    let seq = last_seq(&sim);
    sim.kill();
    let mut sim = spawn(&dir, "127.79.0.4", &[]);
    let boot = next_boot(&sim, seq);
    assert_eq!(
        str_of(&boot["port"]),
        sim.info.port,
        "the ready line and the boot event agree"
    );
    assert_eq!(
        (&boot["swap"], &boot["confirmed"]),
        (&"test".into(), &false.into()),
        "{boot}"
    );
    assert_eq!(str_of(&boot["active"]["hash"]), hex::encode(hash));
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("state.json")).unwrap()).unwrap();
    assert_eq!(
        saved["swap"],
        serde_json::Value::Null,
        "no swap left half done: {saved}"
    );
    assert!(!dir.join("swap-scratch.bin").exists());

    let seq = last_seq(&sim);
    sim.kill();
    let sim = spawn(&dir, "127.79.0.4", &[]);
    let boot = next_boot(&sim, seq);
    assert_eq!(boot["swap"], "revert", "a power cut is a reset: {boot}");
    assert_eq!(str_of(&boot["active"]["version"]), "1.0.0");
    let st = state(&sim.info.port).await;
    assert!(
        slot(&st, 0).is_some_and(|s| s.active && s.confirmed),
        "{st:?}"
    );
}

/// A reset in the middle of an upload: the old port hangs up, the upload state is gone, and Temper's
/// `SmpClient::upload` on the new port starts again from offset 0 and lands the right image.
#[tokio::test]
async fn reset_mid_upload_restarts_from_zero_on_the_new_port() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = spawn(&tmp.path().join("state"), "127.79.0.5", &[]);
    let (file, hash) = signed_image(
        tmp.path(),
        &data("zephyr-boot-ecdsa-p256.pem"),
        "1.2.3",
        200 * 1024,
    );
    let image = std::fs::read(&file).unwrap();
    let mut old = client(&sim.info.port);
    let progress = Arc::new(AtomicU64::new(0));
    let seen = progress.clone();
    tokio::select! {
        done = old.upload(&image, |off, _| seen.store(off, Ordering::Relaxed)) => {
            panic!("the upload should still be running when the reset comes: {done:?}")
        }
        _ = async {
            while progress.load(Ordering::Relaxed) < 48 * 1024 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        } => {}
    }
    let seq = last_seq(&sim);
    old.request(&Reset(map(vec![])))
        .await
        .expect("reset answered");
    let boot = next_boot(&sim, seq);
    let echo = old
        .request(&Echo {
            text: "anyone?".into(),
        })
        .await;
    assert!(
        matches!(echo, Err(SmpClientError::Link(TransportError::Closed(_)))),
        "the old port hung up: {echo:?}"
    );

    let port = str_of(&boot["port"]);
    let mut new = client(port);
    let mut first = None;
    new.upload(&image, |off, _| {
        first.get_or_insert(off);
    })
    .await
    .expect("upload on the new port");
    assert!(
        first.is_some_and(|off| off < 48 * 1024),
        "restarted low, not resumed: {first:?}"
    );

    let events = sim.events();
    let booted_at = events
        .iter()
        .position(|e| *e == boot)
        .expect("the boot event");
    let after = &events[booted_at + 1..];
    let uploads: Vec<_> = after
        .iter()
        .filter(|e| e["event"] == "smp" && e["group"] == 1 && e["id"] == 1)
        .collect();
    assert_eq!(
        uploads[0]["off"], 0,
        "the first chunk after the boot is offset 0: {:?}",
        uploads[0]
    );
    assert_eq!(
        uploads[0]["next"], uploads[0]["len"],
        "and its data was written (a new upload, not a resume of the lost one): {:?}",
        uploads[0]
    );
    let before: u64 = events[..booted_at]
        .iter()
        .filter(|e| e["event"] == "smp" && e["group"] == 1 && e["id"] == 1)
        .filter_map(|e| e["next"].as_u64())
        .max()
        .unwrap_or(0);
    assert!(
        before >= 48 * 1024,
        "the first upload had got somewhere before the reset: {before}"
    );
    let done = after
        .iter()
        .find(|e| e["event"] == "image_uploaded")
        .expect("upload completed");
    assert_eq!(str_of(&done["sha256"]), hex::encode(Sha256::digest(&image)));
    assert_eq!(
        (&done["match"], str_of(&done["hash"])),
        (&true.into(), hex::encode(hash).as_str())
    );
    let st = new.request(&ImageStateRead {}).await.unwrap();
    assert_eq!(slot(&st, 1).map(|s| s.hash.clone()), Some(hash.to_vec()));
}

/// The factory image the simulator signs for itself (slot 0) passes `imgtool verify` with either built-in
/// key: the simulator's image writer agrees with MCUboot's own tool.
#[test]
fn factory_image_passes_imgtool_verify() {
    for (key, ip) in [("ecdsa-p256", "127.79.0.8"), ("ed25519", "127.79.0.9")] {
        let tmp = tempfile::tempdir().unwrap();
        let sim = spawn(tmp.path(), ip, &["--boot-key", key]);
        let slot0 = tmp.path().join("slot0.bin");
        let pem = data(&format!("zephyr-boot-{key}.pem"));
        let out = run_tool(
            "imgtool",
            &[
                "verify",
                "-k",
                pem.to_str().unwrap(),
                slot0.to_str().unwrap(),
            ],
        );
        assert!(out.contains("correctly validated"), "{key}: {out}");
        assert!(out.contains("1.0.0"), "{key}: {out}");
        drop(sim);
    }
}
