use super::*;
use crate::zephyr::image::sign::BootKeyKind;
use crate::zephyr::image::tlv::{ImageWriter, Version};

fn signed(key: &BootKey, major: u8) -> Vec<u8> {
    ImageWriter {
        version: Version {
            major,
            minor: 0,
            revision: 0,
            build: 0,
        },
        hdr_size: 0x200,
        load_addr: 0,
    }
    .write(&vec![major; 4000], key.key_hash(), key.sig_tlv(), |p, d| {
        key.sign(p, d)
    })
}

/// A device after its first boot, with `image` uploaded to slot 1 and `secondary` as slot 1's trailer.
fn device(image: &[u8], secondary: Trailer) -> (tempfile::TempDir, ZephyrState, BootKey, EventLog) {
    let dir = tempfile::tempdir().unwrap();
    let key = BootKey::builtin(BootKeyKind::EcdsaP256);
    let events = EventLog::open(dir.path(), 0).unwrap();
    let mut state = ZephyrState::new("zephyr-sensor");
    run(dir.path(), &mut state, &key, &events).expect("first boot");
    fs::write(slot_path(dir.path(), 1), image).unwrap();
    state.trailers.secondary = secondary;
    save(dir.path(), &mut state, &events).unwrap();
    (dir, state, key, events)
}

const TEST: Trailer = Trailer {
    magic: true,
    image_ok: false,
    copy_done: false,
};
const PERM: Trailer = Trailer {
    magic: true,
    image_ok: true,
    copy_done: false,
};

fn version(dir: &Path, slot: usize) -> String {
    read_info(dir, slot).unwrap().version.to_string()
}

/// Test swap: 2.0.0 boots unconfirmed; the next boot without a confirm reverts to 1.0.0, confirmed.
#[test]
fn test_swap_then_revert() {
    let key = BootKey::builtin(BootKeyKind::EcdsaP256);
    let (dir, mut state, key2, events) = device(&signed(&key, 2), TEST);
    let report = run(dir.path(), &mut state, &key2, &events).unwrap();
    assert_eq!(report.swap, Some(SwapType::Test));
    assert!(!report.confirmed, "a test image runs unconfirmed");
    assert_eq!(
        (version(dir.path(), 0), version(dir.path(), 1)),
        ("2.0.0".into(), "1.0.0".into())
    );
    assert_eq!(state.trailers.swap_type(), SwapType::Revert);

    let report = run(dir.path(), &mut state, &key2, &events).unwrap();
    assert_eq!(report.swap, Some(SwapType::Revert));
    assert!(report.confirmed);
    assert_eq!(
        version(dir.path(), 0),
        "1.0.0",
        "the unconfirmed image was reverted"
    );
    assert_eq!(state.trailers.swap_type(), SwapType::None);
    let saved = crate::zephyr::load_state(dir.path()).unwrap().unwrap();
    assert_eq!(
        saved.trailers, state.trailers,
        "state.json holds the trailers"
    );
}

/// Perm swap: 3.0.0 boots confirmed and stays.
#[test]
fn perm_swap_is_confirmed() {
    let key = BootKey::builtin(BootKeyKind::EcdsaP256);
    let (dir, mut state, key, events) = device(&signed(&key, 3), PERM);
    let report = run(dir.path(), &mut state, &key, &events).unwrap();
    assert_eq!(
        (report.swap, report.confirmed),
        (Some(SwapType::Perm), true)
    );
    let report = run(dir.path(), &mut state, &key, &events).unwrap();
    assert_eq!(report.swap, None, "nothing to do after a permanent swap");
    assert_eq!(version(dir.path(), 0), "3.0.0");
}

/// An image signed by another key, or with a broken signature, is refused and slot 1 erased.
#[test]
fn bad_signatures_are_refused() {
    let other = BootKey::builtin(BootKeyKind::Ed25519);
    let key = BootKey::builtin(BootKeyKind::EcdsaP256);
    let mut broken = signed(&key, 4);
    let n = broken.len();
    broken[n - 10] ^= 0x55; // inside the DER signature
    for (image, reason) in [
        (signed(&other, 4), "KEYHASH"),
        (broken, "signature does not verify"),
    ] {
        let (dir, mut state, key, events) = device(&image, TEST);
        let report = run(dir.path(), &mut state, &key, &events).unwrap();
        assert_eq!(report.swap, None);
        let why = report.refused.expect("refused");
        assert!(why.contains(reason), "{why}");
        assert_eq!(version(dir.path(), 0), "1.0.0", "slot 0 stays");
        assert!(!slot_path(dir.path(), 1).exists(), "slot 1 erased");
        assert_eq!(state.trailers, Trailers::default());
        let logged = crate::read_events(dir.path());
        assert!(
            logged.iter().any(|e| e["event"] == "boot_refused"),
            "{logged:?}"
        );
    }
}

/// A power cut after any number of moves of a swap: the next boot finishes the same swap.
#[test]
fn power_cut_during_a_swap_is_finished_at_next_boot() {
    for cut_after in 0..3 {
        let key = BootKey::builtin(BootKeyKind::EcdsaP256);
        let (dir, mut state, key, events) = device(&signed(&key, 5), TEST);
        let report = run_limited(dir.path(), &mut state, &key, &events, cut_after).unwrap();
        assert_eq!(report, BootReport::cut(), "cut after {cut_after} moves");
        // RAM is gone: boot again from what is on disk.
        let mut state = crate::zephyr::load_state(dir.path()).unwrap().unwrap();
        assert!(
            state.swap.is_some(),
            "the swap was recorded before any move"
        );
        let events = EventLog::open(dir.path(), state.event_seq).unwrap();
        let report = run(dir.path(), &mut state, &key, &events).unwrap();
        assert_eq!(report.swap, Some(SwapType::Test), "cut after {cut_after}");
        assert_eq!(
            (version(dir.path(), 0), version(dir.path(), 1)),
            ("5.0.0".into(), "1.0.0".into())
        );
        assert!(!dir.path().join(SCRATCH_FILE).exists());
        assert_eq!(state.swap, None);
        assert_eq!(state.trailers.swap_type(), SwapType::Revert);
    }
}

/// A cut after the last move but before the trailers were written: recognised as done by the file hash.
#[test]
fn power_cut_after_the_moves_is_recognised() {
    let key = BootKey::builtin(BootKeyKind::EcdsaP256);
    let (dir, mut state, key, events) = device(&signed(&key, 6), PERM);
    let s0 = fs::read(slot_path(dir.path(), 0)).unwrap();
    let s1 = fs::read(slot_path(dir.path(), 1)).unwrap();
    state.swap = Some(SwapProgress {
        kind: SwapType::Perm,
        new_primary_sha256: hex::encode(Sha256::digest(&s1)),
    });
    save(dir.path(), &mut state, &events).unwrap();
    fs::write(slot_path(dir.path(), 0), &s1).unwrap();
    fs::write(slot_path(dir.path(), 1), &s0).unwrap();
    let report = run(dir.path(), &mut state, &key, &events).unwrap();
    assert_eq!(
        (report.swap, report.confirmed),
        (Some(SwapType::Perm), true)
    );
    assert_eq!(
        (version(dir.path(), 0), version(dir.path(), 1)),
        ("6.0.0".into(), "1.0.0".into())
    );
}
