//! Append-only event log `events.jsonl`: one JSON object per line with `seq` (monotonic across
//! restarts), `t_ms` (unix ms) and `event`; each line is flushed and fsynced before the call returns.
//! Nothing secret is ever written here: passwords appear only as SHA-256 hex.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::SimError;

pub const EVENTS_FILE: &str = "events.jsonl";

pub struct EventLog {
    inner: Mutex<Inner>,
}

struct Inner {
    file: File,
    seq: u64,
}

impl EventLog {
    /// Open (append) the log in `dir`; numbering continues after max(`min_seq`, last seq in the file).
    pub fn open(dir: &Path, min_seq: u64) -> Result<EventLog, SimError> {
        let path = dir.join(EVENTS_FILE);
        let last = read_events(dir)
            .iter()
            .filter_map(|e| e.get("seq").and_then(Value::as_u64))
            .max()
            .unwrap_or(0);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| SimError::io(path.display().to_string(), e))?;
        Ok(EventLog {
            inner: Mutex::new(Inner {
                file,
                seq: last.max(min_seq),
            }),
        })
    }

    /// The last sequence number written.
    pub fn seq(&self) -> u64 {
        self.inner.lock().map(|i| i.seq).unwrap_or(0)
    }

    /// Append one event. `fields` must be a JSON object (or null).
    pub fn log(&self, event: &str, fields: Value) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.seq += 1;
        let mut obj = Map::new();
        obj.insert("seq".into(), Value::from(inner.seq));
        obj.insert("t_ms".into(), Value::from(unix_ms()));
        obj.insert("event".into(), Value::from(event));
        if let Value::Object(extra) = fields {
            for (k, v) in extra {
                obj.insert(k, v);
            }
        }
        let mut line = Value::Object(obj).to_string();
        line.push('\n');
        let res = inner
            .file
            .write_all(line.as_bytes())
            .and_then(|_| inner.file.flush())
            .and_then(|_| inner.file.sync_data());
        if let Err(e) = res {
            tracing::error!("event log write failed: {e}");
        }
    }
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// All events of a state directory, oldest first (a torn last line is skipped).
pub fn read_events(state_dir: impl AsRef<Path>) -> Vec<Value> {
    let path: PathBuf = state_dir.as_ref().join(EVENTS_FILE);
    let Ok(f) = File::open(path) else {
        return Vec::new();
    };
    BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .collect()
}
