//! OS management group (0): echo, date and time, reset, MCUmgr parameters, application and bootloader info
//! (Zephyr `grp/os_mgmt/src/os_mgmt.c`).

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::{flag, EmptyResponse, Request, GROUP_OS};
use crate::proto::smp::header::Op;

/// OS echo (0/0, write): `{"d": text}` → `{"r": text}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Echo {
    /// Text to echo.
    #[serde(rename = "d")]
    pub text: String,
}

/// Reply to [`Echo`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EchoResponse {
    /// The echoed text.
    #[serde(rename = "r")]
    pub text: String,
}

impl Request for Echo {
    const GROUP: u16 = GROUP_OS;
    const ID: u8 = 0;
    const OP: Op = Op::Write;
    type Response = EchoResponse;
}

/// Date and time read (0/4, read): `{}` → `{"datetime": "YYYY-MM-DDTHH:MM:SS[.mmm]"}`. A device whose RTC was
/// never set answers OS error 4 (RTC_NOT_SET).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateTimeRead {}

/// Reply to [`DateTimeRead`]: the device's clock, without a time zone (Zephyr's RTC has none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateTimeResponse {
    /// `YYYY-MM-DDTHH:MM:SS`, with `.mmm` milliseconds under `CONFIG_MCUMGR_GRP_OS_DATETIME_MS`.
    pub datetime: String,
}

impl DateTimeResponse {
    /// The clock as a date and time, or `None` when the text is not in Zephyr's format.
    pub fn parse(&self) -> Option<PrimitiveDateTime> {
        parse_datetime(&self.datetime)
    }
}

impl Request for DateTimeRead {
    const GROUP: u16 = GROUP_OS;
    const ID: u8 = 4;
    const OP: Op = Op::Read;
    type Response = DateTimeResponse;
}

/// Date and time write (0/4, write): `{"datetime": "YYYY-MM-DDTHH:MM:SS"}` → `{}`. Zephyr accepts 19 to 25
/// characters and no time zone; [`DateTimeWrite::utc`] writes UTC, which is what devices checking
/// certificate validity need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateTimeWrite {
    /// The new time, as Zephyr parses it.
    pub datetime: String,
}

impl DateTimeWrite {
    /// Sets the clock to `at`, converted to UTC, to the second.
    pub fn utc(at: OffsetDateTime) -> Self {
        let t = at.to_offset(UtcOffset::UTC);
        DateTimeWrite {
            datetime: format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
        }
    }
}

impl Request for DateTimeWrite {
    const GROUP: u16 = GROUP_OS;
    const ID: u8 = 4;
    const OP: Op = Op::Write;
    type Response = EmptyResponse;
}

/// Parses `YYYY-MM-DDTHH:MM:SS` with optional `.fraction` (milliseconds in Zephyr; more digits are read as
/// a decimal fraction); `None` for anything else.
pub fn parse_datetime(text: &str) -> Option<PrimitiveDateTime> {
    let (main, fraction) = match text.split_once('.') {
        Some((main, f)) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => (main, f),
        Some(_) => return None,
        None => (text, ""),
    };
    let b = main.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let s = main.get(range)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let month = Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let date = Date::from_calendar_date(num(0..4)? as i32, month, num(8..10)? as u8).ok()?;
    let nanos = if fraction.is_empty() {
        0
    } else {
        let digits = &fraction[..fraction.len().min(9)];
        digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32)
    };
    let time = Time::from_hms_nano(
        num(11..13)? as u8,
        num(14..16)? as u8,
        num(17..19)? as u8,
        nanos,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, time))
}

/// Reset (0/5, write): `{}` or `{"force": true}` → `{}`; the device reboots shortly after replying
/// (`CONFIG_MCUMGR_GRP_OS_RESET_MS`), so its link goes quiet and may close.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reset {
    /// Reset even if an application hook refused it before (it answered rc 10, EBUSY). Zephyr decodes a
    /// bool; 0/1 (what the Python `smp` package sends) is read too.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "flag")]
    pub force: Option<bool>,
    /// Boot mode to enter (`CONFIG_MCUMGR_GRP_OS_RESET_BOOT_MODE`, Zephyr 4.2+): 0 normal, 1 bootloader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_mode: Option<u8>,
}

impl Request for Reset {
    const GROUP: u16 = GROUP_OS;
    const ID: u8 = 5;
    const OP: Op = Op::Write;
    type Response = EmptyResponse;
}

/// OS MCUmgr parameters (0/6, read): `{}` → `{"buf_size", "buf_count"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct McumgrParams {}

/// Reply to [`McumgrParams`]: the device's SMP receive buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct McumgrParamsResponse {
    /// Size of one buffer (`CONFIG_MCUMGR_TRANSPORT_NETBUF_SIZE`): the largest request the device takes.
    pub buf_size: u32,
    /// Number of buffers (`CONFIG_MCUMGR_TRANSPORT_NETBUF_COUNT`).
    pub buf_count: u32,
}

impl Request for McumgrParams {
    const GROUP: u16 = GROUP_OS;
    const ID: u8 = 6;
    const OP: Op = Op::Read;
    type Response = McumgrParamsResponse;
}

/// Application / OS information (0/7, read): `{"format": "..."}` → `{"output": text}`, like `uname`.
/// Format letters: `s` kernel name (the default), `n` node name, `r` release, `v` version, `b` build date,
/// `m` machine, `p` processor, `i` hardware platform, `o` operating system, `a` all. An unknown letter gets
/// OS error 2 (INVALID_FORMAT).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppInfo {
    /// The format letters; `None` for the kernel name only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// Reply to [`AppInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppInfoResponse {
    /// The requested fields, separated by spaces.
    pub output: String,
}

impl Request for AppInfo {
    const GROUP: u16 = GROUP_OS;
    const ID: u8 = 7;
    const OP: Op = Op::Read;
    type Response = AppInfoResponse;
}

/// Bootloader information (0/8, read): `{}` → `{"bootloader": "MCUboot"}`; `{"query": "mode"}` →
/// `{"mode": int, "no-downgrade": true?}` (MCUboot). Another query gets rc 3.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootloaderInfo {
    /// What to ask the bootloader; `None` for its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// Reply to [`BootloaderInfo`]: the bootloader's name, or the answer to the query (Zephyr puts `mode` at the
/// top level, not under `response` as the Python model expects).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootloaderInfoResponse {
    /// "MCUboot", when no query was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootloader: Option<String>,
    /// MCUboot's mode for `query: "mode"` (-1 unknown, 0 single application, 1 swap using scratch,
    /// 2 overwrite only, 3 swap without scratch, 4 direct XIP, 5 direct XIP with revert, 6 RAM load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<i32>,
    /// MCUboot refuses downgrades.
    #[serde(
        rename = "no-downgrade",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub no_downgrade: Option<bool>,
}

impl Request for BootloaderInfo {
    const GROUP: u16 = GROUP_OS;
    const ID: u8 = 8;
    const OP: Op = Op::Read;
    type Response = BootloaderInfoResponse;
}
