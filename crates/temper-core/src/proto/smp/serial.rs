//! SMP serial framing ("SMP over console"), as Zephyr's `serial_util.c` and `uart_mcumgr.c` do it.
//!
//! A packet (the SMP message bytes) travels as `len:u16be ‖ packet ‖ crc:u16be`, where `len` counts the packet
//! plus the 2 CRC bytes (not itself) and the CRC is CRC-16/XMODEM (poly 0x1021, seed 0) over the packet only.
//! That buffer is cut into lines. Each line is a raw marker (`06 09` for the first line, `04 14` for
//! continuations), the standard padded base64 of its share of the buffer, and `\n`; a line is at most
//! [`MAX_LINE`] bytes, marker and newline included. Each line is base64 on its own, so it decodes alone.
//!
//! Sans-I/O: [`encode`] returns the bytes to write, and [`Decoder`] takes bytes as they arrive and hands back
//! whole packets or [`FrameError`]s. Console text between frames is skipped. Memory is bounded: the line buffer
//! never holds more than `max_line` bytes, and a packet in reassembly never more than `max_packet` bytes.

use std::collections::VecDeque;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use crc::{Crc, CRC_16_XMODEM};

/// Longest line on the wire, marker and newline included (Zephyr's `MCUMGR_SERIAL_MAX_FRAME`).
pub const MAX_LINE: usize = 127;

/// Default bound on a frame's declared length (SMP packet + 2 CRC bytes) that [`Decoder`] accepts.
pub const MAX_PACKET: usize = 8192;

/// Shortest `max_line` honoured: 2 marker bytes, 8 base64 chars (6 raw bytes, so the CRC can stay whole
/// on one line) and the newline. Smaller values are raised to this.
pub const MIN_LINE: usize = 11;

/// Marker that opens the first line of a frame.
pub const START_MARKER: [u8; 2] = [0x06, 0x09];

/// Marker that opens each continuation line of a frame.
pub const CONTINUATION_MARKER: [u8; 2] = [0x04, 0x14];

/// Largest packet [`encode`] can frame: the 16-bit length field also counts the 2 CRC bytes.
pub const MAX_ENCODABLE: usize = u16::MAX as usize - 2;

const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_XMODEM);

/// Marker, newline: the bytes of a line that are not base64.
const LINE_OVERHEAD: usize = 3;

/// CRC-16/XMODEM (Zephyr's `crc16_itu_t` with seed 0) of `bytes`.
pub fn crc16_xmodem(bytes: &[u8]) -> u16 {
    CRC16.checksum(bytes)
}

/// Why a frame was dropped by [`Decoder`]. The decoder has already resynchronised when it reports one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A frame line did not hold valid standard padded base64 (or its first line was too short to carry
    /// the length).
    #[error("SMP frame dropped: a line is not valid base64 ({reason})")]
    BadBase64 {
        /// What the base64 decoder objected to.
        reason: String,
    },
    /// The CRC carried in the frame does not match the packet.
    #[error("SMP frame dropped: CRC mismatch (packet computes to {expected:#06x}, frame carries {found:#06x}); the line is noisy or bytes were lost")]
    BadCrc {
        /// CRC-16/XMODEM computed over the received packet.
        expected: u16,
        /// CRC carried in the frame's last 2 bytes.
        found: u16,
    },
    /// The frame's bytes do not add up to its declared length: more bytes than declared, fewer than the
    /// 2 CRC bytes, or a new frame started before this one was complete.
    #[error("SMP frame dropped: length field says {declared} bytes but {received} arrived{}", if *received < *declared { " before the frame was cut off" } else { "" })]
    LengthMismatch {
        /// Length from the frame's length field (packet + CRC).
        declared: usize,
        /// Bytes of packet + CRC received when the frame was given up.
        received: usize,
    },
    /// The declared length exceeds the decoder's `max_packet`; refused before buffering any of it.
    #[error("SMP frame refused: declared length {declared} exceeds the limit of {max} bytes")]
    Oversized {
        /// Length from the frame's length field (packet + CRC).
        declared: usize,
        /// The decoder's `max_packet`.
        max: usize,
    },
    /// A frame line ran past `max_line` bytes without a newline; it was dropped and the decoder waits for
    /// the next start marker.
    #[error("SMP frame dropped: a line exceeded {max_line} bytes without a newline")]
    LineTooLong {
        /// The decoder's `max_line`.
        max_line: usize,
    },
    /// A continuation line (`04 14`) arrived with no frame in progress; it was dropped.
    #[error("SMP continuation line dropped: no frame was in progress (its first line was lost)")]
    ContinuationWithoutStart,
}

/// Frames `packet` for the console: the bytes to write, as one or more `\n`-terminated lines, each at most
/// `max_line` bytes (marker and newline included; values below [`MIN_LINE`] are raised to it).
///
/// Like Zephyr, each line carries a multiple of 3 raw bytes (so it decodes alone) and the CRC is never split
/// across two lines.
///
/// # Panics
///
/// If `packet` is longer than [`MAX_ENCODABLE`] bytes, which the 16-bit length field cannot express; SMP
/// packets are far smaller (an 8-byte header and a payload whose length is itself 16-bit).
pub fn encode(packet: &[u8], max_line: usize) -> Vec<u8> {
    assert!(
        packet.len() <= MAX_ENCODABLE,
        "SMP packet of {} bytes exceeds the serial framing limit of {MAX_ENCODABLE}",
        packet.len()
    );
    // 1. The raw buffer: length (packet + CRC), packet, CRC.
    let mut raw = Vec::with_capacity(packet.len() + 4);
    raw.extend_from_slice(&((packet.len() + 2) as u16).to_be_bytes());
    raw.extend_from_slice(packet);
    raw.extend_from_slice(&crc16_xmodem(packet).to_be_bytes());

    // 2. Raw bytes per line: as many whole 3-byte groups as fit in the base64 room.
    let per_line = (max_line.max(MIN_LINE) - LINE_OVERHEAD) / 4 * 3;

    // 3. Cut points; if the last line would hold only the CRC's second byte, move one 3-byte group down.
    let mut bounds: Vec<usize> = (0..raw.len()).step_by(per_line).collect();
    if raw.len() % per_line == 1 && bounds.len() > 1 {
        *bounds.last_mut().expect("at least two lines") -= 3;
    }
    bounds.push(raw.len());

    // 4. One line per chunk.
    let mut out = Vec::with_capacity(raw.len() / 3 * 4 + bounds.len() * (LINE_OVERHEAD + 4));
    for (i, pair) in bounds.windows(2).enumerate() {
        out.extend_from_slice(if i == 0 {
            &START_MARKER
        } else {
            &CONTINUATION_MARKER
        });
        out.extend_from_slice(STANDARD.encode(&raw[pair[0]..pair[1]]).as_bytes());
        out.push(b'\n');
    }
    out
}

/// Which marker opened the line being collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    Start,
    Continuation,
}

/// Where the byte scanner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    /// Console text: skipped, watching for a marker. Holds the previous byte when it could open one.
    Console { prev: Option<u8> },
    /// Inside a frame line, collecting base64 until `\n`.
    Line(LineKind),
}

/// The frame being reassembled across lines.
#[derive(Debug)]
enum Assembly {
    /// No frame in progress: a continuation line is an error.
    Idle,
    /// Collecting `packet + CRC` (the length field already removed) up to `declared` bytes.
    Collecting { declared: usize, body: Vec<u8> },
    /// The frame in progress was refused; its continuation lines are dropped quietly until the next start.
    Skipping,
}

/// Sans-I/O decoder for SMP serial frames: [`push`](Decoder::push) the bytes read from the port, then take
/// results with [`next_packet`](Decoder::next_packet) until it returns `None`.
///
/// Memory stays bounded whatever arrives: the line buffer holds at most `max_line` bytes and the frame in
/// reassembly at most `max_packet` bytes. Results wait in a queue until taken, so drain it after each push.
#[derive(Debug)]
pub struct Decoder {
    max_line: usize,
    max_packet: usize,
    scan: Scan,
    /// Base64 characters of the current frame line (marker excluded).
    line: Vec<u8>,
    assembly: Assembly,
    ready: VecDeque<Result<Vec<u8>, FrameError>>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with the default limits, [`MAX_LINE`] and [`MAX_PACKET`].
    pub fn new() -> Self {
        Self::with_limits(MAX_LINE, MAX_PACKET)
    }

    /// A decoder accepting lines of up to `max_line` bytes (marker and newline included; raised to at least
    /// [`MIN_LINE`]) and frames whose declared length (packet + 2 CRC bytes) is at most `max_packet`.
    pub fn with_limits(max_line: usize, max_packet: usize) -> Self {
        let max_line = max_line.max(MIN_LINE);
        Self {
            max_line,
            max_packet,
            scan: Scan::Console { prev: None },
            line: Vec::with_capacity(max_line - 2),
            assembly: Assembly::Idle,
            ready: VecDeque::new(),
        }
    }

    /// Bytes held for frames not yet complete: the current line plus the packet in reassembly. Never more
    /// than `max_line + max_packet`; does not count results waiting in the queue.
    pub fn buffered_len(&self) -> usize {
        let body = match &self.assembly {
            Assembly::Collecting { body, .. } => body.len(),
            Assembly::Idle | Assembly::Skipping => 0,
        };
        self.line.len() + body
    }

    /// Feeds bytes read from the port, in any chunking.
    pub fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push_byte(b);
        }
    }

    /// The next decoded packet (the SMP message bytes) or framing error, in arrival order; `None` when
    /// nothing more is complete.
    pub fn next_packet(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        self.ready.pop_front()
    }

    fn push_byte(&mut self, b: u8) {
        match self.scan {
            Scan::Console { prev } => {
                self.scan = match (prev, b) {
                    (Some(0x06), 0x09) => Scan::Line(LineKind::Start),
                    (Some(0x04), 0x14) => Scan::Line(LineKind::Continuation),
                    (_, 0x06 | 0x04) => Scan::Console { prev: Some(b) },
                    _ => Scan::Console { prev: None },
                };
            }
            Scan::Line(kind) if b == b'\n' => {
                self.scan = Scan::Console { prev: None };
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.finish_line(kind, &line);
                line.clear();
                self.line = line;
            }
            Scan::Line(_) => {
                // Marker + this line so far + the newline still to come must fit in max_line.
                if self.line.len() + LINE_OVERHEAD >= self.max_line {
                    self.line.clear();
                    self.scan = Scan::Console { prev: None };
                    self.fail(FrameError::LineTooLong {
                        max_line: self.max_line,
                    });
                } else {
                    self.line.push(b);
                }
            }
        }
    }

    /// Drops the frame in progress and reports why; its continuation lines are then skipped quietly.
    fn fail(&mut self, error: FrameError) {
        self.assembly = Assembly::Skipping;
        self.ready.push_back(Err(error));
    }

    fn finish_line(&mut self, kind: LineKind, line: &[u8]) {
        // 1. A start line abandons any frame still in progress.
        if kind == LineKind::Start {
            if let Assembly::Collecting { declared, body } = &self.assembly {
                let error = FrameError::LengthMismatch {
                    declared: *declared,
                    received: body.len(),
                };
                self.ready.push_back(Err(error));
            }
            self.assembly = Assembly::Idle;
        }

        // 2. A continuation needs a frame in progress.
        if kind == LineKind::Continuation {
            match self.assembly {
                Assembly::Idle => {
                    self.ready
                        .push_back(Err(FrameError::ContinuationWithoutStart));
                    return;
                }
                Assembly::Skipping => return,
                Assembly::Collecting { .. } => {}
            }
        }

        // 3. Each line is base64 on its own.
        let mut decoded = match STANDARD.decode(line) {
            Ok(decoded) => decoded,
            Err(e) => {
                return self.fail(FrameError::BadBase64 {
                    reason: e.to_string(),
                })
            }
        };

        // 4. A start line begins with the length field, checked before anything is buffered.
        if kind == LineKind::Start {
            if decoded.len() < 2 {
                return self.fail(FrameError::BadBase64 {
                    reason: format!(
                        "first line decodes to {} byte(s), too short for the 2-byte length",
                        decoded.len()
                    ),
                });
            }
            let declared = usize::from(u16::from_be_bytes([decoded[0], decoded[1]]));
            if declared > self.max_packet {
                return self.fail(FrameError::Oversized {
                    declared,
                    max: self.max_packet,
                });
            }
            if declared < 2 {
                return self.fail(FrameError::LengthMismatch {
                    declared,
                    received: decoded.len() - 2,
                });
            }
            decoded.drain(..2);
            self.assembly = Assembly::Collecting {
                declared,
                body: Vec::new(),
            };
        }

        // 5. Append, refusing bytes beyond the declared length.
        let Assembly::Collecting { declared, body } = &mut self.assembly else {
            unreachable!(
                "a start line set Collecting and a continuation returned unless Collecting"
            );
        };
        let declared = *declared;
        let received = body.len() + decoded.len();
        if received > declared {
            return self.fail(FrameError::LengthMismatch { declared, received });
        }
        body.extend_from_slice(&decoded);
        if received < declared {
            return;
        }

        // 6. Complete: split off the CRC and check it.
        let mut packet = std::mem::take(body);
        self.assembly = Assembly::Idle;
        let found = u16::from_be_bytes([packet[declared - 2], packet[declared - 1]]);
        packet.truncate(declared - 2);
        let expected = crc16_xmodem(&packet);
        self.ready.push_back(if expected == found {
            Ok(packet)
        } else {
            Err(FrameError::BadCrc { expected, found })
        });
    }
}

#[cfg(test)]
#[path = "serial_tests.rs"]
mod tests;
