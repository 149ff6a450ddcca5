//! The radio link's timing: a connection has an interval and a number of PDU exchanges per connection event;
//! each ATT packet (a write from the central, a notification from the peripheral) takes the next free slot
//! of its direction, so the peak throughput is `pdus_per_event × (MTU − 3) / interval` each way.
//!
//! Slots are laid out on a fixed grid from the connection's anchor: event `k` starts at
//! `anchor + k × interval`, and its exchanges follow one another at the air time of one packet (LE 1M PHY,
//! clamped so that the event's exchanges fit its interval). A packet queued while an event runs still goes in
//! that event's later slots, so a client that writes one packet at a time can fill an event. Slot times are
//! computed from the anchor (integer nanoseconds), never by adding up sleeps, so nothing drifts.

use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// The radio parameters of a simulated world, as `temper-devsim ble` prints them (`radio` in its JSON line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RadioParams {
    /// Connection interval, milliseconds.
    pub conn_interval_ms: u32,
    /// PDUs per connection event, each direction.
    pub pdus_per_event: u32,
    /// The ATT MTU (the characteristic's `MTU` property; notifications carry at most MTU − 3 bytes).
    pub mtu: u16,
    /// Extra latency before the first notification of each response, milliseconds.
    pub notify_delay_ms: u32,
}

impl Default for RadioParams {
    fn default() -> Self {
        RadioParams {
            conn_interval_ms: 30,
            pdus_per_event: 4,
            mtu: 247,
            notify_delay_ms: 0,
        }
    }
}

/// Radio parameters out of range.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RadioError {
    #[error("--conn-interval-ms {0}: the connection interval must be 7..=4000 ms")]
    Interval(u32),
    #[error("--pdus-per-event {0}: must be 1..=64")]
    Pdus(u32),
    #[error("--mtu {0}: the ATT MTU must be 23..=517")]
    Mtu(u16),
    #[error("--drop-after {0:?}: expected GROUP:ID[:NTH] (e.g. 3:0 or 1:1:5; NTH from 1)")]
    DropAfter(String),
}

impl RadioParams {
    /// Checks the ranges BLE allows (the interval at 1 ms resolution rather than 1.25 ms).
    pub fn validate(&self) -> Result<(), RadioError> {
        if !(7..=4000).contains(&self.conn_interval_ms) {
            return Err(RadioError::Interval(self.conn_interval_ms));
        }
        if !(1..=64).contains(&self.pdus_per_event) {
            return Err(RadioError::Pdus(self.pdus_per_event));
        }
        if !(23..=517).contains(&self.mtu) {
            return Err(RadioError::Mtu(self.mtu));
        }
        Ok(())
    }

    /// The largest ATT value one packet carries: MTU − 3.
    pub fn payload(&self) -> usize {
        usize::from(self.mtu) - 3
    }

    /// The connection interval.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.conn_interval_ms))
    }

    /// Peak throughput one way, bytes per second: PDUs × (MTU − 3) / interval.
    pub fn ideal_bytes_per_second(&self) -> f64 {
        (self.pdus_per_event as f64 * self.payload() as f64) / self.interval().as_secs_f64()
    }

    /// Time from one exchange of an event to the next: a full packet and an empty one back with their
    /// inter-frame spaces on LE 1M PHY (an ATT packet over 251 bytes takes several link-layer PDUs), no
    /// more than the interval shared by the event's PDUs.
    fn spacing(&self) -> Duration {
        const T_IFS_US: u64 = 150;
        const EMPTY_PDU_US: u64 = 80;
        const OVERHEAD_BYTES: u64 = 10;
        let l2cap = u64::from(self.mtu) + 4;
        let fragments = l2cap.div_ceil(251);
        let bytes = l2cap + fragments * OVERHEAD_BYTES;
        let air = Duration::from_micros(bytes * 8 + fragments * (2 * T_IFS_US + EMPTY_PDU_US));
        air.min(self.interval() / self.pdus_per_event)
    }
}

/// `--drop-after GROUP:ID[:NTH]`: the NTH request of that SMP group and command id is handled, its reply is
/// lost and the link drops (once per world).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DropAfter {
    pub group: u16,
    pub id: u8,
    pub nth: u32,
}

impl FromStr for DropAfter {
    type Err = RadioError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || RadioError::DropAfter(s.to_string());
        let parts: Vec<&str> = s.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(bad());
        }
        let group = parts[0].parse().map_err(|_| bad())?;
        let id = parts[1].parse().map_err(|_| bad())?;
        let nth = match parts.get(2) {
            Some(n) => n.parse().map_err(|_| bad())?,
            None => 1,
        };
        if nth == 0 {
            return Err(bad());
        }
        Ok(DropAfter { group, id, nth })
    }
}

/// The radio options of a world: timing and the deterministic fault.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RadioOptions {
    pub params: RadioParams,
    pub drop_after: Option<DropAfter>,
}

/// The slots of one direction of one connection.
#[derive(Debug)]
pub struct Schedule {
    anchor: Instant,
    interval_ns: u64,
    spacing_ns: u64,
    pdus: u64,
    /// The last slot taken: (event, exchange in the event).
    last: Option<(u64, u64)>,
}

impl Schedule {
    /// A schedule whose event 0 starts at `anchor`.
    pub fn new(anchor: Instant, params: &RadioParams) -> Schedule {
        Schedule {
            anchor,
            interval_ns: params.interval().as_nanos() as u64,
            spacing_ns: params.spacing().as_nanos() as u64,
            pdus: u64::from(params.pdus_per_event),
            last: None,
        }
    }

    fn at(&self, (event, exchange): (u64, u64)) -> Instant {
        self.anchor + Duration::from_nanos(event * self.interval_ns + exchange * self.spacing_ns)
    }

    /// Takes the first free slot at or after `earliest` and returns when it happens.
    pub fn take(&mut self, earliest: Instant) -> Instant {
        let after_last = match self.last {
            None => (0, 0),
            Some((e, x)) if x + 1 < self.pdus => (e, x + 1),
            Some((e, _)) => (e + 1, 0),
        };
        let since = earliest.saturating_duration_since(self.anchor).as_nanos() as u64;
        let event = since / self.interval_ns;
        let exchange = (since % self.interval_ns).div_ceil(self.spacing_ns);
        let from_now = if exchange < self.pdus {
            (event, exchange)
        } else {
            (event + 1, 0)
        };
        let slot = after_last.max(from_now);
        self.last = Some(slot);
        self.at(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(interval: u32, pdus: u32, mtu: u16) -> RadioParams {
        RadioParams {
            conn_interval_ms: interval,
            pdus_per_event: pdus,
            mtu,
            notify_delay_ms: 0,
        }
    }

    #[test]
    fn back_to_back_packets_fill_an_event_then_wait_for_the_next() {
        let p = params(30, 4, 247);
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, &p);
        let slots: Vec<Duration> = (0..9).map(|_| s.take(t0) - t0).collect();
        let ms = Duration::from_millis;
        assert_eq!(slots[0], Duration::ZERO);
        assert!(slots[3] < ms(30), "{slots:?}");
        assert_eq!(slots[4], ms(30));
        assert_eq!(slots[8], ms(60));
        // Exchanges in one event are an air time apart (2.5 ms for 251-byte PDUs on 1M PHY).
        assert!(slots[1] > ms(2) && slots[1] < ms(3), "{slots:?}");
    }

    #[test]
    fn a_late_packet_takes_the_next_slot_not_a_past_one() {
        let p = params(50, 2, 23);
        let t0 = Instant::now();
        let mut s = Schedule::new(t0, &p);
        assert_eq!(s.take(t0), t0);
        let late = t0 + Duration::from_millis(120);
        assert_eq!(s.take(late), t0 + Duration::from_millis(150));
        assert_eq!(s.take(late) - t0, Duration::from_millis(150) + p.spacing());
        assert_eq!(s.take(late), t0 + Duration::from_millis(200));
    }

    #[test]
    fn the_event_fits_its_interval() {
        let p = params(7, 64, 517);
        assert!(p.spacing() * 64 <= p.interval());
    }

    #[test]
    fn ideal_throughput_and_ranges() {
        assert_eq!(
            RadioParams::default().ideal_bytes_per_second(),
            4.0 * 244.0 / 0.030
        );
        assert_eq!(params(6, 4, 247).validate(), Err(RadioError::Interval(6)));
        assert_eq!(params(30, 4, 22).validate(), Err(RadioError::Mtu(22)));
        assert_eq!(params(30, 0, 23).validate(), Err(RadioError::Pdus(0)));
        assert!(params(7, 4, 517).validate().is_ok());
    }

    #[test]
    fn drop_after_parses_group_id_and_nth() {
        let d: DropAfter = "3:0".parse().unwrap();
        assert_eq!((d.group, d.id, d.nth), (3, 0, 1));
        let d: DropAfter = "1:1:5".parse().unwrap();
        assert_eq!((d.group, d.id, d.nth), (1, 1, 5));
        for bad in ["3", "3:x", "1:1:0", "1:2:3:4", "70000:0"] {
            assert!(bad.parse::<DropAfter>().is_err(), "{bad}");
        }
    }
}
