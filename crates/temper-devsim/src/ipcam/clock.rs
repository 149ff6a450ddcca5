//! The camera's clock and BusyBox `date`. The camera has no RTC: every boot starts at
//! 1970-01-01T00:00:00Z plus the uptime, `date -s` sets it until the next boot. Always UTC.
//! With `--hostile clock-stuck` `date -s` prints the requested time but leaves the clock alone
//! (see [`super::hostile`]).

use serde_json::json;

use super::console::Session;
use super::hostile::HostileMode;

/// 2020-01-01T00:00:00Z: a device clock before this was evidently never set.
pub const CLOCK_SANE_UNIX: i64 = 1_577_836_800;

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A broken-down UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
    /// Days since 1970-01-01 (for the weekday).
    days: i64,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn civil(unix: i64) -> Civil {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (secs / 3600) as u32,
        min: ((secs / 60) % 60) as u32,
        sec: (secs % 60) as u32,
        days,
    }
}

/// BusyBox's default `date` output: `Thu Jan  1 00:00:12 UTC 1970`.
pub fn busybox_date(unix: i64) -> String {
    let c = civil(unix);
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} UTC {}",
        DAYS[c.days.rem_euclid(7) as usize],
        MONTHS[(c.month - 1) as usize],
        c.day,
        c.hour,
        c.min,
        c.sec,
        c.year
    )
}

/// `YYYY-MM-DD hh:mm:ss`.
pub fn iso(unix: i64) -> String {
    let c = civil(unix);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.min, c.sec
    )
}

/// `date +FORMAT` with the conversions a provisioning script needs.
fn strftime(fmt: &str, unix: i64) -> String {
    let c = civil(unix);
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        match chars.next() {
            Some('s') => out.push_str(&unix.to_string()),
            Some('Y') => out.push_str(&format!("{:04}", c.year)),
            Some('m') => out.push_str(&format!("{:02}", c.month)),
            Some('d') => out.push_str(&format!("{:02}", c.day)),
            Some('H') => out.push_str(&format!("{:02}", c.hour)),
            Some('M') => out.push_str(&format!("{:02}", c.min)),
            Some('S') => out.push_str(&format!("{:02}", c.sec)),
            Some('Z') => out.push_str("UTC"),
            Some('F') => out.push_str(&iso(unix)[..10]),
            Some('T') => out.push_str(&iso(unix)[11..]),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Parse a `date -s` argument: `YYYY-MM-DD hh:mm[:ss]`, `YYYY-MM-DD` or `@UNIX`.
pub fn parse_set(arg: &str) -> Option<i64> {
    let arg = arg.trim();
    if let Some(n) = arg.strip_prefix('@') {
        return n.parse().ok();
    }
    let (date, time) = match arg.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t.trim())),
        None => (arg, None),
    };
    let num = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let d: Vec<&str> = date.split('-').collect();
    let [y, m, dd] = d.as_slice() else {
        return None;
    };
    let (y, m, dd) = (num(y)?, num(m)?, num(dd)?);
    let (hh, mm, ss) = match time {
        None => (0, 0, 0),
        Some(t) => {
            let p: Vec<&str> = t.split(':').collect();
            match p.as_slice() {
                [h, mi] => (num(h)?, num(mi)?, 0),
                [h, mi, s] => (num(h)?, num(mi)?, num(s)?),
                _ => return None,
            }
        }
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&m)
        || dd == 0
        || dd > month_days[(m - 1) as usize]
        || hh > 23
        || mm > 59
        || ss > 59
    {
        return None;
    }
    Some(
        days_from_civil(i64::from(y), m, dd) * 86_400
            + i64::from(hh) * 3600
            + i64::from(mm) * 60
            + i64::from(ss),
    )
}

/// BusyBox `date [-u] [-s TIME] [+FORMAT]`.
pub fn date(s: &mut Session, user: &str, args: &[&str]) -> Vec<String> {
    let mut set = None;
    let mut fmt = None;
    let mut i = 0;
    while i < args.len() {
        match args[i] {
            "-u" | "--utc" => {}
            "-s" | "--set" => {
                let Some(v) = args.get(i + 1) else {
                    return vec!["date: option requires an argument -- 's'".into()];
                };
                set = Some(*v);
                i += 1;
            }
            a if a.starts_with('+') => fmt = Some(&a[1..]),
            a => return vec![format!("date: invalid date '{a}'")],
        }
        i += 1;
    }
    if let Some(v) = set {
        let Some(unix) = parse_set(v) else {
            return vec![format!("date: invalid date '{v}'")];
        };
        if user != "root" {
            return vec!["date: can't set date: Operation not permitted".into()];
        }
        if s.dev.hostile(HostileMode::ClockStuck) {
            s.dev
                .log_hostile(HostileMode::ClockStuck, json!({"unix": unix}));
            // Answers with the time it was asked to set, as if it had worked.
            return vec![match fmt {
                Some(f) => strftime(f, unix),
                None => busybox_date(unix),
            }];
        }
        s.dev.set_clock(unix);
        s.dev.events.log("clock-set", json!({"unix": unix}));
    }
    let now = s.dev.now_unix();
    vec![match fmt {
        Some(f) => strftime(f, now),
        None => busybox_date(now),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_busybox() {
        assert_eq!(busybox_date(12), "Thu Jan  1 00:00:12 UTC 1970");
        assert_eq!(busybox_date(1_748_779_200), "Sun Jun  1 12:00:00 UTC 2025");
        assert_eq!(busybox_date(951_782_400), "Tue Feb 29 00:00:00 UTC 2000");
        assert_eq!(strftime("%s %F %T", 86_399), "86399 1970-01-01 23:59:59");
    }

    #[test]
    fn parses_set_arguments() {
        assert_eq!(parse_set("2025-06-01 12:00:00"), Some(1_748_779_200));
        assert_eq!(parse_set("2025-06-01 12:00"), Some(1_748_779_200));
        assert_eq!(parse_set("1970-01-01"), Some(0));
        assert_eq!(parse_set("@1748779200"), Some(1_748_779_200));
        assert_eq!(parse_set("2024-02-29 00:00:00"), Some(1_709_164_800));
        assert_eq!(parse_set("2023-02-29 00:00:00"), None);
        assert_eq!(parse_set("2025-13-01 00:00:00"), None);
        assert_eq!(parse_set("yesterday"), None);
        for t in [0, 59, 86_400, 1_709_164_800, 4_102_444_800] {
            assert_eq!(parse_set(&iso(t)), Some(t));
        }
    }
}
