//! The floor, from the reference transcript: parsing, the floor of any run of records, and the split of the
//! exchange into plan steps and certificate stages by the host lines that open them.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context};

/// Line speed of the benchmark and of the reference transcript.
pub const BAUD: u32 = 115_200;

/// The console exchange of each plan step opens with the first host line (after the previous step's) that starts
/// with this text; `""` is the first host line. Steps without console work (baseline, trials, verify) have none.
/// These fit the ipcam profile's reference transcript; a transcript they do not fit is refused.
pub const STEP_MARKS: &[(&str, &str)] = &[
    ("identify", ""),
    ("rotate-credentials", "passwd root"),
    ("lock-accounts", "cat /etc/passwd"),
    ("disable-services", "/etc/init.d/telnetd status"),
    ("certificate", "date -u -s"),
    ("record", "exit"),
];

/// One interval of the certificate step, from the `certificate` events of temper's JSON lines.
pub struct CertStage {
    /// The event that ends the interval: a `certificate` stage, `ca-made` (the progress line saying the
    /// station CA was made) or `finished` (step-finished).
    pub until: &'static str,
    /// What runs in the interval.
    pub work: &'static str,
    /// The host line that opens the interval's console exchange, if it has one.
    pub mark: Option<&'static str>,
}

pub const CERT_STAGES: &[CertStage] = &[
    CertStage {
        until: "ca-made",
        work:
            "station CA made (P-256 key, self-signed) and stored in the inventory: first use only",
        mark: None,
    },
    CertStage {
        until: "clock-set",
        work: "`date -u -s …`, `date -u +%s` (on every run)",
        mark: Some("date -u -s"),
    },
    CertStage {
        until: "key-generated",
        work:
            "`certtool show` (what the device serves and holds), `certtool genkey --type ec-p256`",
        mark: Some("certtool show"),
    },
    CertStage {
        until: "csr-checked",
        work: "`certtool csr …` (CSR printed), `check_csr`",
        mark: Some("certtool csr"),
    },
    CertStage {
        until: "pending",
        work: "`StationCa::sign`, pending commit to the inventory",
        mark: None,
    },
    CertStage {
        until: "installed",
        work: "`certtool install`, the PEM lines and `EOF` typed ahead, fingerprint read back",
        mark: Some("certtool install"),
    },
    CertStage {
        until: "switched",
        work: "`/etc/init.d/httpsd restart`, `certtool show`",
        mark: Some("/etc/init.d/httpsd"),
    },
    CertStage {
        until: "active",
        work: "TLS handshake from outside (chain, key, name), state commit",
        mark: None,
    },
    CertStage {
        until: "finished",
        work: "`cfgcli -s web.http_mode redirect`",
        mark: Some("cfgcli -s web.http_mode"),
    },
];

/// One record of a transcript (format: crates/temper-devsim/src/transcript.rs).
#[derive(Debug, Clone, PartialEq)]
pub enum Rec {
    Host(Vec<u8>),
    Device(Vec<u8>),
    Delay(u64, String),
}

pub fn unescape(s: &str) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = s.get(i + 2..i + 4).ok_or_else(|| anyhow!("short \\x"))?;
                out.push(u8::from_str_radix(hex, 16).context("bad \\x escape")?);
                i += 2;
            }
            _ => bail!("bad escape in {s:?}"),
        }
        i += 2;
    }
    Ok(out)
}

/// Records from the first host byte on; `#` comment lines and blank lines are skipped.
pub fn parse_transcript(text: &str) -> anyhow::Result<Vec<Rec>> {
    let mut recs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let bad = || anyhow!("transcript line {}: {line:?}", n + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let rec = if let Some(rest) = line.strip_prefix("> ") {
            Rec::Host(unescape(rest)?)
        } else if let Some(rest) = line.strip_prefix("< ") {
            Rec::Device(unescape(rest)?)
        } else if let Some(rest) = line.strip_prefix("= ") {
            let (ms, name) = rest.split_once(' ').ok_or_else(bad)?;
            Rec::Delay(ms.parse().map_err(|_| bad())?, name.to_string())
        } else {
            return Err(bad());
        };
        if recs.is_empty() && !matches!(rec, Rec::Host(_)) {
            continue;
        }
        recs.push(rec);
    }
    if recs.is_empty() {
        bail!("transcript has no host bytes");
    }
    Ok(recs)
}

/// The parts of the exchange: bytes each way and the modelled delays, summed over a run of records.
#[derive(Debug, Default)]
pub struct Floor {
    pub device_bytes: usize,
    pub host_bytes: usize,
    pub host_unechoed: usize,
    /// name -> (count, total ms)
    pub delays: BTreeMap<String, (u32, u64)>,
    pub host_lines: usize,
}

impl Floor {
    pub fn delay_ms(&self) -> u64 {
        self.delays.values().map(|(_, ms)| ms).sum()
    }

    pub fn line_secs(&self, bytes: usize) -> f64 {
        bytes as f64 / bytes_per_sec()
    }

    /// The parts one after the other: device bytes, unechoed host bytes, delays (no overlap at all).
    pub fn serial_secs(&self) -> f64 {
        self.line_secs(self.device_bytes + self.host_unechoed) + self.delay_ms() as f64 / 1000.0
    }
}

fn bytes_per_sec() -> f64 {
    BAUD as f64 / 10.0
}

/// How a host line matches the device's answer: (host bytes not echoed, answer bytes that are its echo, and the
/// earliest arrival of its last echo byte, in byte times from the line's first byte). A host byte counts as
/// echoed when the device's next unmatched byte is the same (a CR is echoed as CR LF). Echoed host bytes overlap
/// with their echo on a full-duplex line.
fn echo_of(host: &[u8], answer: &[u8]) -> (usize, usize, usize) {
    let mut j = 0;
    let mut missing = 0;
    let mut last_end = 0;
    for (p, &h) in host.iter().enumerate() {
        let n = if h == b'\r' && answer[j..].starts_with(b"\r\n") {
            2
        } else if h != b'\r' && answer.get(j) == Some(&h) {
            1
        } else {
            missing += 1;
            continue;
        };
        j += n;
        last_end = p + 1 + n;
    }
    (missing, j, last_end)
}

pub fn unechoed(host: &[u8], answer: &[u8]) -> usize {
    echo_of(host, answer).0
}

/// The device bytes answering the host line at `i`: the records up to the next host line.
fn answer_of(recs: &[Rec], i: usize) -> Vec<u8> {
    recs[i + 1..]
        .iter()
        .take_while(|r| !matches!(r, Rec::Host(_)))
        .filter_map(|r| match r {
            Rec::Device(d) => Some(d.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

/// The parts of a run of records.
pub fn floor_of(recs: &[Rec]) -> Floor {
    let mut f = Floor::default();
    for (i, rec) in recs.iter().enumerate() {
        match rec {
            Rec::Host(h) => {
                f.host_lines += 1;
                f.host_bytes += h.len();
                f.host_unechoed += unechoed(h, &answer_of(recs, i));
            }
            Rec::Device(d) => f.device_bytes += d.len(),
            Rec::Delay(ms, name) => {
                let e = f.delays.entry(name.clone()).or_default();
                e.0 += 1;
                e.1 += ms;
            }
        }
    }
    f
}

/// The recorded exchange replayed on an ideal full-duplex line at BAUD (8N1) with the device's modelled delays
/// and zero processing time on either side:
/// - the host sends a line as soon as it may: when the device's last output before it was a prompt (a record
///   without a line end), once that prompt has fully arrived; otherwise (input typed ahead, e.g. the PEM lines
///   after `certtool install`) together with the line before it;
/// - host bytes travel one after another on the host→device wire; the device echoes each as it arrives (or, if it
///   is busy in a modelled delay, when the delay ends), and handles a line once its last byte has arrived;
/// - a modelled delay holds the device, not the wire: output already queued keeps flowing (a UART drains while
///   the CPU works), and device bytes travel one after another on the device→host wire.
///
/// For a strict request/response exchange this is the serial sum of its parts (less about one byte per line,
/// the echo of the last byte overlapping the device's work); typed-ahead input overlaps the device's work.
#[derive(Debug)]
pub struct Timeline {
    /// When the last device byte has arrived (s from the first host byte).
    pub end: f64,
    /// For each record that is a host line: when the host sends it.
    pub send: Vec<Option<f64>>,
    /// Host lines sent without waiting for a prompt.
    pub typed_ahead: usize,
}

pub fn timeline(recs: &[Rec]) -> Timeline {
    let r = bytes_per_sec();
    let (mut in_free, mut out_free, mut dev, mut prev_send) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut after_prompt = true;
    let mut echo_left = 0usize;
    let mut send = vec![None; recs.len()];
    let mut typed_ahead = 0;
    for (i, rec) in recs.iter().enumerate() {
        match rec {
            Rec::Host(h) => {
                let at = if i == 0 {
                    0.0
                } else if after_prompt {
                    out_free
                } else {
                    typed_ahead += 1;
                    prev_send
                };
                send[i] = Some(at);
                prev_send = at;
                let arrive_start = at.max(in_free);
                let arrived = arrive_start + h.len() as f64 / r;
                in_free = arrived;
                let (_, echo, last) = echo_of(h, &answer_of(recs, i));
                if echo > 0 {
                    let from = out_free.max(arrive_start).max(dev);
                    out_free = (from + echo as f64 / r).max(arrive_start + last as f64 / r);
                }
                echo_left = echo;
                dev = dev.max(arrived);
                // The host waits for a prompt only if one comes after this line.
                after_prompt = false;
            }
            Rec::Device(d) => {
                let skip = echo_left.min(d.len());
                echo_left -= skip;
                let rest = d.len() - skip;
                if rest > 0 {
                    out_free = out_free.max(dev) + rest as f64 / r;
                }
                after_prompt = !d.ends_with(b"\n");
            }
            Rec::Delay(ms, _) => dev += *ms as f64 / 1000.0,
        }
    }
    Timeline {
        end: out_free.max(dev),
        send,
        typed_ahead,
    }
}

/// The record index of the host line that opens each part: part k opens with the first host line (at or after
/// `from`, and after part k-1's) that starts with `marks[k]`. Fails when a mark is not found, so a transcript that
/// no longer fits is not misread.
pub fn split(recs: &[Rec], from: usize, marks: &[&str]) -> anyhow::Result<Vec<usize>> {
    let mut starts = Vec::with_capacity(marks.len());
    let mut at = from;
    for mark in marks {
        let i = recs
            .iter()
            .enumerate()
            .skip(at)
            .find(|(_, r)| matches!(r, Rec::Host(h) if h.starts_with(mark.as_bytes())))
            .map(|(i, _)| i)
            .ok_or_else(|| anyhow!("no host line starting with {mark:?} in the transcript"))?;
        starts.push(i);
        at = i + 1;
    }
    Ok(starts)
}

/// Console floor of each plan step that has console work (STEP_MARKS), and of each certificate stage
/// (CERT_STAGES; zero for the stages without console work): the time on the timeline from the send of the part's
/// first host line to the send of the next part's (to the end, for the last), so the parts add up to the floor.
pub struct Split {
    pub steps: BTreeMap<String, f64>,
    pub cert_stages: Vec<f64>,
}

pub fn split_floor(recs: &[Rec], t: &Timeline) -> anyhow::Result<Split> {
    let marks: Vec<&str> = STEP_MARKS.iter().map(|(_, m)| *m).collect();
    let starts = split(recs, 0, &marks).context("splitting the transcript into plan steps")?;
    if starts[0] != 0 {
        bail!("the transcript does not open with the first step's host line");
    }
    let at = |i: usize| t.send[i].unwrap_or(t.end);
    let span = |k: usize, starts: &[usize], end: f64| {
        starts.get(k + 1).map_or(end, |&n| at(n)) - at(starts[k])
    };
    let steps: BTreeMap<String, f64> = STEP_MARKS
        .iter()
        .enumerate()
        .map(|(k, (s, _))| (s.to_string(), span(k, &starts, t.end)))
        .collect();
    let cert = STEP_MARKS
        .iter()
        .position(|(s, _)| *s == "certificate")
        .ok_or_else(|| anyhow!("no certificate step in STEP_MARKS"))?;
    let cert_end = starts.get(cert + 1).map_or(t.end, |&n| at(n));
    let cert_marks: Vec<&str> = CERT_STAGES.iter().filter_map(|s| s.mark).collect();
    let cert_starts = split(recs, starts[cert], &cert_marks)
        .context("splitting the certificate step into stages")?;
    let beyond = starts
        .get(cert + 1)
        .is_some_and(|&next| cert_starts.iter().any(|&c| c >= next));
    if cert_starts[0] != starts[cert] || beyond {
        bail!("the certificate stages do not fit the certificate step");
    }
    let mut k = 0;
    let cert_stages = CERT_STAGES
        .iter()
        .map(|s| match s.mark {
            Some(_) => {
                k += 1;
                span(k - 1, &cert_starts, cert_end)
            }
            None => 0.0,
        })
        .collect();
    Ok(Split { steps, cert_stages })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_what_the_simulator_escapes() {
        assert_eq!(
            unescape("a\\r\\n\\t\\\\\\x1b]0;\\x07").unwrap(),
            b"a\r\n\t\\\x1b]0;\x07".to_vec()
        );
        assert!(unescape("\\q").is_err());
    }

    const SAMPLE: &str =
        "# c\n< boot\\r\\n\n> root\\r\n< root\\r\\n\n< Password: \n> ****\\r\n< \\r\\n\n\
         = 300 login-check\n< # \n> ls\\r\\n\n< ls\\r\\n\n= 30 command\n< # \n";

    const R: f64 = 11_520.0;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn parts_count_unechoed_host_bytes_and_delays() {
        let recs = parse_transcript(SAMPLE).unwrap();
        assert!(matches!(recs[0], Rec::Host(_)));
        let f = floor_of(&recs);
        assert_eq!(f.host_bytes, 5 + 5 + 4);
        // the four masked password bytes and the LF after CR
        assert_eq!(f.host_unechoed, 5);
        assert_eq!(f.device_bytes, 6 + 10 + 2 + 2 + 4 + 2);
        assert_eq!(f.delay_ms(), 330);
        assert!(close(f.serial_secs(), (26.0 + 5.0) / R + 0.33));
    }

    #[test]
    fn timeline_of_a_lock_step_exchange_is_its_serial_sum_less_a_byte_per_echoed_line_end() {
        let recs = parse_transcript(SAMPLE).unwrap();
        let t = timeline(&recs);
        assert_eq!(t.typed_ahead, 0);
        // "root\r" + echo tail, "Password: "; "****\r" (echo "\r\n"); login-check; "# ".
        assert!(close(t.send[3].unwrap(), 17.0 / R));
        assert!(close(t.send[7].unwrap(), 24.0 / R + 0.3));
        // "ls\r\n": the CR's echo ends 5 byte times after the line starts, the LF delays the device by one.
        assert!(close(t.end, 30.0 / R + 0.33));
    }

    #[test]
    fn typed_ahead_lines_echo_while_the_device_works() {
        let text = "> cmd\\r\n< cmd\\r\\n\n= 30 command\n< Paste\\r\\n\n> AAAA\\r\n< AAAA\\r\\n\n\
                    > EOF\\r\n< EOF\\r\\n\n= 150 install\n< OK\\r\\n\n< # \n";
        let recs = parse_transcript(text).unwrap();
        let t = timeline(&recs);
        assert_eq!(t.typed_ahead, 2);
        assert_eq!(t.send[4], Some(0.0));
        // The install delay starts once EOF has arrived (13 bytes in, well within the first 30 ms), so only the
        // command's 4 bytes, the two delays and "OK\r\n# " are on the critical path.
        assert!(close(t.end, 10.0 / R + 0.18));
        assert!(close(floor_of(&recs).serial_secs(), 29.0 / R + 0.18));
    }

    #[test]
    fn split_finds_each_mark_after_the_last() {
        let recs = parse_transcript(SAMPLE).unwrap();
        assert_eq!(split(&recs, 0, &["", "ls"]).unwrap(), vec![0, 7]);
        assert_eq!(
            split(&recs, 0, &["root", "****", "ls"]).unwrap(),
            vec![0, 3, 7]
        );
        assert!(split(&recs, 0, &["", "cat"]).is_err());
        assert!(split(&recs, 1, &["root"]).is_err());
    }

    /// A re-recorded reference transcript must still fit the step and stage marks, and the split must add up.
    #[test]
    fn the_committed_transcript_splits_into_parts_that_add_up() {
        let path = crate::workspace_root().join("docs/bench/ipcam-115200.transcript");
        let recs = parse_transcript(&std::fs::read_to_string(path).unwrap()).unwrap();
        let t = timeline(&recs);
        let split = split_floor(&recs, &t).unwrap();
        let steps: f64 = split.steps.values().sum();
        assert!(close(steps, t.end), "{steps} != {}", t.end);
        let stages: f64 = split.cert_stages.iter().sum();
        assert!(close(stages, split.steps["certificate"]));
        assert!(t.end <= floor_of(&recs).serial_secs());
        assert!(t.typed_ahead > 0, "the PEM chain is typed ahead");
    }
}
