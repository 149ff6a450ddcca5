//! The inventory key hierarchy: sealing, key slots, key files, recovery keys and the OS keyring.
//!
//! The keyring test talks to a real Secret Service when run under `scripts/with-secret-service.sh`
//! (`TEMPER_TEST_SECRET_SERVICE=1`); without it, it checks that an unreachable keyring fails with the message
//! saying how to provide a key instead. It lives in `keys/keyring.rs`.

#[path = "keys/keyring.rs"]
mod keyring;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use temper_core::inventory::keys::{
    self, create_key_file, read_key_file, KeyBundle, KeyError, KeyHeader, KeySource, RecoveryKey,
    SlotKind,
};
use temper_core::Secret;

const STRONG: &str = "copper lantern drifts over quiet harbor 7";

fn same_bundle(a: &KeyBundle, b: &KeyBundle) -> bool {
    a.data_key() == b.data_key()
        && a.database_key() == b.database_key()
        && a.audit_key() == b.audit_key()
}

fn passphrase(text: &str) -> KeySource {
    KeySource::Passphrase(Secret::new(text))
}

#[test]
fn seal_open_roundtrip_and_tampering_refused() {
    let bundle = KeyBundle::generate();
    let key = bundle.data_key();
    let aad = b"credential:SN123:console-root:current";
    let sealed = keys::seal(key, b"n3w-s3cret", aad);
    assert_eq!(sealed[0], keys::SEAL_VERSION);
    assert_eq!(sealed.len(), 1 + keys::NONCE_LEN + 10 + keys::TAG_LEN);
    assert_eq!(
        keys::open(key, &sealed, aad).unwrap().as_slice(),
        b"n3w-s3cret"
    );
    assert_ne!(
        sealed,
        keys::seal(key, b"n3w-s3cret", aad),
        "every seal uses a fresh nonce"
    );

    let moved = keys::open(key, &sealed, b"credential:SN999:console-root:current");
    assert!(
        matches!(moved, Err(KeyError::Unseal)),
        "another row's aad must not open it"
    );
    assert!(matches!(
        keys::open(bundle.audit_key(), &sealed, aad),
        Err(KeyError::Unseal)
    ));
    for i in 0..sealed.len() {
        let mut flipped = sealed.clone();
        flipped[i] ^= 0x01;
        assert!(
            matches!(keys::open(key, &flipped, aad), Err(KeyError::Unseal)),
            "flip at byte {i}"
        );
    }
    assert!(matches!(
        keys::open(key, &sealed[..20], aad),
        Err(KeyError::Unseal)
    ));
    let message = KeyError::Unseal.to_string();
    assert!(message.contains("help:"), "{message}");
}

#[test]
fn bundle_keys_are_random_distinct_and_redacted() {
    let a = KeyBundle::generate();
    let b = KeyBundle::generate();
    assert!(!same_bundle(&a, &b));
    assert_ne!(a.data_key(), a.database_key());
    assert_ne!(a.database_key(), a.audit_key());
    let shown = format!("{a:?}");
    assert!(
        !shown.contains(&hex::encode(a.data_key())) && shown.contains("redacted"),
        "{shown}"
    );
}

#[test]
fn passphrase_slot_unlocks_and_wrong_passphrase_is_wrong_key() {
    let bundle = KeyBundle::generate();
    let recovery = RecoveryKey::generate();
    let header = KeyHeader::create(&bundle, &passphrase(STRONG), &recovery).unwrap();
    assert_eq!(
        header.slot_kinds(),
        vec![SlotKind::Passphrase, SlotKind::Recovery]
    );
    assert_eq!(header.inventory_id().len(), 32);
    assert!(same_bundle(
        &header.unlock(&passphrase(STRONG)).unwrap(),
        &bundle
    ));

    let err = header
        .unlock(&passphrase("copper lantern drifts over quiet harbor 8"))
        .unwrap_err();
    assert!(matches!(err, KeyError::WrongKey), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("wrong inventory key\nhelp: "),
        "{message}"
    );

    let err = header
        .unlock(&KeySource::KeyFile("/nonexistent".into()))
        .unwrap_err();
    assert!(matches!(err, KeyError::NoSlot { .. }), "{err:?}");
    assert!(
        err.to_string().contains("passphrase, recovery key"),
        "{err}"
    );
}

#[test]
fn weak_passphrase_and_recovery_as_primary_are_refused() {
    let bundle = KeyBundle::generate();
    let recovery = RecoveryKey::generate();
    let err = KeyHeader::create(&bundle, &passphrase("password1"), &recovery).unwrap_err();
    assert!(matches!(err, KeyError::WeakPassphrase { .. }), "{err:?}");
    assert!(!err.to_string().contains("password1"), "{err}");
    let typed = KeySource::Recovery(recovery.to_display_string());
    let err = KeyHeader::create(&bundle, &typed, &recovery).unwrap_err();
    assert!(matches!(err, KeyError::RecoveryNotPrimary), "{err:?}");
}

#[test]
fn key_file_owner_only_is_accepted_and_group_readable_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.key");
    let created = create_key_file(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        STANDARD.decode(text.trim()).unwrap(),
        created.to_vec(),
        "content is base64 of the key"
    );
    assert_eq!(*read_key_file(&path).unwrap(), *created);
    assert!(matches!(
        create_key_file(&path),
        Err(KeyError::KeyFileExists { .. })
    ));

    let bundle = KeyBundle::generate();
    let source = KeySource::KeyFile(path.clone());
    let header = KeyHeader::create(&bundle, &source, &RecoveryKey::generate()).unwrap();
    assert!(same_bundle(&header.unlock(&source).unwrap(), &bundle));

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    for err in [
        read_key_file(&path).unwrap_err(),
        header.unlock(&source).unwrap_err(),
    ] {
        assert!(
            matches!(err, KeyError::KeyFilePermissions { mode: 0o644, .. }),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("0644"), "{message}");
        assert!(
            message.contains(&format!("chmod 600 {}", path.display())),
            "{message}"
        );
    }

    let other = dir.path().join("other.key");
    create_key_file(&other).unwrap();
    let other_source = KeySource::KeyFile(other);
    assert!(matches!(
        header.unlock(&other_source),
        Err(KeyError::WrongKey)
    ));

    let garbage = dir.path().join("garbage.key");
    write_private(&garbage, "not a key\n");
    let err = read_key_file(&garbage).unwrap_err();
    assert!(matches!(err, KeyError::KeyFileContent { .. }), "{err:?}");
    assert!(
        !err.to_string().contains("not a key"),
        "content must not be echoed: {err}"
    );
}

#[test]
fn key_file_of_another_user_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foreign.key");
    create_key_file(&path).unwrap();
    match std::os::unix::fs::chown(&path, Some(54_321), None) {
        Ok(()) => {
            let err = read_key_file(&path).unwrap_err();
            assert!(
                matches!(err, KeyError::KeyFileOwner { owner: 54_321, .. }),
                "{err:?}"
            );
            assert!(err.to_string().contains("chown"), "{err}");
        }
        // Not root: the file cannot be given away, so check that one's own file passes the owner check.
        Err(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
            read_key_file(&path).unwrap();
        }
    }
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn recovery_key_display_parse_typo_and_unlock() {
    let recovery = RecoveryKey::generate();
    let shown = recovery.to_display_string();
    let groups: Vec<&str> = shown.expose().split('-').collect();
    assert_eq!(groups.len(), 8, "{groups:?}");
    assert!(groups.iter().all(|g| g.len() == 7), "{groups:?}");
    assert!(!format!("{recovery:?}").contains(groups[0]));

    let bundle = KeyBundle::generate();
    let header = KeyHeader::create(&bundle, &passphrase(STRONG), &recovery).unwrap();
    let as_typed = [
        shown.expose().to_string(),
        shown.expose().to_lowercase(),
        groups.join(" "),
        format!(
            "  {}  ",
            groups.concat().replace('O', "0").replace('I', "1")
        ),
    ];
    for typed in as_typed {
        let parsed = RecoveryKey::parse(&typed).unwrap();
        assert_eq!(parsed.to_display_string(), shown);
        let unlocked = header
            .unlock(&KeySource::Recovery(Secret::new(typed)))
            .unwrap();
        assert!(same_bundle(&unlocked, &bundle));
    }

    // One character changed.
    let mut chars: Vec<char> = shown.expose().chars().collect();
    chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
    let typo: String = chars.into_iter().collect();
    for err in [
        RecoveryKey::parse(&typo).unwrap_err(),
        header
            .unlock(&KeySource::Recovery(Secret::new(typo.clone())))
            .unwrap_err(),
        RecoveryKey::parse(&shown.expose()[..40]).unwrap_err(),
        RecoveryKey::parse(&format!("{}!", shown.expose())).unwrap_err(),
    ] {
        assert!(matches!(err, KeyError::RecoveryKeyTypo { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with("the recovery key has a typo"),
            "{err}"
        );
    }

    let stranger = RecoveryKey::generate().to_display_string();
    let err = header.unlock(&KeySource::Recovery(stranger)).unwrap_err();
    assert!(
        matches!(err, KeyError::WrongKey),
        "a valid key of another inventory is a wrong key: {err:?}"
    );
}

#[test]
fn header_roundtrips_atomically_and_holds_no_key_material() {
    let dir = tempfile::tempdir().unwrap();
    let path = keys::header_path(&dir.path().join("inventory.db"));
    assert!(path.to_string_lossy().ends_with("inventory.db.keys"));
    let bundle = KeyBundle::generate();
    let recovery = RecoveryKey::generate();
    let header = KeyHeader::create(&bundle, &passphrase(STRONG), &recovery).unwrap();
    header.write_atomic(&path).unwrap();
    header.write_atomic(&path).unwrap(); // replaces
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    let read = KeyHeader::read(&path).unwrap();
    assert_eq!(read, header);
    assert!(same_bundle(
        &read.unlock(&passphrase(STRONG)).unwrap(),
        &bundle
    ));

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(header.inventory_id()) && text.contains("argon2id"),
        "{text}"
    );
    for key in [bundle.data_key(), bundle.database_key(), bundle.audit_key()] {
        for encoded in [
            hex::encode(key),
            hex::encode_upper(key),
            STANDARD.encode(key),
            STANDARD_NO_PAD.encode(key),
            URL_SAFE_NO_PAD.encode(key),
            STANDARD.encode(&key[..16]),
        ] {
            assert!(
                !text.contains(&encoded),
                "the header contains a plaintext key"
            );
        }
    }
    let shown = recovery.to_display_string();
    assert!(!text.contains(shown.expose()) && !text.contains(&shown.expose().replace('-', "")));
    assert!(!text.contains(STRONG));

    let damaged = text.replace(
        "\"format\": 1,\n  \"inventory_id\"",
        "\"format\": 9,\n  \"inventory_id\"",
    );
    assert_ne!(damaged, text);
    std::fs::write(&path, damaged).unwrap();
    let err = KeyHeader::read(&path).unwrap_err();
    assert!(
        matches!(err, KeyError::Header { .. }) && err.to_string().contains("format 9"),
        "{err}"
    );
}

#[test]
fn rewrapped_header_keeps_the_inventory_and_drops_old_keys() {
    let bundle = KeyBundle::generate();
    let old_recovery = RecoveryKey::generate();
    let header = KeyHeader::create(&bundle, &passphrase(STRONG), &old_recovery).unwrap();
    let new_phrase = "violet engine hums beneath frozen canal 42";
    let new_recovery = RecoveryKey::generate();
    let rekeyed = header
        .rewrapped(&bundle, &passphrase(new_phrase), &new_recovery)
        .unwrap();
    assert_eq!(rekeyed.inventory_id(), header.inventory_id());
    assert!(same_bundle(
        &rekeyed.unlock(&passphrase(new_phrase)).unwrap(),
        &bundle
    ));
    assert!(matches!(
        rekeyed.unlock(&passphrase(STRONG)),
        Err(KeyError::WrongKey)
    ));
    let old = KeySource::Recovery(old_recovery.to_display_string());
    assert!(matches!(rekeyed.unlock(&old), Err(KeyError::WrongKey)));
    let new = KeySource::Recovery(new_recovery.to_display_string());
    assert!(same_bundle(&rekeyed.unlock(&new).unwrap(), &bundle));
}
