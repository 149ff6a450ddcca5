//! The sensor's clock. There is no RTC: every boot starts at 1970-01-01T00:00:00 and the clock runs from
//! there until the OS group's datetime write (0/4) sets it. Always UTC.
//!
//! Datetime strings as Zephyr's `os_mgmt` takes them: `YYYY-MM-DDTHH:MM:SS`, optionally `.f` (1 to 6 digits)
//! and a zone (`Z` or `±HH:MM`, accepted and ignored, as Zephyr does: the device has no notion of zones). A
//! read answers `YYYY-MM-DDTHH:MM:SS`.

use std::time::{Duration, Instant};

use rustls::pki_types::UnixTime;
use rustls::time_provider::TimeProvider;

use crate::ipcam::clock::{civil, days_from_civil};

/// The device clock: the time set (microseconds since the Unix epoch) and when it was set.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    set_us: i64,
    at: Instant,
}

impl Clock {
    /// The clock at a boot: 1970-01-01T00:00:00, running.
    pub fn boot() -> Clock {
        Clock {
            set_us: 0,
            at: Instant::now(),
        }
    }

    /// Microseconds since the Unix epoch, by the device.
    pub fn now_us(&self) -> i64 {
        let elapsed = i64::try_from(self.at.elapsed().as_micros()).unwrap_or(i64::MAX);
        self.set_us.saturating_add(elapsed)
    }

    /// Seconds since the Unix epoch, by the device.
    pub fn now_unix(&self) -> i64 {
        self.now_us().div_euclid(1_000_000)
    }

    /// Sets the clock to `us` microseconds since the Unix epoch.
    pub fn set_us(&mut self, us: i64) {
        *self = Clock {
            set_us: us,
            at: Instant::now(),
        };
    }

    /// The OS group's datetime read: `YYYY-MM-DDTHH:MM:SS`.
    pub fn datetime(&self) -> String {
        format_datetime(self.now_unix())
    }
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time.
pub fn format_datetime(unix: i64) -> String {
    let c = civil(unix);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.min, c.sec
    )
}

/// Parses a datetime write (see the module doc); microseconds since the Unix epoch, `None` when the string
/// is not of that form or names no real date (Zephyr answers `{"rc": 3}`).
pub fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if seps
        .iter()
        .any(|&(i, c)| b[i] != c && !(i == 10 && b[i] == b't'))
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || hour > 23 || min > 59 || sec > 59 || day < 1 {
        return None;
    }
    let days_in_month = days_from_civil(year + i64::from(month == 12), (month % 12 + 1) as u32, 1)
        - days_from_civil(year, month as u32, 1);
    if day > days_in_month {
        return None;
    }
    let mut rest = &s[19..];
    let mut micros = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=6).contains(&digits) {
            return None;
        }
        let scale = 10i64.pow(6 - digits as u32);
        micros = frac[..digits].parse::<i64>().ok()? * scale;
        rest = &frac[digits..];
    }
    let zone_ok = match rest.as_bytes() {
        [] | [b'Z'] | [b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    };
    if !zone_ok {
        return None;
    }
    let days = days_from_civil(year, month as u32, day as u32);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec;
    Some(secs * 1_000_000 + micros)
}

/// The device clock as rustls' time source: certificate validity is checked against it, not the host's.
#[derive(Debug)]
pub struct DeviceTime(pub Clock);

impl TimeProvider for DeviceTime {
    fn current_time(&self) -> Option<UnixTime> {
        let secs = u64::try_from(self.0.now_unix()).unwrap_or(0);
        Some(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_zephyr_takes() {
        let base = 1_735_787_045_000_000; // 2025-01-02T03:04:05Z
        assert_eq!(parse_datetime("2025-01-02T03:04:05"), Some(base));
        assert_eq!(parse_datetime("2025-01-02T03:04:05Z"), Some(base));
        assert_eq!(
            parse_datetime("2025-01-02T03:04:05.5+02:00"),
            Some(base + 500_000),
            "the zone is accepted and ignored"
        );
        assert_eq!(
            parse_datetime("2025-01-02T03:04:05.123456"),
            Some(base + 123_456)
        );
        for bad in [
            "",
            "2025-01-02",
            "2025-01-02 03:04:05",
            "2025-13-02T03:04:05",
            "2025-02-29T00:00:00",
            "2025-01-02T24:00:00",
            "2025-01-02T03:04:05.",
            "2025-01-02T03:04:05.1234567",
            "2025-01-02T03:04:05+0200",
            "2025-01-02T03:04:05junk",
            "2025-0a-02T03:04:05",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad:?} must be refused");
        }
        assert!(parse_datetime("2024-02-29T00:00:00").is_some(), "leap day");
    }

    #[test]
    fn boots_at_1970_and_keeps_what_was_set() {
        let mut c = Clock::boot();
        assert_eq!(c.datetime(), "1970-01-01T00:00:00");
        c.set_us(parse_datetime("2025-01-02T03:04:05").unwrap());
        assert_eq!(c.datetime(), "2025-01-02T03:04:05");
        assert_eq!(
            DeviceTime(c).current_time().unwrap().as_secs(),
            1_735_787_045
        );
        assert_eq!(format_datetime(0), "1970-01-01T00:00:00");
    }
}
