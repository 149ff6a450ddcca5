//! [`SmpClient`] against the fake device of [`crate::proto::smp::testing`]: every command, the version
//! fallback, timeouts, closed links and the pipelined, resumable upload. Hostile devices are in
//! `tests/smp_hostile.rs`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::*;
use crate::proto::smp::header::Op;
use crate::proto::smp::messages::{EmptyResponse, GROUP_IMAGE, GROUP_SHELL};
use crate::proto::smp::serial;
use crate::proto::smp::testing::{self, FakeConfig, FakeDevice, HeldUpload, SLOT0_HASH};
use crate::proto::smp::upload::UploadEvent;
use crate::transport::testing::TestLink;

type Device = tokio::task::JoinHandle<FakeDevice>;

fn start(config: FakeConfig) -> (SmpClient<TestLink>, Device) {
    let (link, device) = testing::start(config);
    let client = SmpClient::new(link)
        .with_timeout(Duration::from_millis(300))
        .with_erase_timeout(Duration::from_millis(300));
    (client, device)
}

async fn finish(client: SmpClient<TestLink>, device: Device) -> FakeDevice {
    drop(client);
    device.await.unwrap()
}

fn image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// Statistics group (2) command 0, which the fake does not implement.
#[derive(Serialize, Deserialize)]
struct StatList {}

impl Request for StatList {
    const GROUP: u16 = 2;
    const ID: u8 = 1;
    const OP: Op = Op::Read;
    type Response = EmptyResponse;
}

#[tokio::test]
async fn smp_client_echo_and_params_in_v2() {
    let (mut client, device) = start(FakeConfig::default());
    assert_eq!(client.echo("hi").await.unwrap(), "hi");
    let params = client.params().await.unwrap();
    assert_eq!((params.buf_size, params.buf_count), (384, 4));
    assert_eq!(client.version(), SmpVersion::V2);
    let device = finish(client, device).await;
    assert_eq!((device.requests, device.v2_requests), (2, 2));
}

#[tokio::test]
async fn smp_client_falls_back_to_v1_once() {
    let (mut client, device) = start(FakeConfig {
        v1_only: true,
        ..FakeConfig::default()
    });
    assert_eq!(client.echo("one").await.unwrap(), "one");
    assert_eq!(client.version(), SmpVersion::V1);
    assert_eq!(client.echo("two").await.unwrap(), "two");
    let device = finish(client, device).await;
    assert_eq!(
        (device.requests, device.v2_requests),
        (3, 1),
        "v2 is tried once per session"
    );
}

#[tokio::test]
async fn smp_client_times_out_with_a_clear_error() {
    let (mut client, device) = start(FakeConfig {
        drop_replies: vec![0],
        ..FakeConfig::default()
    });
    let err = client.echo("lost").await.unwrap_err();
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
    assert_eq!(err.code(), "smp-timeout");
    assert!(err
        .to_string()
        .contains("no SMP reply to group 0 command 0 within 300 ms"));
    assert_eq!(
        client.echo("next").await.unwrap(),
        "next",
        "the session goes on with the next sequence number"
    );
    finish(client, device).await;
}

#[tokio::test]
async fn smp_client_skips_other_replies_frame_errors_and_console_text() {
    let tamper: testing::Tamper = Box::new(|header, index, framed| {
        if index != 0 {
            return vec![framed];
        }
        // A stale reply with another sequence number and a broken frame come first.
        let stale = Header {
            seq: header.seq.wrapping_add(100),
            op: header.op.response(),
            len: 1,
            ..*header
        };
        let mut packet = stale.to_bytes().to_vec();
        packet.push(0xa0);
        vec![
            serial::encode(&packet, serial::MAX_LINE),
            b"\x06\x09!!!not base64!!!\n".to_vec(),
            framed,
        ]
    });
    let (mut client, device) = start(FakeConfig {
        noise: true,
        tamper: Some(tamper),
        ..FakeConfig::default()
    });
    assert_eq!(client.echo("hi").await.unwrap(), "hi");
    assert_eq!(client.echo("again").await.unwrap(), "again");
    finish(client, device).await;
}

#[tokio::test]
async fn smp_client_reports_unsupported_commands() {
    let (mut client, device) = start(FakeConfig::default());
    let err = client.request(&StatList {}).await.unwrap_err();
    match &err {
        SmpClientError::Smp(e) => assert!(e.is_not_supported(), "{e:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.to_string(), "device returned SMP rc 8 (ENOTSUP)");
    finish(client, device).await;
}

#[tokio::test]
async fn smp_client_os_commands() {
    let (mut client, device) = start(FakeConfig::default());
    let err = client.datetime().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "device returned OS error 4 (RTC_NOT_SET)",
        "a clock never set is a named OS error"
    );
    // 2030-01-02 01:04:05 UTC, given in a +02:00 zone.
    let at = time::OffsetDateTime::from_unix_timestamp(1_893_546_245)
        .unwrap()
        .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
    client.set_datetime(at).await.unwrap();
    let read = client.datetime().await.unwrap();
    assert_eq!(read.datetime, "2030-01-02T01:04:05", "sent as UTC");
    assert_eq!(read.parse().unwrap().assume_utc(), at);
    assert_eq!(client.app_info(None).await.unwrap(), "Zephyr");
    assert!(client.app_info(Some("a")).await.unwrap().contains("Zephyr"));
    let err = client.app_info(Some("?")).await.unwrap_err();
    assert!(
        err.to_string().contains("OS error 2 (INVALID_FORMAT)"),
        "{err}"
    );
    let boot = client.bootloader_info(None).await.unwrap();
    assert_eq!(boot.bootloader.as_deref(), Some("MCUboot"));
    assert_eq!(
        client.bootloader_info(Some("mode")).await.unwrap().mode,
        Some(3)
    );
    client.reset(false).await.unwrap();
    let device = finish(client, device).await;
    assert_eq!(device.resets, 1);
    assert_eq!(device.datetime.as_deref(), Some("2030-01-02T01:04:05"));
}

#[tokio::test]
async fn smp_client_settings_commands() {
    let (mut client, device) = start(FakeConfig::default());
    client.settings_write("app/admin", b"s3cret").await.unwrap();
    assert_eq!(
        &client.settings_read("app/admin").await.unwrap()[..],
        b"s3cret"
    );
    client.settings_commit().await.unwrap();
    client.settings_save().await.unwrap();
    client.settings_load().await.unwrap();
    client.settings_delete("app/admin").await.unwrap();
    let err = client.settings_read("app/admin").await.unwrap_err();
    assert!(
        matches!(
            err,
            SmpClientError::Smp(SmpError::GroupRc { group: 3, rc: 3 })
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "device returned settings error 3 (KEY_NOT_FOUND)"
    );
    let device = finish(client, device).await;
    assert_eq!((device.commits, device.saves, device.loads), (1, 1, 1));
    assert!(device.settings.is_empty());
}

#[tokio::test]
async fn smp_client_settings_errors_in_v1_are_mgmt_codes() {
    let (mut client, device) = start(FakeConfig {
        v1_only: true,
        ..FakeConfig::default()
    });
    let err = client.settings_read("missing").await.unwrap_err();
    assert_eq!(err.to_string(), "device returned SMP rc 5 (ENOENT)");
    finish(client, device).await;
}

#[tokio::test]
async fn smp_client_shell_commands() {
    let (mut client, device) = start(FakeConfig {
        slow_command: Duration::from_millis(600),
        ..FakeConfig::default()
    });
    let out = client
        .shell_exec(r#"echo 'two words' plain"#)
        .await
        .unwrap();
    assert_eq!(
        out.output, "\"two words\" plain\r\n",
        "quoted for Zephyr's parser"
    );
    assert!(out.success());
    let out = client.shell_exec("fail now").await.unwrap();
    assert_eq!((out.ret, out.success()), (-22, false));
    // The command's own timeout (seconds), not the client's 300 ms default.
    assert_eq!(client.shell_exec("slow").await.unwrap().output, "done\r\n");
    let err = client
        .shell_exec_argv(vec!["slow".into()], Some(Duration::from_millis(100)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SmpClientError::Timeout {
                group: GROUP_SHELL,
                ms: 100,
                ..
            }
        ),
        "{err:?}"
    );
    let err = client.shell_exec("echo 'open").await.unwrap_err();
    assert!(matches!(err, SmpClientError::CommandLine(_)), "{err:?}");
    assert!(
        client.shell_exec("  ").await.is_err(),
        "an empty line is refused"
    );
    let device = finish(client, device).await;
    assert_eq!(device.shell[0], ["echo", "\"two words\"", "plain"]);
    assert_eq!(device.shell.len(), 4, "nothing sent for refused lines");
}

#[tokio::test]
async fn smp_client_enumerates_groups() {
    let (mut client, device) = start(FakeConfig::default());
    assert_eq!(client.groups().await.unwrap(), testing::GROUPS);
    finish(client, device).await;
}

#[tokio::test]
async fn smp_client_image_commands() {
    let (mut client, device) = start(FakeConfig::default());
    let img = image(3_000);
    client.upload(&img, |_, _| {}).await.unwrap();
    let state = client.image_state().await.unwrap();
    let hash = Sha256::digest(&img).to_vec();
    assert_eq!(state.slot(0, 1).unwrap().hash, hash);
    let err = client.image_test(&[0x22; 32]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "device returned image error 8 (HASH_NOT_FOUND)"
    );
    let err = client.image_test(&SLOT0_HASH).await.unwrap_err();
    assert!(
        err.to_string().contains("SETTING_TEST_TO_ACTIVE_DENIED"),
        "{err}"
    );
    let state = client.image_test(&hash).await.unwrap();
    assert_eq!(state.slot(0, 1).unwrap().flags(), ["bootable", "pending"]);
    let err = client.image_erase(Some(1)).await.unwrap_err();
    assert!(
        err.to_string().contains("image error 9 (NO_FREE_SLOT)"),
        "{err}"
    );
    let state = client.image_confirm(Some(&hash)).await.unwrap();
    assert!(state.slot(0, 1).unwrap().permanent);
    client.image_confirm(None).await.unwrap();
    finish(client, device).await;
}

#[tokio::test]
async fn smp_client_reset_then_closed_link() {
    let (mut client, device) = start(FakeConfig {
        reset_closes_link: true,
        ..FakeConfig::default()
    });
    client.reset(true).await.unwrap();
    let err = client.echo("anyone?").await.unwrap_err();
    assert!(err.is_link_closed(), "{err:?}");
    assert_eq!(err.code(), "smp-link-closed");
    assert!(matches!(
        err,
        SmpClientError::Link(TransportError::Closed(_))
    ));
    let device = device.await.unwrap();
    assert_eq!(device.resets, 1);
}

#[tokio::test]
async fn smp_client_link_closing_before_the_reply_is_not_a_timeout() {
    let (mut client, device) = start(FakeConfig {
        close_after: Some(1),
        drop_replies: vec![0],
        ..FakeConfig::default()
    });
    let started = tokio::time::Instant::now();
    let err = client.echo("bye").await.unwrap_err();
    assert!(err.is_link_closed(), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "reported at once"
    );
    device.await.unwrap();
}

async fn upload_ok(config: FakeConfig, len: usize) -> (FakeDevice, Vec<UploadEvent>) {
    let buf_size = config.buf_size as usize;
    let buf_count = config.buf_count as usize;
    let (mut client, device) = start(config);
    let img = image(len);
    let mut events = Vec::new();
    let summary = client
        .upload_with(&img, None, |e| events.push(e.clone()))
        .await
        .unwrap();
    assert_eq!(summary.len, len as u64);
    assert!(matches!(events.first(), Some(UploadEvent::Started { .. })));
    assert!(matches!(
        events.last(),
        Some(UploadEvent::Finished {
            matched: Some(true),
            ..
        })
    ));
    let device = finish(client, device).await;
    assert_eq!(
        device.slot1.as_deref(),
        Some(&img[..]),
        "the device holds the image"
    );
    assert!(
        device.largest_packet + 4 <= buf_size,
        "every packet fits the device's buffer"
    );
    assert!(device.deepest_batch <= buf_count);
    (device, events)
}

#[tokio::test]
async fn smp_client_uploads_pipelined() {
    for (buf_size, buf_count) in [(384, 4), (2048, 2), (384, 1)] {
        let (device, events) = upload_ok(
            FakeConfig {
                buf_size,
                buf_count,
                ..FakeConfig::default()
            },
            20_000,
        )
        .await;
        assert_eq!(device.upload_bytes, 20_000, "nothing sent twice");
        assert_eq!(device.dropped_frames, 0);
        if buf_count > 2 {
            assert!(device.deepest_batch > 1, "requests are pipelined");
        }
        let mut last = 0;
        for e in &events {
            if let UploadEvent::Progress { off, len } = e {
                assert!(*off > last && *len == 20_000, "progress only grows");
                last = *off;
            }
        }
        assert_eq!(last, 20_000);
    }
}

#[tokio::test]
async fn smp_client_upload_resumes_where_the_device_is() {
    let len = 20_000;
    let img = image(len);
    let held = HeldUpload {
        len: len as u64,
        sha: Some(Sha256::digest(&img).to_vec()),
        data: img[..12_000].to_vec(),
    };
    let (device, events) = upload_ok(
        FakeConfig {
            held: Some(held),
            ..FakeConfig::default()
        },
        len,
    )
    .await;
    assert_eq!(events[1], UploadEvent::Resumed { off: 12_000 });
    let first_chunk = device.upload_bytes - 8_000;
    assert!(
        first_chunk < 400,
        "only the first chunk is sent twice: {} bytes sent",
        device.upload_bytes
    );
}

#[tokio::test]
async fn smp_client_upload_survives_a_device_restart() {
    let (device, events) = upload_ok(
        FakeConfig {
            restart_after_chunks: Some(20),
            ..FakeConfig::default()
        },
        20_000,
    )
    .await;
    assert!(device.upload_bytes > 20_000);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, UploadEvent::Restarted { from } if *from > 0)),
        "{events:?}"
    );
}

#[tokio::test]
async fn smp_client_upload_survives_lost_replies() {
    // Request 5 is a middle chunk: the next reply shows it was written. The last request's reply is lost too:
    // the client times out, resends from the last offset, and the device's answer completes the upload.
    let (device, _) = upload_ok(
        FakeConfig {
            drop_replies: vec![5],
            ..FakeConfig::default()
        },
        20_000,
    )
    .await;
    assert_eq!(device.upload_bytes, 20_000);

    let (device, _) = upload_ok(
        FakeConfig {
            drop_replies: vec![1],
            ..FakeConfig::default()
        },
        100,
    )
    .await;
    assert_eq!(device.upload_chunks, 2, "the single chunk went twice");
}

#[tokio::test]
async fn smp_client_uploads_in_v1() {
    let (mut client, device) = start(FakeConfig {
        v1_only: true,
        ..FakeConfig::default()
    });
    client.upload(&image(5_000), |_, _| {}).await.unwrap();
    assert_eq!(client.version(), SmpVersion::V1);
    let device = finish(client, device).await;
    assert_eq!(device.slot1, Some(image(5_000)));
    assert_eq!(device.v2_requests, 1);
}

#[tokio::test]
async fn smp_client_upload_gives_up_after_retries() {
    let (mut client, device) = start(FakeConfig {
        drop_replies: (1..100).collect(),
        ..FakeConfig::default()
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
    let device = finish(client, device).await;
    assert_eq!(device.upload_chunks, 1 + UPLOAD_RETRIES);
}

#[tokio::test]
async fn smp_client_upload_reports_a_closed_link() {
    let (mut client, device) = start(FakeConfig {
        close_after: Some(5),
        ..FakeConfig::default()
    });
    let err = client.upload(&image(20_000), |_, _| {}).await.unwrap_err();
    assert!(err.is_link_closed(), "{err:?}");
    device.await.unwrap();
}

/// Over a packet link (BLE GATT: raw SMP packets, sends of at most MTU − 3 bytes, replies split into
/// notifications), the same client works unchanged: commands, and an upload whose requests span several
/// writes and whose replies span several notifications.
#[tokio::test]
async fn smp_client_speaks_raw_packets_over_a_packet_link() {
    let (mut client, device) = start(FakeConfig {
        packet_mtu: Some(20),
        buf_size: 512,
        ..FakeConfig::default()
    });
    assert_eq!(client.echo(&"e".repeat(60)).await.unwrap(), "e".repeat(60));
    client.upload(&image(3_000), |_, _| {}).await.unwrap();
    let device = finish(client, device).await;
    assert_eq!(device.slot1, Some(image(3_000)));
    assert_eq!(device.dropped_frames, 0);
    assert!(
        device.largest_packet > 20,
        "requests larger than one write were reassembled: {}",
        device.largest_packet
    );
}
