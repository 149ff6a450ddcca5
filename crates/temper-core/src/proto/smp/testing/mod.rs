//! An in-memory SMP device for tests: a task on the device end of a [`transport::testing`](crate::transport::testing)
//! link that decodes frames with this crate's codec and answers the way Zephyr does, with hooks to
//! misbehave.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use temper_core::proto::smp::{client::SmpClient, testing};
//!
//! let (link, device) = testing::start(testing::FakeConfig::default());
//! let mut client = SmpClient::new(link);
//! assert_eq!(client.echo("hi").await.unwrap(), "hi");
//! client.settings_write("app/name", b"x").await.unwrap();
//! drop(client);
//! let device = device.await.unwrap();
//! assert_eq!(device.settings["app/name"], b"x");
//! # });
//! ```
//!
//! It answers: OS echo, date and time, reset, MCUmgr parameters, app info, bootloader info; image state
//! read/write, upload and erase; settings read/write/delete/commit/load/save; shell exec (commands `echo`,
//! `fail`, `slow`); enumeration. Anything else gets `{"rc": 8}`. Group errors go as v2 `err` maps, or as
//! Zephyr's v1 translation for v1 requests. The task ends, and the host's link closes, when the host drops
//! its end, when [`FakeConfig::close_after`] requests were answered, or after a reset with
//! [`FakeConfig::reset_closes_link`]; awaiting its handle gives the [`FakeDevice`] to inspect.

mod answers;

pub use answers::{GROUPS, SLOT0_HASH};

use std::collections::BTreeMap;
use std::time::Duration;

use super::header::{Header, SmpVersion};
use super::packets::{PacketAssembler, Unframer};
use super::serial::{self, Decoder};
use crate::transport::testing::{packet_pair, pair, DeviceSide, TestLink};

/// Rewrites one framed reply before it is sent: given the request's header, the request's index (0-based,
/// over all requests) and the framed reply bytes, returns the chunks to push to the host instead (each one
/// [`Link::recv`](crate::transport::Link::recv)); empty for no reply at all.
pub type Tamper = Box<dyn FnMut(&Header, usize, Vec<u8>) -> Vec<Vec<u8>> + Send + Sync>;

/// How the fake device is set up, and how it misbehaves.
pub struct FakeConfig {
    /// `buf_size` it reports (and enforces: a larger request frame is dropped, as Zephyr does).
    pub buf_size: u32,
    /// `buf_count` it reports.
    pub buf_count: u32,
    /// Answer rc 13 to every SMP v2 request.
    pub v1_only: bool,
    /// Request indexes (0-based, over all requests) whose reply is never sent.
    pub drop_replies: Vec<usize>,
    /// Console log lines before each reply.
    pub noise: bool,
    /// An upload already in RAM (from an interrupted earlier attempt).
    pub held: Option<HeldUpload>,
    /// Forget the upload in progress (a reboot) when this many upload chunks have been received.
    pub restart_after_chunks: Option<usize>,
    /// Close the link after answering this many requests (a device that reset or was unplugged).
    pub close_after: Option<usize>,
    /// After answering a reset, lose RAM state and close the link (a USB device re-enumerating).
    pub reset_closes_link: bool,
    /// Settings at start.
    pub settings: BTreeMap<String, Vec<u8>>,
    /// How long the shell command `slow` takes.
    pub slow_command: Duration,
    /// Rewrites replies on their way out (hostile devices).
    pub tamper: Option<Tamper>,
    /// Speak over a packet link (BLE GATT) instead of a console: requests arrive as raw SMP packets in
    /// messages of at most this many bytes, and replies leave as raw packets in messages of this size.
    pub packet_mtu: Option<usize>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            buf_size: 384,
            buf_count: 4,
            v1_only: false,
            drop_replies: Vec::new(),
            noise: false,
            held: None,
            restart_after_chunks: None,
            close_after: None,
            reset_closes_link: false,
            settings: BTreeMap::new(),
            slow_command: Duration::from_millis(500),
            tamper: None,
            packet_mtu: None,
        }
    }
}

/// An upload the fake device holds in RAM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeldUpload {
    /// Total length announced by the first chunk.
    pub len: u64,
    /// The `sha` sent with the first chunk.
    pub sha: Option<Vec<u8>>,
    /// The bytes received so far.
    pub data: Vec<u8>,
}

/// What the fake device saw and holds; returned when its task ends.
#[derive(Debug, Default)]
pub struct FakeDevice {
    /// Requests received.
    pub requests: usize,
    /// Of which in SMP v2.
    pub v2_requests: usize,
    /// Upload chunks received.
    pub upload_chunks: usize,
    /// Image bytes received in upload chunks (refused ones included).
    pub upload_bytes: usize,
    /// Largest request packet (header + CBOR).
    pub largest_packet: usize,
    /// Most request packets found in one read: how deep the host pipelined.
    pub deepest_batch: usize,
    /// Frames dropped (bad framing, or larger than `buf_size`).
    pub dropped_frames: usize,
    /// The upload in RAM.
    pub held: HeldUpload,
    /// The complete image in slot 1.
    pub slot1: Option<Vec<u8>>,
    /// Slot 1 is marked for a test boot.
    pub slot1_pending: bool,
    /// Slot 1 was made permanent.
    pub slot1_confirmed: bool,
    /// Settings.
    pub settings: BTreeMap<String, Vec<u8>>,
    /// Commits, loads and saves received.
    pub commits: usize,
    /// Loads received.
    pub loads: usize,
    /// Saves received.
    pub saves: usize,
    /// The clock as last set (`None`: never set).
    pub datetime: Option<String>,
    /// Resets received.
    pub resets: usize,
    /// The argv of every shell command.
    pub shell: Vec<Vec<String>>,
}

/// Starts a fake device; returns the host's end of the link and the device task.
pub fn start(config: FakeConfig) -> (TestLink, tokio::task::JoinHandle<FakeDevice>) {
    let (link, side) = match config.packet_mtu {
        Some(mtu) => packet_pair(mtu),
        None => pair(None),
    };
    (link, tokio::spawn(run(side, config)))
}

async fn run(mut side: DeviceSide, mut config: FakeConfig) -> FakeDevice {
    let mut device = FakeDevice {
        held: config.held.clone().unwrap_or_default(),
        settings: config.settings.clone(),
        ..FakeDevice::default()
    };
    let mut decoder = match config.packet_mtu {
        Some(_) => Unframer::Packets(PacketAssembler::new(config.buf_size as usize)),
        None => Unframer::Console(Decoder::with_limits(
            serial::MAX_LINE,
            config.buf_size as usize,
        )),
    };
    while let Some(mut bytes) = side.recv().await {
        bytes.extend(side.take_sent());
        decoder.push(&bytes);
        let mut batch = 0;
        while let Some(packet) = decoder.next_packet() {
            let Ok(packet) = packet else {
                device.dropped_frames += 1;
                continue;
            };
            batch += 1;
            let index = device.requests;
            device.requests += 1;
            device.largest_packet = device.largest_packet.max(packet.len());
            let Some((header, reply, after)) = answers::answer(&mut device, &config, &packet).await
            else {
                continue;
            };
            if header.version == SmpVersion::V2 {
                device.v2_requests += 1;
            }
            if !config.drop_replies.contains(&index) {
                if config.noise {
                    side.push("[00:00:01.000,000] <inf> app: tick\r\nuart:~$ ")
                        .await;
                }
                let framed = match config.packet_mtu {
                    Some(_) => reply.clone(),
                    None => serial::encode(&reply, serial::MAX_LINE),
                };
                let chunks = match config.tamper.as_mut() {
                    Some(tamper) => tamper(&header, index, framed),
                    None => match config.packet_mtu {
                        Some(mtu) => framed.chunks(mtu).map(<[u8]>::to_vec).collect(),
                        None => vec![framed],
                    },
                };
                for chunk in chunks {
                    side.push(chunk).await;
                }
            }
            let closes = config.close_after == Some(device.requests)
                || (after == answers::After::Reset && config.reset_closes_link);
            if closes {
                device.deepest_batch = device.deepest_batch.max(batch);
                return device;
            }
        }
        device.deepest_batch = device.deepest_batch.max(batch);
    }
    device
}
