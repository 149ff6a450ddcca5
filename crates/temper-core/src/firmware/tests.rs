//! [`upload`] against fake SMP devices that go away mid-upload and come back (or not) through `reopen`.

use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::*;
use crate::proto::smp::testing::{self, FakeConfig, FakeDevice, HeldUpload};
use crate::transport::testing::TestLink;

type Handle = tokio::task::JoinHandle<FakeDevice>;

fn image(len: usize) -> Vec<u8> {
    let mut img: Vec<u8> = (0..len).map(|i| (i * 13 % 251) as u8).collect();
    img[..4].copy_from_slice(&MCUBOOT_MAGIC.to_le_bytes());
    img
}

fn client(link: TestLink) -> SmpClient<TestLink> {
    SmpClient::new(link)
        .with_timeout(Duration::from_millis(300))
        .with_erase_timeout(Duration::from_millis(300))
}

fn policy() -> ReconnectPolicy {
    ReconnectPolicy {
        wait: Duration::from_millis(500),
        poll: Duration::from_millis(20),
        max_reconnects: 3,
    }
}

/// The devices a test has started, in order; `reopen` starts the next one (after `absent` failed tries),
/// carrying the previous one's RAM over when `keeps_ram` (a link drop) or not (a power cycle).
#[derive(Clone)]
struct Bench {
    devices: Arc<Mutex<Vec<Handle>>>,
    tries: Arc<Mutex<u32>>,
}

impl Bench {
    fn new(first: Handle) -> Self {
        Bench {
            devices: Arc::new(Mutex::new(vec![first])),
            tries: Arc::new(Mutex::new(0)),
        }
    }

    fn reopen(
        &self,
        absent: u32,
        keeps_ram: bool,
    ) -> impl FnMut() -> std::pin::Pin<Box<dyn Future<Output = Option<TestLink>> + Send>> {
        let bench = self.clone();
        move || {
            let bench = bench.clone();
            Box::pin(async move {
                {
                    let mut tries = bench.tries.lock().unwrap();
                    *tries += 1;
                    if *tries <= absent {
                        return None;
                    }
                }
                let previous = bench.devices.lock().unwrap().pop().expect("a device");
                let previous = previous.await.unwrap();
                let (link, next) = testing::start(FakeConfig {
                    held: keeps_ram.then_some(previous.held.clone()),
                    ..FakeConfig::default()
                });
                bench.devices.lock().unwrap().push(next);
                Some(link)
            })
        }
    }

    async fn last(&self) -> FakeDevice {
        let handle = self.devices.lock().unwrap().pop().unwrap();
        handle.await.unwrap()
    }
}

#[tokio::test]
async fn firmware_upload_reconnects_and_resumes_after_a_link_drop() {
    let img = image(30_000);
    let (link, first) = testing::start(FakeConfig {
        close_after: Some(30),
        ..FakeConfig::default()
    });
    let bench = Bench::new(first);
    let mut events = Vec::new();
    let (c, report) = upload(
        client(link),
        &img,
        None,
        Some(bench.reopen(2, true)),
        policy(),
        |e| events.push(e.clone()),
    )
    .await
    .unwrap();
    drop(c);
    let device = bench.last().await;
    assert_eq!(
        device.slot1.as_deref(),
        Some(&img[..]),
        "the whole image landed"
    );
    assert_eq!((report.reconnects, report.restarts), (1, 0));
    let lost = events
        .iter()
        .position(|e| matches!(e, FirmwareEvent::LinkLost { .. }))
        .expect("the loss is reported");
    assert!(matches!(
        events[lost + 1],
        FirmwareEvent::Reconnected { .. }
    ));
    let resumed_at = events[lost..]
        .iter()
        .find_map(|e| match e {
            FirmwareEvent::Upload(UploadEvent::Resumed { off }) => Some(*off),
            _ => None,
        })
        .expect("the device kept its RAM: the upload resumes");
    assert!(resumed_at > 0);
    assert!(
        device.upload_bytes as u64 <= img.len() as u64 - resumed_at + 384,
        "the second device got the rest and one first chunk: {} bytes",
        device.upload_bytes
    );
}

#[tokio::test]
async fn firmware_upload_starts_over_after_a_power_cycle() {
    let img = image(30_000);
    let (link, first) = testing::start(FakeConfig {
        close_after: Some(40),
        ..FakeConfig::default()
    });
    let bench = Bench::new(first);
    let mut events = Vec::new();
    let (_, report) = upload(
        client(link),
        &img,
        None,
        Some(bench.reopen(0, false)),
        policy(),
        |e| events.push(e.clone()),
    )
    .await
    .unwrap();
    let device = bench.last().await;
    assert_eq!(device.slot1.as_deref(), Some(&img[..]));
    assert_eq!(
        device.held.sha.as_deref(),
        Some(&Sha256::digest(&img)[..]),
        "the SHA-256 went with the first chunk"
    );
    assert_eq!((report.reconnects, report.restarts), (1, 1));
    assert!(
        events.iter().any(|e| matches!(
            e,
            FirmwareEvent::Upload(UploadEvent::Restarted { from }) if *from > 0
        )),
        "{events:?}"
    );
    assert!(device.upload_bytes >= 30_000, "everything went again");
}

#[tokio::test]
async fn firmware_upload_gives_up_when_the_device_stays_away() {
    let img = image(30_000);
    let (link, first) = testing::start(FakeConfig {
        close_after: Some(10),
        ..FakeConfig::default()
    });
    let bench = Bench::new(first);
    let started = Instant::now();
    let err = upload(
        client(link),
        &img,
        None,
        Some(bench.reopen(u32::MAX, true)),
        policy(),
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FirmwareError::DeviceGone { .. }), "{err:?}");
    assert_eq!(err.code(), "firmware-device-gone");
    assert!(err.to_string().contains("run the same command again"));
    let waited = started.elapsed();
    assert!(
        waited >= policy().wait && waited < policy().wait * 3,
        "the wait is bounded by the policy: {waited:?}"
    );
}

#[tokio::test]
async fn firmware_upload_without_reopen_reports_the_closed_link() {
    let img = image(30_000);
    let (link, first) = testing::start(FakeConfig {
        close_after: Some(10),
        ..FakeConfig::default()
    });
    let none: Option<fn() -> std::future::Ready<Option<TestLink>>> = None;
    let err = upload(client(link), &img, None, none, policy(), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FirmwareError::Smp(e) if e.is_link_closed()),
        "{err:?}"
    );
    first.await.unwrap();
}

#[tokio::test]
async fn firmware_upload_stops_after_too_many_losses() {
    // Every device drops the link after 8 requests and a new one comes each time.
    let img = image(60_000);
    let (link, first) = testing::start(FakeConfig {
        close_after: Some(8),
        ..FakeConfig::default()
    });
    let devices = Arc::new(Mutex::new(vec![first]));
    let reopen = {
        let devices = devices.clone();
        move || {
            let (link, device) = testing::start(FakeConfig {
                close_after: Some(8),
                held: Some(HeldUpload::default()),
                ..FakeConfig::default()
            });
            devices.lock().unwrap().push(device);
            std::future::ready(Some(link))
        }
    };
    let err = upload(client(link), &img, None, Some(reopen), policy(), |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, FirmwareError::TooManyReconnects { count: 3 }),
        "{err:?}"
    );
}

#[test]
fn firmware_checks_the_mcuboot_magic() {
    assert!(check_image("fw.bin", &image(64)).is_ok());
    let err = check_image("fw.bin", &[0u8; 64]).unwrap_err();
    assert!(err
        .to_string()
        .starts_with("fw.bin is not an MCUboot image"));
    assert!(check_image("short", &MCUBOOT_MAGIC.to_le_bytes()).is_err());
}

#[test]
fn firmware_events_as_json() {
    let lost = FirmwareEvent::LinkLost {
        reason: "gone".into(),
        wait_secs: 30,
    };
    assert_eq!(
        serde_json::to_string(&lost).unwrap(),
        r#"{"event":"link-lost","reason":"gone","wait-secs":30}"#
    );
    let progress = FirmwareEvent::Upload(UploadEvent::Progress { off: 1, len: 2 });
    assert_eq!(
        serde_json::to_string(&progress).unwrap(),
        r#"{"event":"upload-progress","off":1,"len":2}"#
    );
}
