//! Key files for headless stations: 32 random bytes in standard base64 (with padding) plus a newline, in a
//! regular file owned by the current user with mode 0600 (group and others must have no access at all).

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use super::{random_key, Key, KeyError, KEY_LEN};

/// Longest key file content accepted, in bytes (a key is 44 base64 characters; leave room for whitespace).
const MAX_KEY_FILE_LEN: u64 = 256;

/// Reads the key in the key file at `path`.
///
/// Refuses a file whose mode gives group or others any access (`mode & 0o077 != 0`; the message names the path,
/// the mode and `chmod 600 PATH`), a file not owned by the current user, a file that is not a regular file, and
/// content that is not 32 bytes in standard base64 (surrounding whitespace is ignored).
pub fn read_key_file(path: &Path) -> Result<Key, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = OpenOptions::new().read(true).open(path).map_err(io)?;
    // Check the opened file itself, so the checks and the read cannot see two different files.
    let meta = file.metadata().map_err(io)?;
    let content_error = |reason: &str| KeyError::KeyFileContent {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if !meta.is_file() {
        return Err(content_error("it is not a regular file"));
    }
    check_owner_only(path, &meta)?;
    if meta.len() > MAX_KEY_FILE_LEN {
        return Err(content_error("it is too long"));
    }
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_KEY_FILE_LEN)
        .read_to_string(&mut text)
        .map_err(|_| content_error("it is not text"))?;
    let bytes = Zeroizing::new(
        STANDARD
            .decode(text.trim())
            .map_err(|_| content_error("it is not standard base64"))?,
    );
    if bytes.len() != KEY_LEN {
        return Err(content_error("it does not hold exactly 32 bytes"));
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    key.copy_from_slice(&bytes);
    Ok(key)
}

/// Writes a new key file at `path` with a fresh random key, mode 0600, and returns the key.
///
/// Never overwrites: [`KeyError::KeyFileExists`] if the path exists. The file and its directory are fsync'd.
pub fn create_key_file(path: &Path) -> Result<Key, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::KeyFileExists {
                path: path.to_path_buf(),
            }
        } else {
            io(e)
        }
    })?;
    let key = random_key();
    let mut text = Zeroizing::new(STANDARD.encode(key.as_slice()));
    text.push('\n');
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| sync_parent_dir(path));
    if let Err(e) = written {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(io(e));
    }
    Ok(key)
}

/// fsyncs the directory holding `path`, so a new or renamed entry survives a crash.
pub(super) fn sync_parent_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(unix)]
fn check_owner_only(path: &Path, meta: &std::fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::MetadataExt;
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyError::KeyFilePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let uid = current_uid().map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.uid() != uid {
        return Err(KeyError::KeyFileOwner {
            path: path.to_path_buf(),
            owner: meta.uid(),
            uid,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), KeyError> {
    // Windows has no mode bits; a key file there relies on the ACL of the user's profile directory.
    Ok(())
}

/// The effective user id of this process.
///
/// temper-core has no libc binding, so on Linux this reads the `Uid:` line of `/proc/self/status` (real,
/// effective, saved, filesystem ids); elsewhere it takes the owner of a file this process just created.
#[cfg(unix)]
fn current_uid() -> std::io::Result<u32> {
    #[cfg(target_os = "linux")]
    {
        let status = std::fs::read_to_string("/proc/self/status")?;
        let effective = status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|id| id.parse::<u32>().ok());
        effective.ok_or_else(|| std::io::Error::other("/proc/self/status has no effective uid"))
    }
    #[cfg(not(target_os = "linux"))]
    {
        use std::os::unix::fs::MetadataExt;
        let probe = tempfile_probe()?;
        let uid = std::fs::metadata(&probe).map(|m| m.uid());
        let _ = std::fs::remove_file(&probe);
        uid
    }
}

#[cfg(all(unix, not(target_os = "linux")))]
fn tempfile_probe() -> std::io::Result<std::path::PathBuf> {
    use rand::RngCore;
    let mut name = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut name);
    let path = std::env::temp_dir().join(format!("temper-uid-probe-{}", hex::encode(name)));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok(path)
}
