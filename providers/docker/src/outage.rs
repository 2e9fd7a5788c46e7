//! Whether the engine is away, and what to log about it: the change of state once each way,
//! not every read that fails meanwhile (a `make` over the mount can try thousands a second).

use parking_lot::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
enum State {
    #[default]
    Present,
    Away {
        since: Instant,
        failed_reads: u64,
    },
}

/// The end of an outage, for the one line that reports it.
#[derive(Debug, PartialEq, Eq)]
pub struct Returned {
    pub away_for: Duration,
    pub failed_reads: u64,
}

/// Shared by the reads and the watcher: either may be the first to notice either change.
#[derive(Debug, Default)]
pub struct Outage {
    state: Mutex<State>,
}

impl Outage {
    fn state(&self) -> parking_lot::MutexGuard<'_, State> {
        self.state.lock()
    }

    /// The engine could not be reached (its event stream broke, say). True when this starts
    /// an outage: the caller logs it; later calls until [`Outage::back`] are silent.
    pub fn lost(&self, now: Instant) -> bool {
        let mut state = self.state();
        match *state {
            State::Present => {
                *state = State::Away {
                    since: now,
                    failed_reads: 0,
                };
                true
            }
            State::Away { .. } => false,
        }
    }

    /// A read failed because the engine could not be reached: counted for the report at its
    /// return. True when this read is the first sign of the outage (the caller logs it).
    pub fn read_failed(&self, now: Instant) -> bool {
        let started = self.lost(now);
        if let State::Away { failed_reads, .. } = &mut *self.state() {
            *failed_reads += 1;
        }
        started
    }

    /// The engine answered. The outage's figures when this ends one, for the caller to log.
    pub fn back(&self, now: Instant) -> Option<Returned> {
        match std::mem::take(&mut *self.state()) {
            State::Present => None,
            State::Away {
                since,
                failed_reads,
            } => Some(Returned {
                away_for: now.saturating_duration_since(since),
                failed_reads,
            }),
        }
    }
}

impl std::fmt::Display for Returned {
    /// `back after 12.3 s; 2,289 reads failed while it was away`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reads = match self.failed_reads {
            1 => "1 read".to_string(),
            count => format!("{} reads", thousands(count)),
        };
        write!(
            f,
            "back after {:.1} s; {reads} failed while it was away",
            self.away_for.as_secs_f64()
        )
    }
}

/// `2289` as `2,289`.
fn thousands(count: u64) -> String {
    let digits = count.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_told_once_each_way_with_the_reads_it_failed() {
        let outage = Outage::default();
        let start = Instant::now();
        assert_eq!(outage.back(start), None, "nothing to report while present");
        // The watcher notices first; 2,289 reads fail meanwhile, none of them is logged.
        assert!(outage.lost(start));
        assert!(!outage.lost(start + Duration::from_millis(5)));
        let logged = (0..2289)
            .filter(|_| outage.read_failed(start + Duration::from_secs(1)))
            .count();
        assert_eq!(logged, 0);
        let returned = outage.back(start + Duration::from_millis(12_340)).unwrap();
        assert_eq!(
            returned.to_string(),
            "back after 12.3 s; 2,289 reads failed while it was away"
        );
        assert_eq!(outage.back(start + Duration::from_secs(13)), None);

        // A read notices first: it is the one logged, and counted.
        let later = start + Duration::from_secs(20);
        assert!(outage.read_failed(later));
        assert!(!outage.read_failed(later));
        assert!(!outage.lost(later));
        assert_eq!(
            outage.back(later + Duration::from_millis(50)),
            Some(Returned {
                away_for: Duration::from_millis(50),
                failed_reads: 2
            })
        );
    }

    #[test]
    fn counts_read_with_thousands_separators() {
        let cases = [
            (0, "0 reads"),
            (1, "1 read"),
            (999, "999 reads"),
            (1000, "1,000 reads"),
            (1_234_567, "1,234,567 reads"),
        ];
        for (failed_reads, text) in cases {
            let returned = Returned {
                away_for: Duration::from_millis(100),
                failed_reads,
            };
            assert_eq!(
                returned.to_string(),
                format!("back after 0.1 s; {text} failed while it was away")
            );
        }
    }
}
