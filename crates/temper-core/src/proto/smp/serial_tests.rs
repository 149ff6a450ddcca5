use super::*;
use proptest::prelude::*;

/// Deterministic test data: `len` bytes of a simple LCG.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect()
}

fn decode_all(decoder: &mut Decoder) -> Vec<Result<Vec<u8>, FrameError>> {
    std::iter::from_fn(|| decoder.next_packet()).collect()
}

fn lines(wire: &[u8]) -> Vec<&[u8]> {
    wire.split_inclusive(|&b| b == b'\n').collect()
}

/// A first line carrying `raw` (already holding the length field), unchecked.
fn start_line(raw: &[u8]) -> Vec<u8> {
    let mut line = START_MARKER.to_vec();
    line.extend_from_slice(STANDARD.encode(raw).as_bytes());
    line.push(b'\n');
    line
}

#[test]
fn smp_crc16_xmodem_check_value() {
    assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
    assert_eq!(crc16_xmodem(b""), 0x0000);
}

#[test]
fn smp_encode_matches_known_vector() {
    // pkg:smp/packet.py: encode(b"Hello, world!") → 06 09 "AA9IZWxsbywgd29ybGQhet4=" 0a (len 0x000f, CRC 0x7ade).
    let mut expected = vec![0x06, 0x09];
    expected.extend_from_slice(b"AA9IZWxsbywgd29ybGQhet4=\n");
    assert_eq!(encode(b"Hello, world!", MAX_LINE), expected);
    assert_eq!(crc16_xmodem(b"Hello, world!"), 0x7ade);
}

#[test]
fn smp_encode_lines_respect_limits_and_zephyr_shape() {
    for max_line in [MIN_LINE, 12, 20, 64, MAX_LINE, 128, 500] {
        for len in [0, 1, 2, 89, 90, 91, 92, 93, 200, 1000] {
            let packet = pattern(len, len as u32);
            let wire = encode(&packet, max_line);
            let all = lines(&wire);
            let mut raw = Vec::new();
            for (i, line) in all.iter().enumerate() {
                assert!(
                    line.len() <= max_line,
                    "line {i} of {} > {max_line}",
                    line.len()
                );
                let marker = if i == 0 {
                    START_MARKER
                } else {
                    CONTINUATION_MARKER
                };
                assert_eq!(line[..2], marker);
                assert_eq!(*line.last().unwrap(), b'\n');
                let part = STANDARD
                    .decode(&line[2..line.len() - 1])
                    .expect("each line decodes alone");
                if i + 1 < all.len() {
                    assert_eq!(
                        part.len() % 3,
                        0,
                        "non-final lines carry whole 3-byte groups"
                    );
                } else {
                    assert!(part.len() >= 2, "the CRC is never split across lines");
                }
                raw.extend_from_slice(&part);
            }
            assert_eq!(raw.len(), len + 4);
            assert_eq!(usize::from(u16::from_be_bytes([raw[0], raw[1]])), len + 2);
        }
    }
    // Zephyr: 93 raw bytes (124 base64 chars) fill a 127-byte line exactly.
    let wire = encode(&pattern(89, 1), MAX_LINE);
    assert_eq!(lines(&wire).len(), 1);
    assert_eq!(wire.len(), MAX_LINE);
}

#[test]
fn smp_round_trip_sizes_0_to_3000() {
    for max_line in [MIN_LINE, 31, MAX_LINE, 255] {
        let mut decoder = Decoder::with_limits(max_line, 4096);
        for len in 0..=3000usize {
            let packet = pattern(len, len as u32);
            decoder.push(&encode(&packet, max_line));
            assert_eq!(
                decode_all(&mut decoder),
                vec![Ok(packet)],
                "len {len}, max_line {max_line}"
            );
            assert_eq!(decoder.buffered_len(), 0);
        }
    }
}

#[test]
fn smp_byte_at_a_time_feeding() {
    let mut decoder = Decoder::new();
    let packets: Vec<Vec<u8>> = [0, 14, 93, 300, 2000]
        .iter()
        .map(|&n| pattern(n, 7))
        .collect();
    let mut got = Vec::new();
    for packet in &packets {
        for &b in &encode(packet, MAX_LINE) {
            decoder.push(&[b]);
            got.extend(decode_all(&mut decoder));
        }
    }
    assert_eq!(got, packets.into_iter().map(Ok).collect::<Vec<_>>());
}

#[test]
fn smp_interleaved_log_text_is_skipped() {
    let a = pattern(400, 1);
    let b = pattern(5, 2);
    let mut wire = b"*** Booting Zephyr OS ***\r\nuart:~$ ".to_vec();
    for (i, line) in lines(&encode(&a, MAX_LINE)).iter().enumerate() {
        wire.extend_from_slice(line);
        // Log lines between frame lines, one of them without its own newline before the next marker.
        wire.extend_from_slice(format!("[00:00:0{i}.000,000] <inf> app: tick {i}\n").as_bytes());
        wire.extend_from_slice(b"partial log text ");
    }
    wire.extend_from_slice(b"\x1b[1;32muart:~$ \x1b[m");
    wire.extend_from_slice(&encode(&b, MAX_LINE));
    wire.extend_from_slice(b"trailing text\n");
    let mut decoder = Decoder::new();
    decoder.push(&wire);
    assert_eq!(decode_all(&mut decoder), vec![Ok(a), Ok(b)]);
}

#[test]
fn smp_wrong_crc_is_reported_then_decoder_recovers() {
    let mut raw = vec![0x00, 0x0f];
    raw.extend_from_slice(b"Hello, world!");
    raw.extend_from_slice(&[0x7a, 0xdf]);
    let mut decoder = Decoder::new();
    decoder.push(&start_line(&raw));
    decoder.push(&encode(b"ok", MAX_LINE));
    let got = decode_all(&mut decoder);
    assert_eq!(
        got,
        vec![
            Err(FrameError::BadCrc {
                expected: 0x7ade,
                found: 0x7adf
            }),
            Ok(b"ok".to_vec())
        ]
    );
    let message = got[0].clone().unwrap_err().to_string();
    assert!(
        message.contains("0x7ade") && message.contains("0x7adf"),
        "{message}"
    );
}

#[test]
fn smp_oversized_length_is_refused_at_once() {
    let packet = pattern(600, 3);
    let wire = encode(&packet, MAX_LINE);
    let all = lines(&wire);
    let mut decoder = Decoder::with_limits(MAX_LINE, 256);
    // Refused on the first line, before the rest arrives.
    decoder.push(all[0]);
    assert_eq!(
        decode_all(&mut decoder),
        vec![Err(FrameError::Oversized {
            declared: 602,
            max: 256
        })]
    );
    assert_eq!(decoder.buffered_len(), 0);
    // Its continuation lines are dropped quietly, and the next frame decodes.
    for line in &all[1..] {
        decoder.push(line);
    }
    decoder.push(&encode(b"small", MAX_LINE));
    assert_eq!(decode_all(&mut decoder), vec![Ok(b"small".to_vec())]);
}

#[test]
fn smp_never_ending_line_keeps_memory_bounded() {
    let mut decoder = Decoder::new();
    decoder.push(&START_MARKER);
    let chunk = [b'A'; 4096];
    let mut errors = Vec::new();
    for _ in 0..256 {
        decoder.push(&chunk);
        assert!(
            decoder.buffered_len() <= MAX_LINE,
            "{}",
            decoder.buffered_len()
        );
        errors.extend(decode_all(&mut decoder));
    }
    assert_eq!(
        errors,
        vec![Err(FrameError::LineTooLong { max_line: MAX_LINE })]
    );
    // Resyncs at the next start marker, even without a newline ending the junk.
    decoder.push(&encode(b"after", MAX_LINE));
    assert_eq!(decode_all(&mut decoder), vec![Ok(b"after".to_vec())]);
}

#[test]
fn smp_line_of_exactly_max_line_is_accepted_one_more_is_not() {
    let packet = pattern(89, 9); // 93 raw bytes → 124 chars → 127-byte line
    let wire = encode(&packet, MAX_LINE);
    let mut decoder = Decoder::new();
    decoder.push(&wire);
    assert_eq!(decode_all(&mut decoder), vec![Ok(packet.clone())]);
    let mut decoder = Decoder::with_limits(MAX_LINE - 1, MAX_PACKET);
    decoder.push(&wire);
    assert_eq!(
        decode_all(&mut decoder),
        vec![Err(FrameError::LineTooLong {
            max_line: MAX_LINE - 1
        })]
    );
}

#[test]
fn smp_continuation_without_start() {
    let wire = encode(&pattern(300, 4), MAX_LINE);
    let all = lines(&wire);
    let mut decoder = Decoder::new();
    decoder.push(all[1]);
    assert_eq!(
        decode_all(&mut decoder),
        vec![Err(FrameError::ContinuationWithoutStart)]
    );
}

#[test]
fn smp_new_start_abandons_incomplete_frame() {
    let first = encode(&pattern(300, 5), MAX_LINE);
    let mut decoder = Decoder::new();
    decoder.push(lines(&first)[0]);
    decoder.push(&encode(b"next", MAX_LINE));
    assert_eq!(
        decode_all(&mut decoder),
        vec![
            Err(FrameError::LengthMismatch {
                declared: 302,
                received: 91
            }),
            Ok(b"next".to_vec())
        ]
    );
}

#[test]
fn smp_excess_bytes_and_tiny_lengths_are_length_mismatches() {
    let mut decoder = Decoder::new();
    // Declares 3 (1 byte + CRC) but carries 4.
    decoder.push(&start_line(&[0x00, 0x03, 0xaa, 0xbb, 0xcc, 0xdd]));
    // Declares 1: cannot even hold the CRC.
    decoder.push(&start_line(&[0x00, 0x01, 0xaa]));
    assert_eq!(
        decode_all(&mut decoder),
        vec![
            Err(FrameError::LengthMismatch {
                declared: 3,
                received: 4
            }),
            Err(FrameError::LengthMismatch {
                declared: 1,
                received: 1
            }),
        ]
    );
}

#[test]
fn smp_bad_base64_drops_frame_and_its_continuations() {
    let wire = encode(&pattern(300, 6), MAX_LINE);
    let all = lines(&wire);
    let mut decoder = Decoder::new();
    decoder.push(b"\x06\x09AA!*\n");
    for line in &all[1..] {
        decoder.push(line);
    }
    let got = decode_all(&mut decoder);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        matches!(got[0], Err(FrameError::BadBase64 { .. })),
        "{got:?}"
    );
    // A first line too short for the length field.
    decoder.push(b"\x06\x09AA==\n");
    assert!(matches!(
        decode_all(&mut decoder)[..],
        [Err(FrameError::BadBase64 { .. })]
    ));
}

#[test]
fn smp_crlf_line_endings_are_tolerated() {
    let wire = encode(&pattern(200, 8), MAX_LINE);
    let crlf: Vec<u8> = wire
        .iter()
        .flat_map(|&b| {
            if b == b'\n' {
                vec![b'\r', b'\n']
            } else {
                vec![b]
            }
        })
        .collect();
    let mut decoder = Decoder::with_limits(MAX_LINE + 1, MAX_PACKET);
    decoder.push(&crlf);
    assert_eq!(decode_all(&mut decoder), vec![Ok(pattern(200, 8))]);
}

#[test]
#[should_panic(expected = "exceeds the serial framing limit")]
fn smp_encode_refuses_unframeable_packet() {
    encode(&vec![0; MAX_ENCODABLE + 1], MAX_LINE);
}

/// Splits `wire` at the given cut points (taken modulo its length).
fn chunked<'a>(wire: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.push(0);
    points.push(wire.len());
    points.sort_unstable();
    points.windows(2).map(|w| &wire[w[0]..w[1]]).collect()
}

/// Maps the low half of the byte range onto bytes that matter to the framing.
fn biased_byte(b: u8) -> u8 {
    const ALPHABET: &[u8] = &[0x06, 0x09, 0x04, 0x14, b'\n', b'\r', b'A', b'A', b'Q', b'='];
    if b < 128 {
        ALPHABET[usize::from(b) % ALPHABET.len()]
    } else {
        b
    }
}

proptest! {
    #[test]
    fn smp_prop_round_trip_random_chunking(
        packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1500), 1..4),
        max_line in MIN_LINE..300usize,
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let mut wire = Vec::new();
        for packet in &packets {
            wire.extend_from_slice(b"log: hello\n");
            wire.extend_from_slice(&encode(packet, max_line));
        }
        let mut decoder = Decoder::with_limits(max_line, 2048);
        let mut got = Vec::new();
        for chunk in chunked(&wire, &cuts) {
            decoder.push(chunk);
            got.extend(decode_all(&mut decoder));
        }
        prop_assert_eq!(got, packets.into_iter().map(Ok).collect::<Vec<_>>());
    }

    #[test]
    fn smp_prop_garbage_never_panics_and_stays_bounded(
        chunks in proptest::collection::vec(
            // Half the bytes are drawn from the framing alphabet so markers, newlines and base64 are frequent.
            proptest::collection::vec(any::<u8>().prop_map(biased_byte), 0..400),
            0..20,
        ),
        max_line in 0..200usize,
        max_packet in 0..600usize,
    ) {
        let mut decoder = Decoder::with_limits(max_line, max_packet);
        for chunk in &chunks {
            decoder.push(chunk);
            prop_assert!(decoder.buffered_len() <= max_line.max(MIN_LINE) + max_packet);
            for packet in decode_all(&mut decoder).into_iter().flatten() {
                prop_assert!(packet.len() + 2 <= max_packet);
            }
        }
    }

    #[test]
    fn smp_prop_garbage_between_frames_does_not_lose_them(
        packet in proptest::collection::vec(any::<u8>(), 0..500),
        junk in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        // Whatever junk came before, a newline then a whole frame decodes.
        let mut decoder = Decoder::new();
        decoder.push(&junk);
        decoder.push(b"\n");
        decoder.push(&encode(&packet, MAX_LINE));
        let got = decode_all(&mut decoder);
        prop_assert_eq!(got.last(), Some(&Ok(packet)));
    }
}
