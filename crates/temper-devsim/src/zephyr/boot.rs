//! The simulated MCUboot, run at every boot of the zephyr-sensor (process start = power on, and every reset).
//!
//! Swap mode (like swap-using-move): the image trailers in `state.json` ([`Trailers`]) decide the swap type.
//! - **test / perm**: the image in slot 1 is validated against the built-in key ([`BootKey::validate`]: hash
//!   TLV, KEYHASH, signature). Valid: the slots are exchanged and slot 0 boots, unconfirmed after a test swap
//!   (so the next boot reverts it unless the application confirms it), confirmed after a perm swap. Invalid:
//!   `{"event":"boot_refused","reason",...}` is logged, slot 1 is erased (as MCUboot erases a secondary slot
//!   that fails validation) and the old slot 0 boots.
//! - **revert**: the previous image (kept in slot 1) is exchanged back and marked confirmed.
//!
//! Power cuts: before any file moves, the swap is recorded in `state.json` ([`SwapProgress`], written
//! atomically); the exchange is three renames (slot 0 → scratch, slot 1 → slot 0, scratch → slot 1), and the
//! files present tell how far it got, so a boot after a cut at any point finishes the same swap.

use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::image::sign::{builtin_image, BootKey};
use super::image::slots::{
    read_info, slot_path, SlotInfo, SwapType, Trailer, Trailers, SCRATCH_FILE, SLOT_SIZE,
};
use super::ZephyrState;
use crate::eventlog::EventLog;
use crate::SimError;

/// A swap the bootloader started and has not finished (in `state.json`, so a power cut cannot lose it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapProgress {
    pub kind: SwapType,
    /// Hex SHA-256 of the file that ends up in slot 0: how a resumed boot recognises a finished exchange.
    pub new_primary_sha256: String,
}

/// What one boot did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootReport {
    /// The swap performed (`None`: slot 0 booted as it was).
    pub swap: Option<SwapType>,
    /// Why slot 1 was refused, when it was.
    pub refused: Option<String>,
    /// The image now running from slot 0.
    pub active: Option<SlotInfo>,
    /// Whether it is confirmed (false: a test image that the next reset reverts).
    pub confirmed: bool,
}

impl BootReport {
    /// A boot cut short by a (simulated) power cut.
    fn cut() -> BootReport {
        BootReport {
            swap: None,
            refused: None,
            active: None,
            confirmed: false,
        }
    }
}

/// Boots: finishes an interrupted swap, installs the factory image in an empty slot 0, then does what the
/// trailers ask. Every state change is saved before it is relied on.
pub fn run(
    dir: &Path,
    state: &mut ZephyrState,
    key: &BootKey,
    events: &EventLog,
) -> Result<BootReport, SimError> {
    run_limited(dir, state, key, events, usize::MAX)
}

/// [`run`], cut off (as by a power cut) after `max_renames` file moves of a swap (tests only).
fn run_limited(
    dir: &Path,
    state: &mut ZephyrState,
    key: &BootKey,
    events: &EventLog,
    max_renames: usize,
) -> Result<BootReport, SimError> {
    let io = |e: io::Error| SimError::io(dir.display().to_string(), e);
    let mut swap = None;
    if let Some(progress) = state.swap.clone() {
        if !exchange(dir, &progress.new_primary_sha256, max_renames).map_err(io)? {
            return Ok(BootReport::cut());
        }
        finish(dir, state, events, progress.kind, Value::Null, true)?;
        swap = Some(progress.kind);
    }
    if !slot_path(dir, 0).exists() {
        write_atomically(dir, &slot_path(dir, 0), &builtin_image(key)).map_err(io)?;
        state.trailers = Trailers::default();
        events.log(
            "factory_image",
            json!({ "slot": 0, "image": slot_summary(dir, 0) }),
        );
        save(dir, state, events)?;
    }
    let mut refused = None;
    let kind = state.trailers.swap_type();
    if swap.is_none() && kind != SwapType::None {
        let secondary = fs::read(slot_path(dir, 1)).unwrap_or_default();
        let verdict = match kind {
            SwapType::Test | SwapType::Perm => key.validate(&secondary, SLOT_SIZE).map(|_| ()),
            _ => Ok(()),
        };
        match verdict {
            Err(reason) => {
                events.log(
                    "boot_refused",
                    json!({"slot": 1, "reason": reason.to_string(), "image": slot_summary(dir, 1)}),
                );
                remove_if_present(&slot_path(dir, 1)).map_err(io)?;
                state.trailers.secondary = Trailer::default();
                save(dir, state, events)?;
                refused = Some(reason.to_string());
            }
            Ok(()) if secondary.is_empty() => {
                // A revert with nothing to revert to: keep running the current image, confirmed.
                events.log("revert_impossible", json!({ "reason": "slot 1 is empty" }));
                state.trailers.primary.image_ok = true;
                save(dir, state, events)?;
            }
            Ok(()) => {
                let before = slot_summary(dir, 0);
                state.swap = Some(SwapProgress {
                    kind,
                    new_primary_sha256: hex::encode(Sha256::digest(&secondary)),
                });
                save(dir, state, events)?;
                let progress = state.swap.clone().expect("just set");
                if !exchange(dir, &progress.new_primary_sha256, max_renames).map_err(io)? {
                    return Ok(BootReport::cut());
                }
                finish(dir, state, events, kind, before, false)?;
                swap = Some(kind);
            }
        }
    }
    let t = state.trailers;
    Ok(BootReport {
        swap,
        refused,
        active: read_info(dir, 0).ok(),
        confirmed: !t.primary.magic || t.primary.image_ok,
    })
}

/// Sets the trailers a finished swap of `kind` leaves and forgets the swap.
fn finish(
    dir: &Path,
    state: &mut ZephyrState,
    events: &EventLog,
    kind: SwapType,
    old_primary: Value,
    resumed: bool,
) -> Result<(), SimError> {
    state.trailers = Trailers {
        primary: Trailer {
            magic: true,
            image_ok: kind != SwapType::Test,
            copy_done: true,
        },
        secondary: Trailer::default(),
    };
    state.swap = None;
    events.log(
        "swap",
        json!({
            "type": kind,
            "resumed": resumed,
            "from": old_primary,
            "to": slot_summary(dir, 0),
        }),
    );
    save(dir, state, events)
}

/// Exchanges slot 0 and slot 1 by three renames, continuing from wherever a previous attempt stopped.
/// `Ok(false)`: stopped after `max_renames` moves (tests simulate a power cut with it).
fn exchange(dir: &Path, new_primary_sha256: &str, max_renames: usize) -> io::Result<bool> {
    let (s0, s1, scratch) = (slot_path(dir, 0), slot_path(dir, 1), dir.join(SCRATCH_FILE));
    for renames in 0..=3 {
        let (from, to) = match (s0.exists(), s1.exists(), scratch.exists()) {
            (true, true, false) => {
                if hex::encode(Sha256::digest(fs::read(&s0)?)) == new_primary_sha256 {
                    return Ok(true);
                }
                (&s0, &scratch)
            }
            (false, true, true) => (&s1, &s0),
            (true, false, true) => (&scratch, &s1),
            other => {
                return Err(io::Error::other(format!(
                    "slot files in an impossible state during a swap (slot0, slot1, scratch present: {other:?})"
                )))
            }
        };
        if renames == max_renames {
            return Ok(false);
        }
        fs::rename(from, to)?;
    }
    Err(io::Error::other(
        "the swap did not finish in three moves: slot 1 changed while a swap was recorded",
    ))
}

fn save(dir: &Path, state: &mut ZephyrState, events: &EventLog) -> Result<(), SimError> {
    state.event_seq = events.seq();
    super::save_state(dir, state)
}

/// `{"version", "hash"}` of a slot's image, or null.
pub fn slot_summary(dir: &Path, slot: usize) -> Value {
    match read_info(dir, slot) {
        Ok(info) => json!({"version": info.version.to_string(), "hash": hex::encode(info.hash)}),
        Err(_) => Value::Null,
    }
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(".slot.tmp");
    fs::write(&tmp, bytes)?;
    fs::File::open(&tmp)?.sync_all()?;
    fs::rename(&tmp, path)
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "boot_tests.rs"]
mod tests;
