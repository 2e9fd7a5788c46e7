//! Engine churn: a steady stream of engine events (a throwaway tag applied and removed again,
//! over and over) while a test measures something else. Bounded in time and count, and cleaned
//! up when dropped, even when the test fails.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const SOCKET: &str = "/var/run/docker.sock";
const WORKERS: u32 = 3;

/// A background thread tagging `image` as `REPO:N` and untagging it again, each a single engine
/// event, at about `per_second` events a second (through the engine's API, not the CLI, whose
/// start-up alone takes longer than the gap between two events).
pub struct Churn {
    stop: Arc<AtomicBool>,
    events: Arc<AtomicU64>,
    started: Instant,
    threads: Vec<JoinHandle<()>>,
    repo: String,
}

impl Churn {
    /// Starts churning on `image` (an id or reference) with tags of repository `repo` (which
    /// must be the test's own). Stops by itself after `limit`.
    pub fn start(image: &str, repo: &str, per_second: u32, limit: Duration) -> Churn {
        let stop = Arc::new(AtomicBool::new(false));
        let events = Arc::new(AtomicU64::new(0));
        // Several workers, each with tags of its own: one request's latency on a busy engine
        // must not cap the rate.
        let threads = (0..WORKERS)
            .map(|worker| {
                let (image, repo) = (image.to_string(), repo.to_string());
                let (stop_seen, counted) = (stop.clone(), events.clone());
                std::thread::spawn(move || {
                    let gap = Duration::from_secs(u64::from(WORKERS)) / per_second.max(1);
                    let started = Instant::now();
                    let mut next = started;
                    let mut serial: u64 = 0;
                    while !stop_seen.load(Ordering::Relaxed) && started.elapsed() < limit {
                        let tag = format!("c{worker}x{}", (serial / 2) % 2);
                        let (method, path) = if serial % 2 == 0 {
                            ("POST", format!("/images/{image}/tag?repo={repo}&tag={tag}"))
                        } else {
                            ("DELETE", format!("/images/{repo}:{tag}"))
                        };
                        if request(method, &path).is_some_and(|status| status < 300) {
                            counted.fetch_add(1, Ordering::Relaxed);
                        }
                        serial += 1;
                        next += gap;
                        if let Some(wait) = next.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                    }
                })
            })
            .collect();
        Churn {
            stop,
            events,
            started: Instant::now(),
            threads,
            repo: repo.to_string(),
        }
    }

    /// Engine events caused so far, per second since the start.
    pub fn rate(&self) -> f64 {
        self.events.load(Ordering::Relaxed) as f64 / self.started.elapsed().as_secs_f64()
    }

    /// Engine events caused so far.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }
}

impl Drop for Churn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        for worker in 0..WORKERS {
            for tag in 0..2 {
                request("DELETE", &format!("/images/{}:c{worker}x{tag}", self.repo));
            }
        }
    }
}

/// One request to the engine's socket; its status code, `None` when it could not be made.
fn request(method: &str, path: &str) -> Option<u16> {
    let mut stream = UnixStream::connect(SOCKET).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let status = answer.get(9..12)?;
    std::str::from_utf8(status).ok()?.parse().ok()
}
