//! Firmware images on devices: an SMP image upload that survives the device going away.
//!
//! [`upload`] drives [`SmpClient::upload_with`] and, when the link closes mid-upload (the device reset,
//! lost power, or was unplugged and plugged in again, perhaps under a new port name), waits a bounded time
//! for the device to come back through the caller's `reopen` closure, reconnects and continues. The device
//! decides where: it resumes at the offset it still holds in RAM (the file's SHA-256 goes with the first
//! chunk) or, after a reset, starts over from zero. Finding the device again (by its USB serial, through
//! [`crate::discovery`]) is the caller's business, so this module names no discovery and the loop is
//! testable with in-memory links.

#[cfg(test)]
mod tests;

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::proto::smp::client::{SmpClient, SmpClientError};
use crate::proto::smp::upload::UploadEvent;
use crate::transport::Link;

/// MCUboot image header magic (little-endian at offset 0).
pub const MCUBOOT_MAGIC: u32 = 0x96f3_b83d;

/// How long to wait for a device that went away, and how often to look for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Longest wait for the device to come back after each loss.
    pub wait: Duration,
    /// How often `reopen` is tried meanwhile.
    pub poll: Duration,
    /// Most reconnections in one upload before giving up.
    pub max_reconnects: u32,
}

impl Default for ReconnectPolicy {
    /// 30 s per loss, tried every 250 ms, at most 5 times.
    fn default() -> Self {
        ReconnectPolicy {
            wait: Duration::from_secs(30),
            poll: Duration::from_millis(250),
            max_reconnects: 5,
        }
    }
}

/// What [`upload`] reports: the upload's own events, and the link's. Order: as [`UploadEvent`] documents,
/// with [`LinkLost`](Self::LinkLost) then [`Reconnected`](Self::Reconnected) wherever the link dropped; after
/// a reconnection the upload's events start again from `upload-started`, and an
/// [`UploadEvent::Restarted`] comes before the first progress when the device lost what it held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirmwareEvent {
    /// An event of the upload itself.
    Upload(UploadEvent),
    /// The link closed; waiting up to `wait_secs` for the device.
    LinkLost {
        /// Why the link closed.
        reason: String,
        /// The longest wait.
        wait_secs: u64,
    },
    /// The device is back.
    Reconnected {
        /// The new link ([`Link::describe`], e.g. the port path).
        link: String,
        /// How long it was gone, in milliseconds.
        after_ms: u64,
    },
}

impl Serialize for FirmwareEvent {
    /// JSON: an upload event as it is (`{"event":"upload-progress",...}`), or
    /// `{"event":"link-lost","reason":...,"wait-secs":30}` / `{"event":"reconnected","link":...,"after-ms":...}`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(
            tag = "event",
            rename_all = "kebab-case",
            rename_all_fields = "kebab-case"
        )]
        enum Link<'a> {
            LinkLost { reason: &'a str, wait_secs: u64 },
            Reconnected { link: &'a str, after_ms: u64 },
        }
        match self {
            FirmwareEvent::Upload(e) => e.serialize(s),
            FirmwareEvent::LinkLost { reason, wait_secs } => Link::LinkLost {
                reason,
                wait_secs: *wait_secs,
            }
            .serialize(s),
            FirmwareEvent::Reconnected { link, after_ms } => Link::Reconnected {
                link,
                after_ms: *after_ms,
            }
            .serialize(s),
        }
    }
}

/// What a finished [`upload`] did, over every session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadReport {
    /// Image length in bytes.
    pub len: u64,
    /// Where the device resumed an earlier upload in the first session (a killed run left it in RAM), if it
    /// did.
    pub resumed_at: Option<u64>,
    /// Image bytes sent in the session that finished, resent ones included (earlier sessions not counted).
    pub sent: u64,
    /// Reconnections.
    pub reconnects: u32,
    /// Times the device had lost the upload and took it again from 0.
    pub restarts: u32,
    /// The device's check against the SHA-256, when it made one.
    pub matched: Option<bool>,
    /// Wall time of the whole upload.
    pub elapsed: Duration,
}

/// Why an upload failed.
#[derive(Debug, thiserror::Error)]
pub enum FirmwareError {
    /// The file is not an MCUboot image; the device would refuse it.
    #[error("{0} is not an MCUboot image (no header magic 0x96f3b83d at its start); sign it with imgtool (imgtool sign --header-size 0x200 --pad-header ...) and upload the signed file")]
    NotAnImage(String),
    /// Talking to the device failed.
    #[error(transparent)]
    Smp(#[from] SmpClientError),
    /// The link closed and the device did not come back in time.
    #[error("the link to the device closed ({reason}) and the device did not come back within {waited_secs} s; plug it in and run the same command again: the upload resumes where the device stopped, or starts over if it lost power")]
    DeviceGone {
        /// Why the link closed.
        reason: String,
        /// How long was waited.
        waited_secs: u64,
    },
    /// The device went away too often.
    #[error("the device went away {count} times during the upload; check its cable and power supply, then run the same command again")]
    TooManyReconnects {
        /// Reconnections made.
        count: u32,
    },
}

impl FirmwareError {
    /// A stable code for front ends to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            FirmwareError::NotAnImage(_) => "firmware-not-an-image",
            FirmwareError::Smp(e) => e.code(),
            FirmwareError::DeviceGone { .. } => "firmware-device-gone",
            FirmwareError::TooManyReconnects { .. } => "firmware-too-many-reconnects",
        }
    }
}

/// Checks that `image` starts with an MCUboot header (magic and a 32-byte header); `name` is for the
/// message.
pub fn check_image(name: &str, image: &[u8]) -> Result<(), FirmwareError> {
    match image.get(..4) {
        Some(magic) if image.len() >= 32 && magic == MCUBOOT_MAGIC.to_le_bytes() => Ok(()),
        _ => Err(FirmwareError::NotAnImage(name.to_string())),
    }
}

/// Uploads `image` to the secondary slot of image number `image_number` over `client`, reconnecting
/// through `reopen` when the link closes; returns the client (on the last link) and what happened.
///
/// `reopen` is tried every [`ReconnectPolicy::poll`] for up to [`ReconnectPolicy::wait`] after each loss;
/// it returns the new link, or `None` while the device is not there (yet). Pass `None` as `reopen` for no
/// reconnection: a closed link then ends the upload with [`SmpClientError::Link`]. Other errors end it at
/// once. Events reach `on_event` in the order [`FirmwareEvent`] documents.
pub async fn upload<L, R, F>(
    mut client: SmpClient<L>,
    image: &[u8],
    image_number: Option<u32>,
    mut reopen: Option<R>,
    policy: ReconnectPolicy,
    mut on_event: impl FnMut(&FirmwareEvent),
) -> Result<(SmpClient<L>, UploadReport), FirmwareError>
where
    L: Link,
    R: FnMut() -> F,
    F: Future<Output = Option<L>>,
{
    let started = Instant::now();
    let mut report = UploadReport {
        len: image.len() as u64,
        resumed_at: None,
        sent: 0,
        reconnects: 0,
        restarts: 0,
        matched: None,
        elapsed: Duration::ZERO,
    };
    // The device's last known offset, and (after a reconnection) the offset to compare its first report with.
    let mut last_off = 0;
    let mut after_reconnect: Option<u64> = None;
    loop {
        // 1. One session on the current link; its events pass through, restarts across sessions added.
        let result = client
            .upload_with(image, image_number, |event| {
                match event {
                    UploadEvent::Resumed { .. } => after_reconnect = None,
                    UploadEvent::Progress { off, .. } => {
                        if let Some(before) = after_reconnect.take() {
                            if *off < before {
                                report.restarts += 1;
                                let restarted = UploadEvent::Restarted { from: before };
                                on_event(&FirmwareEvent::Upload(restarted));
                            }
                        }
                        last_off = *off;
                    }
                    UploadEvent::Restarted { .. } => report.restarts += 1,
                    UploadEvent::Started { .. } | UploadEvent::Finished { .. } => {}
                }
                on_event(&FirmwareEvent::Upload(event.clone()));
            })
            .await;
        let reason = match result {
            Ok(summary) => {
                if report.reconnects == 0 {
                    report.resumed_at = summary.resumed_at;
                }
                report.sent = summary.sent;
                report.matched = summary.matched;
                report.elapsed = started.elapsed();
                return Ok((client, report));
            }
            Err(SmpClientError::Link(crate::transport::TransportError::Closed(reason)))
                if reopen.is_some() =>
            {
                reason
            }
            Err(e) => return Err(e.into()),
        };

        // 2. The link closed: wait for the device, bounded.
        if report.reconnects >= policy.max_reconnects {
            return Err(FirmwareError::TooManyReconnects {
                count: report.reconnects,
            });
        }
        on_event(&FirmwareEvent::LinkLost {
            reason: reason.clone(),
            wait_secs: policy.wait.as_secs(),
        });
        let (timeout, erase_timeout) = client.timeouts();
        drop(client);
        let lost = Instant::now();
        let deadline = lost + policy.wait;
        let reopen = reopen.as_mut().expect("checked above");
        let link = loop {
            if let Some(link) = reopen().await {
                break link;
            }
            if Instant::now() >= deadline {
                return Err(FirmwareError::DeviceGone {
                    reason,
                    waited_secs: policy.wait.as_secs(),
                });
            }
            tokio::time::sleep(policy.poll.min(deadline - Instant::now())).await;
        };

        // 3. A fresh session on the new link (the device may run other firmware now: v2 is tried again).
        report.reconnects += 1;
        on_event(&FirmwareEvent::Reconnected {
            link: link.describe(),
            after_ms: lost.elapsed().as_millis() as u64,
        });
        client = SmpClient::new(link)
            .with_timeout(timeout)
            .with_erase_timeout(erase_timeout);
        after_reconnect = Some(last_off);
    }
}
