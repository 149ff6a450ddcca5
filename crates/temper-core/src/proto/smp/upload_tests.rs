use super::*;

fn params(buf_size: u32, buf_count: u32) -> McumgrParamsResponse {
    McumgrParamsResponse {
        buf_size,
        buf_count,
    }
}

fn plan(len: u64, buf_size: u32, buf_count: u32) -> UploadPlan {
    UploadPlan::new(
        len,
        params(buf_size, buf_count),
        Some(0),
        Some(vec![0xab; 32]),
    )
    .unwrap()
}

/// Sends the first chunk, checks that it goes alone, and acks it.
fn past_first(p: &mut UploadPlan) -> Chunk {
    let first = p.next_chunk().unwrap();
    assert_eq!(first.off, 0);
    assert!(p.next_chunk().is_none(), "the first chunk goes alone");
    assert_eq!(
        p.on_response(first.id, first.end()),
        Ok(Ack::Advanced { off: first.end() })
    );
    first
}

/// Sends and acks every chunk in order; returns the chunks sent.
fn run_to_end(p: &mut UploadPlan) -> Vec<Chunk> {
    let mut sent = Vec::new();
    while !p.is_done() {
        while let Some(c) = p.next_chunk() {
            assert!(p.in_flight() <= p.window());
            sent.push(c);
        }
        let c = *p.in_flight.front().unwrap();
        p.on_response(c.id, c.end()).unwrap();
    }
    sent
}

#[test]
fn smp_upload_chunks_fit_the_buffer() {
    for buf_size in [384u32, 2048] {
        for len in [1u64, 31, 32, 1000, 70_000, 5_000_000] {
            let mut p = plan(len, buf_size, 4);
            let image = vec![0x5a; len as usize];
            let sent = run_to_end(&mut p);
            let mut covered = 0;
            for c in &sent {
                assert_eq!(c.off, covered, "contiguous");
                covered = c.end();
                let packet = encode_request(&p.request(c, &image), SmpVersion::V2, 0xff);
                assert!(
                    packet.len() + SERIAL_FRAME_OVERHEAD <= buf_size as usize,
                    "buf {buf_size} len {len}: packet {} at off {}",
                    packet.len(),
                    c.off
                );
            }
            assert_eq!(covered, len);
            assert_eq!(p.planned_bytes(), len, "nothing resent");
        }
        // The budget is used, not just respected: the largest middle chunk fills the buffer to the byte
        // or within the byte string's prefix growth.
        let p = plan(5_000_000, buf_size, 4);
        let (_, next) = p.chunk_limits();
        let full = encode_request(
            &ImageUpload::next(4_999_999, vec![0; next]),
            SmpVersion::V2,
            0,
        );
        assert!(full.len() + SERIAL_FRAME_OVERHEAD >= buf_size as usize - 2);
    }
}

#[test]
fn smp_upload_window_never_exceeds_buf_count() {
    for buf_count in [1u32, 2, 4, 8] {
        let mut p = plan(100_000, 384, buf_count);
        assert!(p.window() <= buf_count as usize && p.window() >= 1);
        past_first(&mut p);
        let mut n = 0;
        while p.next_chunk().is_some() {
            n += 1;
        }
        assert_eq!(n, p.window());
        let p = p.with_window(100);
        assert_eq!(p.window(), buf_count as usize);
        assert_eq!(plan(10, 384, buf_count).with_window(0).window(), 1);
    }
}

#[test]
fn smp_upload_resumes_from_a_device_offset() {
    let len = 100_000;
    let mut p = plan(len, 384, 4);
    let first = p.next_chunk().unwrap();
    assert!(
        p.next_chunk().is_none(),
        "nothing goes behind the first chunk: its reply may move the offset"
    );
    // The device already holds 40_000 bytes of this image (sha matched): it answers the first chunk so.
    assert_eq!(
        p.on_response(first.id, 40_000),
        Ok(Ack::Replanned { off: 40_000 })
    );
    let c = p.next_chunk().unwrap();
    assert_eq!(c.off, 40_000, "sending resumes at the device's offset");
    assert_eq!(
        p.on_response(c.id, c.end()),
        Ok(Ack::Advanced { off: c.end() })
    );
    let rest = run_to_end(&mut p);
    assert_eq!(rest.last().unwrap().end(), len);
    assert_eq!(
        p.planned_bytes(),
        len - 40_000 + first.len as u64,
        "resuming costs only the first chunk"
    );
}

#[test]
fn smp_upload_keeps_in_flight_chunks_that_still_land() {
    let mut p = plan(100_000, 384, 4);
    past_first(&mut p);
    let c: Vec<_> = std::iter::from_fn(|| p.next_chunk()).collect();
    assert_eq!(c.len(), 3);
    // The device says it is at the start of chunk 2 (it held chunk 1 from an earlier attempt): chunk 1 is
    // refused, chunk 2 lands, and nothing needs resending.
    assert_eq!(
        p.on_response(c[0].id, c[2].off),
        Ok(Ack::Rejected { off: c[2].off })
    );
    let planned = p.planned_bytes();
    let next = p.next_chunk().unwrap();
    assert_eq!(next.off, c[2].end());
    assert_eq!(p.planned_bytes(), planned + next.len as u64);
}

#[test]
fn smp_upload_restarts_from_zero() {
    let len = 50_000;
    let mut p = plan(len, 2048, 3);
    for _ in 0..5 {
        while p.next_chunk().is_some() {}
        let c = *p.in_flight.front().unwrap();
        p.on_response(c.id, c.end()).unwrap();
    }
    // The device rebooted and lost the upload: it answers the next chunk with 0.
    while p.next_chunk().is_some() {}
    let before = p.planned_bytes();
    let c = *p.in_flight.front().unwrap();
    assert_eq!(p.on_response(c.id, 0), Ok(Ack::Replanned { off: 0 }));
    let again = p.next_chunk().unwrap();
    assert_eq!(
        (again.off, again.len),
        (0, p.chunk_limits().0),
        "a first chunk again"
    );
    let image = vec![1; len as usize];
    assert_eq!(
        p.request(&again, &image).len,
        Some(len),
        "it carries len again"
    );
    // The chunk still in flight from before is refused.
    let old = *p.in_flight.front().unwrap();
    assert_ne!(old.id, again.id);
    assert_eq!(p.on_response(old.id, 0), Ok(Ack::Rejected { off: 0 }));
    run_to_end(&mut p);
    assert!(p.planned_bytes() > before);
}

#[test]
fn smp_upload_one_resume_costs_under_ten_percent() {
    let len = 200_000u64;
    let mut p = plan(len, 384, 4);
    let mut replans = 0;
    while !p.is_done() {
        while p.next_chunk().is_some() {}
        let c = *p.in_flight.front().unwrap();
        // Once, halfway: the chunk is lost and the device answers the next one with its offset.
        let off = if replans == 0 && c.off >= len / 2 {
            replans += 1;
            p.in_flight.pop_front();
            let next = *p.in_flight.front().unwrap();
            assert_eq!(
                p.on_response(next.id, c.off),
                Ok(Ack::Replanned { off: c.off })
            );
            continue;
        } else {
            c.end()
        };
        p.on_response(c.id, off).unwrap();
    }
    assert_eq!(replans, 1);
    assert!(p.planned_bytes() > len);
    assert!((p.planned_bytes() as f64) < 1.1 * len as f64);
}

#[test]
fn smp_upload_lost_reply_replans_from_last_ack() {
    let mut p = plan(10_000, 384, 4);
    past_first(&mut p);
    let c: Vec<_> = std::iter::from_fn(|| p.next_chunk()).collect();
    p.on_response(c[0].id, c[0].end()).unwrap();
    // The replies to c[1] and c[2] never come.
    p.on_timeout();
    assert_eq!(p.in_flight(), 0);
    let again = p.next_chunk().unwrap();
    assert_eq!(again.off, c[1].off);
    assert_eq!(p.on_response(c[2].id, 0), Ok(Ack::Stale));
    // The device had written c[1] after all: its answer to the resend says so.
    assert_eq!(
        p.on_response(again.id, c[2].off),
        Ok(Ack::Advanced { off: c[2].off })
    );
}

#[test]
fn smp_upload_errors() {
    assert_eq!(
        UploadPlan::new(0, params(384, 4), None, None).unwrap_err(),
        UploadError::EmptyImage
    );
    assert!(matches!(
        UploadPlan::new(1000, params(64, 4), None, Some(vec![0; 32])),
        Err(UploadError::BufferTooSmall { buf_size: 64, .. })
    ));
    let mut p = plan(1000, 384, 2);
    let c = p.next_chunk().unwrap();
    assert_eq!(
        p.on_response(c.id, 1001),
        Err(UploadError::OffsetBeyondImage {
            off: 1001,
            len: 1000
        })
    );
}

#[test]
fn smp_upload_done_on_a_full_offset() {
    let mut p = plan(1000, 384, 4);
    let c = p.next_chunk().unwrap();
    // The device holds the whole image already.
    assert_eq!(p.on_response(c.id, 1000), Ok(Ack::Done));
    assert!(p.is_done());
    assert!(p.next_chunk().is_none());
}
