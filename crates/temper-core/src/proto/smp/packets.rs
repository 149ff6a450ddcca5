//! SMP over a packet transport (BLE GATT, UDP): no console framing; a packet is an SMP header and the number
//! of payload bytes its length field gives. The transport may split a packet over several messages (BLE
//! notifications of MTU − 3 bytes) or carry several in one; [`PacketAssembler`] rebuilds them from the bytes
//! in order, holding at most one packet.

use std::collections::VecDeque;

use super::header::HEADER_LEN;
use super::serial::{Decoder, FrameError, MAX_PACKET};
use crate::transport::Link;

/// Rebuilds SMP packets from the bytes of a packet transport, by the header's length field.
#[derive(Debug)]
pub struct PacketAssembler {
    buf: Vec<u8>,
    max_packet: usize,
    ready: VecDeque<Result<Vec<u8>, FrameError>>,
}

impl PacketAssembler {
    /// An assembler refusing packets (header included) over `max_packet` bytes.
    pub fn new(max_packet: usize) -> Self {
        PacketAssembler {
            buf: Vec::new(),
            max_packet: max_packet.max(HEADER_LEN),
            ready: VecDeque::new(),
        }
    }

    /// Feeds bytes as they arrived; whole packets become available from [`PacketAssembler::next_packet`].
    /// A packet declaring more than the limit is refused at once and everything buffered is dropped (there
    /// is no marker to resynchronise on: the next message starts afresh).
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        while self.buf.len() >= HEADER_LEN {
            let declared = HEADER_LEN + usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
            if declared > self.max_packet {
                self.ready.push_back(Err(FrameError::Oversized {
                    declared,
                    max: self.max_packet,
                }));
                self.buf.clear();
                return;
            }
            if self.buf.len() < declared {
                return;
            }
            let packet: Vec<u8> = self.buf.drain(..declared).collect();
            self.ready.push_back(Ok(packet));
        }
    }

    /// The next packet (or refusal), in arrival order.
    pub fn next_packet(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        self.ready.pop_front()
    }

    /// Bytes held for a packet not complete yet.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// Drops a partial packet (the link was lost: its rest will never come).
    pub fn reset(&mut self) {
        self.buf.clear();
    }
}

/// How SMP packets are taken out of a link's bytes: console frames ([`Decoder`]), or raw packets by their
/// header length ([`PacketAssembler`]).
#[derive(Debug)]
pub enum Unframer {
    /// A console byte stream (serial).
    Console(Decoder),
    /// A packet link (BLE GATT, UDP).
    Packets(PacketAssembler),
}

impl Unframer {
    /// The one `link` needs ([`Link::carries_packets`]), with the default limits.
    pub fn for_link(link: &impl Link) -> Self {
        if link.carries_packets() {
            Unframer::Packets(PacketAssembler::new(MAX_PACKET))
        } else {
            Unframer::Console(Decoder::new())
        }
    }

    /// Feeds bytes as they arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        match self {
            Unframer::Console(d) => d.push(bytes),
            Unframer::Packets(a) => a.push(bytes),
        }
    }

    /// The next packet (or frame error), in arrival order.
    pub fn next_packet(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        match self {
            Unframer::Console(d) => d.next_packet(),
            Unframer::Packets(a) => a.next_packet(),
        }
    }

    /// Bytes held for a packet (or line) not complete yet.
    pub fn buffered_len(&self) -> usize {
        match self {
            Unframer::Console(d) => d.buffered_len(),
            Unframer::Packets(a) => a.buffered_len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An SMP packet with `len` payload bytes of `fill`.
    fn packet(len: u16, fill: u8) -> Vec<u8> {
        let mut p = vec![0x0b, 0, (len >> 8) as u8, len as u8, 0, 0, 7, 0];
        p.extend(std::iter::repeat_n(fill, usize::from(len)));
        p
    }

    #[test]
    fn split_packets_are_rebuilt_and_joined_ones_separated() {
        let mut a = PacketAssembler::new(2048);
        let first = packet(300, 1);
        let second = packet(5, 2);
        let bytes = [first.clone(), second.clone()].concat();
        // Notifications of 244 bytes, the last one carrying the end of one packet and the other whole.
        for chunk in bytes.chunks(244) {
            a.push(chunk);
        }
        assert_eq!(a.next_packet().unwrap().unwrap(), first);
        assert_eq!(a.next_packet().unwrap().unwrap(), second);
        assert!(a.next_packet().is_none());
        assert_eq!(a.buffered_len(), 0);
    }

    #[test]
    fn a_header_split_across_messages_waits_for_its_length() {
        let mut a = PacketAssembler::new(2048);
        let p = packet(20, 3);
        a.push(&p[..3]);
        assert!(a.next_packet().is_none());
        a.push(&p[3..]);
        assert_eq!(a.next_packet().unwrap().unwrap(), p);
    }

    #[test]
    fn an_oversized_length_is_refused_at_once_with_bounded_memory() {
        let mut a = PacketAssembler::new(512);
        a.push(&packet(0xffff, 0)[..300]);
        assert!(matches!(
            a.next_packet(),
            Some(Err(FrameError::Oversized { max: 512, .. }))
        ));
        assert_eq!(a.buffered_len(), 0, "nothing of it is kept");
        let p = packet(4, 9);
        a.push(&p);
        assert_eq!(
            a.next_packet().unwrap().unwrap(),
            p,
            "the next message starts afresh"
        );
    }
}
