//! Key errors. Every message says what to do, and none ever contains a secret.

use std::path::PathBuf;

/// The help line shared by every "no usable keyring" message: how to provide a key instead.
const OTHER_SOURCES: &str =
    "start a Secret Service (gnome-keyring) or use --passphrase-file FILE or --key-file FILE";

/// Getting, using or storing an inventory key failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No key slot of the header opens with the key offered.
    #[error(
        "wrong inventory key\nhelp: use the passphrase, key file or keyring entry this inventory was set up with, \
         or unlock it with the recovery key (`--recovery-key`); nothing was changed"
    )]
    WrongKey,
    /// The header has no slot of the kind offered.
    #[error(
        "this inventory cannot be unlocked with a {kind}; it has: {available}\nhelp: use one of those, or the \
         recovery key (`--recovery-key`)"
    )]
    NoSlot {
        /// The kind offered.
        kind: String,
        /// The kinds the header has, comma-separated.
        available: String,
    },
    /// A recovery key cannot be a primary source (it is always added as its own slot).
    #[error(
        "a recovery key cannot be the primary inventory key\nhelp: use a passphrase, a key file or the OS \
         keyring; the recovery key is added beside it"
    )]
    RecoveryNotPrimary,
    /// The recovery key as typed fails its checksum or has the wrong length or characters.
    #[error(
        "the recovery key has a typo: {detail}\nhelp: compare each group with the recovery key printed when the \
         inventory was created (case, spaces and dashes do not matter)"
    )]
    RecoveryKeyTypo {
        /// What is wrong; never contains the key.
        detail: String,
    },
    /// No OS keyring is reachable (no D-Bus session, no Secret Service, or this build has no keyring support).
    #[error("no OS keyring is available ({detail})\nhelp: {OTHER_SOURCES}")]
    NoKeyring {
        /// Why, as reported by the platform.
        detail: String,
    },
    /// The OS keyring is there but refused access (locked, or the unlock prompt was dismissed).
    #[error("the OS keyring refused access ({detail})\nhelp: unlock the keyring (log in to the desktop), or {OTHER_SOURCES}")]
    KeyringLocked {
        /// Why, as reported by the platform.
        detail: String,
    },
    /// The keyring holds no key for this inventory.
    #[error(
        "the keyring has no key for this inventory (service {service:?}, account {account:?})\nhelp: unlock it \
         with the recovery key (`--recovery-key`), then rekey to store a new key in the keyring"
    )]
    KeyringEntryMissing {
        /// Keyring service name.
        service: String,
        /// Keyring account name.
        account: String,
    },
    /// The keyring entry exists but does not hold a Temper key.
    #[error(
        "the keyring entry (service {service:?}, account {account:?}) does not hold a Temper inventory key\n\
         help: unlock the inventory with the recovery key (`--recovery-key`) and rekey"
    )]
    KeyringEntryInvalid {
        /// Keyring service name.
        service: String,
        /// Keyring account name.
        account: String,
    },
    /// Another keyring failure.
    #[error("the OS keyring failed: {detail}\nhelp: retry; if it persists, {OTHER_SOURCES}")]
    Keyring {
        /// What failed, as reported by the platform.
        detail: String,
    },
    /// The key file is readable or writable by group or others.
    #[error(
        "the key file {} has mode {mode:04o}: group and others must have no access\nhelp: chmod 600 {}",
        path.display(), path.display()
    )]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file belongs to another user.
    #[error(
        "the key file {} is owned by uid {owner}, not by the current user (uid {uid})\nhelp: chown {uid} {} \
         (and chmod 600 it), or use a key file of your own",
        path.display(), path.display()
    )]
    KeyFileOwner {
        /// The key file.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The current (effective) user.
        uid: u32,
    },
    /// The key file does not hold a key.
    #[error(
        "the key file {} is not a Temper key file: {reason}\nhelp: it must hold 32 random bytes in standard \
         base64 (as written by `create_key_file`); check you passed the right file",
        path.display()
    )]
    KeyFileContent {
        /// The key file.
        path: PathBuf,
        /// What is wrong; never contains the content.
        reason: String,
    },
    /// `create_key_file` found a file already there.
    #[error("the key file {} already exists\nhelp: Temper never overwrites a key file; choose another path", path.display())]
    KeyFileExists {
        /// The existing file.
        path: PathBuf,
    },
    /// The key header (`<db>.keys`) is damaged or of an unknown format.
    #[error(
        "cannot use the key header {}: {reason}\nhelp: the inventory cannot be unlocked without this file; restore \
         it (together with the database) from a backup",
        path.display()
    )]
    Header {
        /// The header file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A passphrase offered for a new slot is too easy to guess.
    #[error(
        "the inventory passphrase is too weak: {reason}\nhelp: choose a longer passphrase, e.g. four or more \
         unrelated words; it protects every device credential"
    )]
    WeakPassphrase {
        /// Why, with suggestions (from zxcvbn). Never contains the passphrase.
        reason: String,
    },
    /// Argon2id failed (bad parameters in the header, or out of memory).
    #[error(
        "passphrase key derivation failed: {0}\nhelp: check free memory (Argon2id needs 64 MiB)"
    )]
    Kdf(String),
    /// A sealed value did not open: wrong key, changed bytes, or moved to another place.
    #[error(
        "a sealed secret could not be decrypted: the data key is wrong or the value was altered or moved\nhelp: \
         restore the inventory from a backup if this persists"
    )]
    Unseal,
    /// Reading or writing a key file or header failed.
    #[error("key file error on {}: {source}\nhelp: check the path, file permissions and free disk space", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
