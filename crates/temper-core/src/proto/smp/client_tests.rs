//! [`SmpClient`] against a fake device: a task on the other end of a [`testing`] link that decodes frames
//! with the codec and answers echo, params and image upload the way Zephyr does.

use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::*;
use crate::proto::smp::header::{Header, Op};
use crate::proto::smp::messages::{Echo, EchoResponse, ImageUploadResponse, GROUP_IMAGE, GROUP_OS};
use crate::transport::testing::{self, DeviceSide, TestLink};

/// An upload the fake device holds.
#[derive(Debug, Clone, Default)]
struct Held {
    len: u64,
    sha: Option<Vec<u8>>,
    data: Vec<u8>,
}

/// How the fake device misbehaves.
#[derive(Debug, Clone)]
struct Mode {
    buf_size: u32,
    buf_count: u32,
    /// Answer rc 13 to every v2 request.
    v1_only: bool,
    /// Indexes (over all requests received) whose reply is never sent.
    drop_replies: Vec<usize>,
    /// Before the first reply, send a reply with another sequence number and a broken frame.
    wrong_seq_first: bool,
    /// Console log lines between frames.
    noise: bool,
    /// An upload already held (from an interrupted earlier attempt).
    held: Option<Held>,
    /// Forget the upload (a reboot) when this many upload chunks have been received.
    restart_after: Option<usize>,
}

impl Default for Mode {
    fn default() -> Self {
        Mode {
            buf_size: 384,
            buf_count: 4,
            v1_only: false,
            drop_replies: Vec::new(),
            wrong_seq_first: false,
            noise: false,
            held: None,
            restart_after: None,
        }
    }
}

/// What the fake device saw.
#[derive(Debug, Default)]
struct Stats {
    requests: usize,
    v2_requests: usize,
    upload_chunks: usize,
    upload_bytes: usize,
    largest_packet: usize,
    /// Most packets found in one read: how deep the host pipelined.
    deepest_batch: usize,
    held: Held,
}

#[derive(Serialize)]
struct Rc {
    rc: u64,
}

fn cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

fn reply_packet(req: &Header, version: SmpVersion, payload: Vec<u8>) -> Vec<u8> {
    let header = Header {
        version,
        op: req.op.response(),
        len: payload.len() as u16,
        ..*req
    };
    let mut out = header.to_bytes().to_vec();
    out.extend_from_slice(&payload);
    out
}

async fn fake_device(mut dev: DeviceSide, mode: Mode) -> Stats {
    let mut stats = Stats {
        held: mode.held.clone().unwrap_or_default(),
        ..Stats::default()
    };
    let mut decoder = Decoder::new();
    while let Some(mut bytes) = dev.recv().await {
        bytes.extend(dev.take_sent());
        decoder.push(&bytes);
        let mut batch = 0;
        while let Some(packet) = decoder.next_packet() {
            let packet = packet.expect("the client frames correctly");
            batch += 1;
            let index = stats.requests;
            stats.requests += 1;
            stats.largest_packet = stats.largest_packet.max(packet.len());
            let header = Header::parse(&packet).unwrap();
            let payload = &packet[8..];
            let (version, body) = if header.version == SmpVersion::V2 {
                stats.v2_requests += 1;
                if mode.v1_only {
                    (SmpVersion::V1, cbor(&Rc { rc: 13 }))
                } else {
                    (SmpVersion::V2, answer(&header, payload, &mode, &mut stats))
                }
            } else {
                (SmpVersion::V1, answer(&header, payload, &mode, &mut stats))
            };
            if mode.drop_replies.contains(&index) {
                continue;
            }
            if mode.noise {
                dev.push("[00:00:01.000,000] <inf> app: tick\r\nuart:~$ ")
                    .await;
            }
            if mode.wrong_seq_first && index == 0 {
                let other = Header {
                    seq: header.seq.wrapping_add(100),
                    ..header
                };
                let stray = reply_packet(&other, version, body.clone());
                dev.push(serial::encode(&stray, serial::MAX_LINE)).await;
                dev.push(b"\x06\x09!!!not base64!!!\n").await;
            }
            let reply = reply_packet(&header, version, body);
            dev.push(serial::encode(&reply, serial::MAX_LINE)).await;
        }
        stats.deepest_batch = stats.deepest_batch.max(batch);
    }
    stats
}

/// The reply payload to a request the device understands, as Zephyr builds it.
fn answer(header: &Header, payload: &[u8], mode: &Mode, stats: &mut Stats) -> Vec<u8> {
    match (header.group, header.id, header.op) {
        (GROUP_OS, 0, Op::Write) => {
            let echo: Echo = ciborium::from_reader(payload).unwrap();
            cbor(&EchoResponse { text: echo.text })
        }
        (GROUP_OS, 6, Op::Read) => cbor(&McumgrParamsResponse {
            buf_size: mode.buf_size,
            buf_count: mode.buf_count,
        }),
        (GROUP_IMAGE, 1, Op::Write) => {
            let req: ImageUpload = ciborium::from_reader(payload).unwrap();
            stats.upload_chunks += 1;
            stats.upload_bytes += req.data.len();
            if mode.restart_after == Some(stats.upload_chunks) {
                stats.held = Held::default();
            }
            let held = &mut stats.held;
            if req.off == 0 {
                let resuming = !held.data.is_empty()
                    && held.sha.is_some()
                    && held.sha == req.sha
                    && Some(held.len) == req.len;
                if !resuming {
                    *held = Held {
                        len: req.len.expect("the first chunk carries len"),
                        sha: req.sha,
                        data: req.data,
                    };
                }
            } else if req.off == held.data.len() as u64 && held.len > 0 {
                held.data.extend_from_slice(&req.data);
            }
            let off = held.data.len() as u64;
            let matched = (held.len > 0 && off == held.len)
                .then(|| held.sha.as_deref() == Some(&Sha256::digest(&held.data)[..]));
            cbor(&ImageUploadResponse { off, matched })
        }
        _ => cbor(&Rc { rc: 8 }),
    }
}

fn start(mode: Mode) -> (SmpClient<TestLink>, tokio::task::JoinHandle<Stats>) {
    let (link, dev) = testing::pair(None);
    let device = tokio::spawn(fake_device(dev, mode));
    let client = SmpClient::new(link)
        .with_timeout(Duration::from_millis(300))
        .with_erase_timeout(Duration::from_millis(300));
    (client, device)
}

async fn finish(client: SmpClient<TestLink>, device: tokio::task::JoinHandle<Stats>) -> Stats {
    drop(client);
    device.await.unwrap()
}

fn echo(text: &str) -> Echo {
    Echo {
        text: text.to_string(),
    }
}

fn image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test]
async fn smp_client_echo_and_params_in_v2() {
    let (mut client, device) = start(Mode::default());
    assert_eq!(client.request(&echo("hi")).await.unwrap().text, "hi");
    let params = client.params().await.unwrap();
    assert_eq!((params.buf_size, params.buf_count), (384, 4));
    assert_eq!(client.version(), SmpVersion::V2);
    let stats = finish(client, device).await;
    assert_eq!((stats.requests, stats.v2_requests), (2, 2));
}

#[tokio::test]
async fn smp_client_falls_back_to_v1_once() {
    let (mut client, device) = start(Mode {
        v1_only: true,
        ..Mode::default()
    });
    assert_eq!(client.request(&echo("one")).await.unwrap().text, "one");
    assert_eq!(client.version(), SmpVersion::V1);
    assert_eq!(client.request(&echo("two")).await.unwrap().text, "two");
    let stats = finish(client, device).await;
    assert_eq!(
        (stats.requests, stats.v2_requests),
        (3, 1),
        "v2 is tried once per session"
    );
}

#[tokio::test]
async fn smp_client_times_out_with_a_clear_error() {
    let (mut client, device) = start(Mode {
        drop_replies: vec![0],
        ..Mode::default()
    });
    let err = client.request(&echo("lost")).await.unwrap_err();
    assert!(
        matches!(
            err,
            SmpClientError::Timeout {
                group: 0,
                id: 0,
                ms: 300
            }
        ),
        "{err:?}"
    );
    assert!(err
        .to_string()
        .contains("no SMP reply to group 0 command 0 within 300 ms"));
    // The session goes on with the next sequence number.
    assert_eq!(client.request(&echo("next")).await.unwrap().text, "next");
    finish(client, device).await;
}

#[tokio::test]
async fn smp_client_skips_other_seqs_frame_errors_and_console_text() {
    let (mut client, device) = start(Mode {
        wrong_seq_first: true,
        noise: true,
        ..Mode::default()
    });
    assert_eq!(client.request(&echo("hi")).await.unwrap().text, "hi");
    assert_eq!(client.request(&echo("again")).await.unwrap().text, "again");
    finish(client, device).await;
}

#[tokio::test]
async fn smp_client_reports_device_errors() {
    let (mut client, device) = start(Mode::default());
    let err = client
        .request(&crate::proto::smp::messages::ImageStateRead {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, SmpClientError::Smp(SmpError::DeviceRc { rc: 8, .. })),
        "{err:?}"
    );
    finish(client, device).await;
}

async fn upload_ok(mode: Mode, len: usize) -> Stats {
    let buf_size = mode.buf_size as usize;
    let buf_count = mode.buf_count as usize;
    let (mut client, device) = start(mode);
    let image = image(len);
    let mut seen = Vec::new();
    client
        .upload(&image, |off, total| seen.push((off, total)))
        .await
        .unwrap();
    assert_eq!(seen.last(), Some(&(len as u64, len as u64)));
    let stats = finish(client, device).await;
    assert_eq!(stats.held.data, image, "the device holds the image");
    assert!(
        stats.largest_packet + 4 <= buf_size,
        "every packet fits the device's buffer"
    );
    assert!(stats.deepest_batch <= buf_count);
    stats
}

#[tokio::test]
async fn smp_client_uploads_pipelined() {
    for (buf_size, buf_count) in [(384, 4), (2048, 2), (384, 1)] {
        let stats = upload_ok(
            Mode {
                buf_size,
                buf_count,
                ..Mode::default()
            },
            20_000,
        )
        .await;
        assert_eq!(stats.upload_bytes, 20_000, "nothing sent twice");
        if buf_count > 2 {
            assert!(stats.deepest_batch > 1, "requests are pipelined");
        }
    }
}

#[tokio::test]
async fn smp_client_upload_resumes_where_the_device_is() {
    let len = 20_000;
    let img = image(len);
    let held = Held {
        len: len as u64,
        sha: Some(Sha256::digest(&img).to_vec()),
        data: img[..12_000].to_vec(),
    };
    let stats = upload_ok(
        Mode {
            held: Some(held),
            ..Mode::default()
        },
        len,
    )
    .await;
    assert!(
        stats.upload_bytes < 10_000,
        "{} bytes sent",
        stats.upload_bytes
    );
}

#[tokio::test]
async fn smp_client_upload_survives_a_device_restart() {
    let stats = upload_ok(
        Mode {
            restart_after: Some(20),
            ..Mode::default()
        },
        20_000,
    )
    .await;
    assert!(stats.upload_bytes > 20_000);
}

#[tokio::test]
async fn smp_client_upload_survives_lost_replies() {
    // Request 5 is a middle chunk: the next reply shows it was written. The last request's reply is lost too:
    // the client times out, resends from the last offset, and the device's answer completes the upload.
    let stats = upload_ok(
        Mode {
            drop_replies: vec![5],
            ..Mode::default()
        },
        20_000,
    )
    .await;
    assert_eq!(stats.upload_bytes, 20_000);

    let stats = upload_ok(
        Mode {
            drop_replies: vec![1],
            ..Mode::default()
        },
        100,
    )
    .await;
    assert_eq!(stats.upload_chunks, 2, "the single chunk went twice");
}

#[tokio::test]
async fn smp_client_uploads_in_v1() {
    let (mut client, device) = start(Mode {
        v1_only: true,
        ..Mode::default()
    });
    client.upload(&image(5_000), |_, _| {}).await.unwrap();
    assert_eq!(client.version(), SmpVersion::V1);
    let stats = finish(client, device).await;
    assert_eq!(stats.held.data, image(5_000));
    assert_eq!(stats.v2_requests, 1);
}

#[tokio::test]
async fn smp_client_upload_gives_up_after_retries() {
    let (mut client, device) = start(Mode {
        drop_replies: (1..100).collect(),
        ..Mode::default()
    });
    let err = client.upload(&image(100), |_, _| {}).await.unwrap_err();
    assert!(
        matches!(
            err,
            SmpClientError::Timeout {
                group: GROUP_IMAGE,
                id: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let stats = finish(client, device).await;
    assert_eq!(stats.upload_chunks, 1 + UPLOAD_RETRIES);
}
