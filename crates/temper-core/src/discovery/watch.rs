//! Polling the sources and reporting what changed.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{merge, AttachedDevice, Discovery, DiscoveryError, DiscoveryEvent};

/// Polls a [`Discovery`] on its own thread and calls back with each change until dropped.
///
/// Event order: [`Watcher::start`] first reports every device already attached (one `Attached` each,
/// sorted by id) on the caller's thread, before it returns; then, after each poll, every `Detached` (sorted
/// by id) before every `Attached`. A device whose details changed under the same id (a simulator power-cycled
/// onto a new PTY) is reported `Detached` then `Attached`. A source that fails to scan keeps its last known
/// devices (no spurious unplug) and is logged once until it recovers.
///
/// Dropping the watcher (or [`Watcher::stop`]) stops the thread promptly and waits for it; the callback is
/// not called afterwards. Do not drop it from inside the callback.
pub struct Watcher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// How often the sources are polled unless told otherwise: a plug or unplug is reported within about
    /// this long (the issue asks for 2 s).
    pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(250);

    /// Scans once (an unreadable source fails here, not later), reports what is attached, then polls every
    /// `interval` on a thread named `temper-discovery`.
    pub fn start<F>(
        discovery: Discovery,
        interval: Duration,
        mut on_event: F,
    ) -> Result<Watcher, DiscoveryError>
    where
        F: FnMut(DiscoveryEvent) + Send + 'static,
    {
        let mut known = Vec::with_capacity(discovery.sources.len());
        for source in &discovery.sources {
            known.push(source.scan()?);
        }
        for event in diff(&[], &merge(known.concat())) {
            on_event(event);
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("temper-discovery".into())
            .spawn(move || {
                let mut failing = vec![false; discovery.sources.len()];
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    let before = merge(known.concat());
                    for (i, source) in discovery.sources.iter().enumerate() {
                        match source.scan() {
                            Ok(devices) => {
                                failing[i] = false;
                                known[i] = devices;
                            }
                            Err(e) if !failing[i] => {
                                failing[i] = true;
                                tracing::warn!(source = source.name(), error = %e, "device source failed; keeping its last devices");
                            }
                            Err(_) => {}
                        }
                    }
                    for event in diff(&before, &merge(known.concat())) {
                        on_event(event);
                    }
                }
            })
            .map_err(DiscoveryError::Thread)?;
        Ok(Watcher {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops polling and waits for the thread (the same as dropping the watcher).
    pub fn stop(self) {}
}

impl Drop for Watcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The events that turn `before` into `after` (both sorted by id): detaches first, then attaches.
pub(crate) fn diff(before: &[AttachedDevice], after: &[AttachedDevice]) -> Vec<DiscoveryEvent> {
    let mut events: Vec<DiscoveryEvent> = before
        .iter()
        .filter(|old| !after.contains(old))
        .map(|old| DiscoveryEvent::Detached {
            id: old.id.clone(),
            port: old.port().map(str::to_string),
        })
        .collect();
    events.extend(
        after
            .iter()
            .filter(|new| !before.contains(new))
            .map(|new| DiscoveryEvent::Attached(new.clone())),
    );
    events
}
