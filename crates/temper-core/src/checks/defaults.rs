//! Well-known default credentials and a runner that tries many of them against one service.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

use super::{AuthOutcome, CheckError};
use crate::Secret;

/// The Mirai botnet's telnet scanner list (2016), one `user:password` per line, `user:` for an empty password.
const MIRAI_LIST: &str = include_str!("../../data/mirai-default-credentials.txt");

/// The Mirai default credentials, in the list's order, duplicates removed (the list repeats some pairs).
/// Comment lines (`#`) and blank lines are skipped; `user:` means an empty password.
pub fn mirai_credentials() -> Vec<(String, Secret)> {
    let mut out: Vec<(String, Secret)> = Vec::new();
    for line in MIRAI_LIST.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((user, password)) = line.split_once(':') else {
            tracing::warn!(line, "skipping a default-credential line without ':'");
            continue;
        };
        let pair = (user.to_string(), Secret::new(password));
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    out
}

/// The result of one credential trial. Holds no secret: `index` points into the list that was tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialResult {
    /// Position of the credential in the list given to [`try_all`].
    pub index: usize,
    /// The user name tried.
    pub user: String,
    /// What the service answered, or why the trial could not decide.
    pub outcome: Result<AuthOutcome, CheckError>,
}

impl TrialResult {
    /// True if the service let this credential in.
    pub fn accepted(&self) -> bool {
        self.outcome == Ok(AuthOutcome::Accepted)
    }
}

/// Runs `trial(user, password)` for every credential, at most `concurrency` at once (at least 1), and returns the
/// results in the order of `creds`. Runs on the calling task (no spawning), so `trial` may borrow.
pub async fn try_all<F, Fut>(
    trial: F,
    creds: Vec<(String, Secret)>,
    concurrency: usize,
) -> Vec<TrialResult>
where
    F: Fn(String, Secret) -> Fut,
    Fut: Future<Output = Result<AuthOutcome, CheckError>>,
{
    let concurrency = concurrency.max(1);
    let total = creds.len();
    let mut waiting = creds.into_iter().enumerate();
    let mut in_flight: Vec<(usize, String, Pin<Box<Fut>>)> = Vec::with_capacity(concurrency);
    let mut results: Vec<TrialResult> = Vec::with_capacity(total);
    loop {
        while in_flight.len() < concurrency {
            let Some((index, (user, password))) = waiting.next() else {
                break;
            };
            in_flight.push((index, user.clone(), Box::pin(trial(user, password))));
        }
        if in_flight.is_empty() {
            break;
        }
        let finished = poll_fn(|cx| {
            for k in 0..in_flight.len() {
                if let Poll::Ready(outcome) = in_flight[k].2.as_mut().poll(cx) {
                    let (index, user, _) = in_flight.swap_remove(k);
                    return Poll::Ready(TrialResult {
                        index,
                        user,
                        outcome,
                    });
                }
            }
            Poll::Pending
        })
        .await;
        tracing::debug!(user = %finished.user, outcome = ?finished.outcome, "credential trial finished");
        results.push(finished);
    }
    results.sort_by_key(|r| r.index);
    results
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// Guards: the Mirai list is read from the data file, comments skipped, duplicates removed.
    #[test]
    fn mirai_list_has_every_unique_pair_of_the_file() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/mirai-default-credentials.txt"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let pairs: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .collect();
        assert_eq!(pairs.len(), 62, "the list has 62 pairs");
        let unique: BTreeSet<&str> = pairs.iter().copied().collect();
        // The file repeats guest:12345 and admin:1234 (as Mirai's scanner.c does), so 60 remain.
        assert_eq!(unique.len(), 60);
        let creds = mirai_credentials();
        assert_eq!(creds.len(), unique.len(), "one entry per unique pair");
        assert!(
            creds.iter().any(|(u, p)| u == "root" && p.is_empty()),
            "'root:' is root with an empty password"
        );
        assert_eq!(
            (creds[0].0.as_str(), creds[0].1.expose()),
            ("root", "xc3511"),
            "file order is kept"
        );
    }

    /// Guards: `try_all` never runs more trials at once than asked, keeps order, and its results hold no secret.
    #[tokio::test]
    async fn try_all_respects_the_concurrency_bound() {
        let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let creds: Vec<(String, Secret)> = (0..20)
            .map(|i| (format!("user{i}"), Secret::new(format!("hunter2-{i}"))))
            .collect();
        let trial = |user: String, _password: Secret| {
            let (now, peak) = (now.clone(), peak.clone());
            async move {
                let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(running, Ordering::SeqCst);
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(if user == "user7" {
                    AuthOutcome::Accepted
                } else {
                    AuthOutcome::Refused
                })
            }
        };
        let results = try_all(trial, creds, 3).await;
        assert_eq!(peak.load(Ordering::SeqCst), 3, "three at once, never more");
        assert_eq!(results.len(), 20);
        assert!(results
            .iter()
            .enumerate()
            .all(|(i, r)| r.index == i && r.user == format!("user{i}")));
        assert_eq!(
            results
                .iter()
                .filter(|r| r.accepted())
                .map(|r| r.index)
                .collect::<Vec<_>>(),
            [7]
        );
        assert!(
            !format!("{results:?}").contains("hunter2"),
            "Debug output holds no password"
        );
    }
}
