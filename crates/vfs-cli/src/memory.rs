//! The serving process's memory and glibc's allocator: fewer arenas, and freed memory given
//! back to the system once the mount has worked (docs/benchmarks.md, "Soak").
//!
//! glibc's malloc returns memory to the system only from the top of an arena. Memory freed
//! below a block still in use stays resident: in the soak of DockerFS (tags and containers
//! made and removed under a looping `make`) the live heap stayed flat (heaptrack) while the
//! arenas' resident pages kept growing, slowly, with every burst of work. `malloc_trim` gives
//! back every whole free page of every arena (`madvise(MADV_DONTNEED)`), but it walks every
//! free chunk with the arena locked: ~40-100 ms for a heap of 200,000 small holes, a stall of
//! every request meanwhile. So the mount trims once it goes quiet after working, not while it
//! is busy (where a freed page is soon used again anyway), and at least every few minutes of
//! steady work.

use std::time::{Duration, Instant};

/// How often the mount looks whether it should give memory back.
pub(crate) const TRIM_EVERY: Duration = Duration::from_secs(10);

/// CPU time since the last trim that counts as work worth a trim: an idle mount (a few timer
/// wake-ups) is not trimmed again and again.
pub(crate) const WORK_WORTH_A_TRIM: Duration = Duration::from_millis(10);

/// CPU time in the last [`TRIM_EVERY`] under which the mount counts as quiet (1%).
pub(crate) const QUIET: Duration = Duration::from_millis(100);

/// A mount that is never quiet is still trimmed this often.
pub(crate) const TRIM_AT_LEAST_EVERY: Duration = Duration::from_secs(300);

/// glibc gives every thread that allocates its own malloc arena and keeps freed memory there:
/// with the runtime's worker threads that was about 25 MiB of the RSS of a mount of 10,000
/// Docker images (docs/benchmarks.md). Two arenas keep most of the parallelism. Must run
/// before any thread exists.
pub(crate) fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; no other thread exists yet.
    unsafe {
        if libc::mallopt(libc::M_ARENA_MAX, 2) != 1 {
            eprintln!("warning: could not limit malloc arenas");
        }
    }
}

/// Gives the memory freed in every malloc arena back to the system; true when some was.
pub(crate) fn give_back_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes each arena's lock itself; it only releases free pages.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// CPU time this process has used, all threads together.
fn process_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// Whether to trim now: the process has worked since the last trim (`worked`: its CPU time
/// since then), and it has gone quiet (`last_tick`: its CPU time over the last
/// [`TRIM_EVERY`]) or the last trim is [`TRIM_AT_LEAST_EVERY`] old (`since_trim`).
pub(crate) fn time_to_trim(worked: Duration, last_tick: Duration, since_trim: Duration) -> bool {
    worked >= WORK_WORTH_A_TRIM && (last_tick < QUIET || since_trim >= TRIM_AT_LEAST_EVERY)
}

/// Every [`TRIM_EVERY`], gives freed memory back when [`time_to_trim`] says so (runs for as
/// long as the mount serves; dropped with its task).
pub(crate) async fn give_back_after_work() {
    let mut ticks = tokio::time::interval(TRIM_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    let mut trimmed = (process_cpu_time(), Instant::now());
    let mut ticked = trimmed.0;
    loop {
        ticks.tick().await;
        let now = process_cpu_time();
        let last_tick = now.saturating_sub(ticked);
        ticked = now;
        if time_to_trim(
            now.saturating_sub(trimmed.0),
            last_tick,
            trimmed.1.elapsed(),
        ) {
            let started = Instant::now();
            let gave = give_back_freed_memory();
            tracing::debug!("gave freed memory back ({gave}) in {:?}", started.elapsed());
            // After the trim: its own CPU time is not work.
            ticked = process_cpu_time();
            trimmed = (ticked, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anonymous_resident_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("RssAnon:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    #[test]
    fn a_mount_is_trimmed_once_quiet_after_work_never_idle_and_seldom_busy() {
        let ms = Duration::from_millis;
        let idle = ms(1);
        let busy = ms(2_000);
        // Idle since the last trim: nothing was freed.
        assert!(!time_to_trim(idle, idle, ms(60_000)));
        assert!(!time_to_trim(idle, idle, TRIM_AT_LEAST_EVERY * 10));
        // Worked, and the last tick was quiet: trim.
        assert!(time_to_trim(busy, idle, TRIM_EVERY));
        assert!(time_to_trim(WORK_WORTH_A_TRIM, QUIET - ms(1), TRIM_EVERY));
        // Still busy: not yet, unless the last trim is old.
        assert!(!time_to_trim(busy, busy, TRIM_EVERY));
        assert!(!time_to_trim(busy, QUIET, TRIM_AT_LEAST_EVERY - ms(1)));
        assert!(time_to_trim(busy, busy, TRIM_AT_LEAST_EVERY));
    }

    #[test]
    fn cpu_time_counts_up() {
        let before = process_cpu_time();
        let mut spin = 0u64;
        while process_cpu_time() < before + Duration::from_millis(20) {
            spin = spin.wrapping_add(1);
        }
        assert!(
            process_cpu_time() >= before + Duration::from_millis(20),
            "{spin}"
        );
    }

    /// What the soak showed, in small: memory freed below a block still in use stays resident
    /// until trimmed.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn freed_memory_below_a_live_block_goes_back_when_trimmed() {
        // 32 MiB in blocks far below glibc's mmap threshold, each page written.
        let mut blocks: Vec<Vec<u8>> = (0..8192).map(|_| vec![1u8; 4000]).collect();
        let kept = vec![2u8; 4000]; // above them in the arena: the top cannot shrink
        let held = anonymous_resident_kib();
        blocks.clear();
        blocks.shrink_to_fit();
        let freed = anonymous_resident_kib();
        give_back_freed_memory();
        let trimmed = anonymous_resident_kib();
        assert_eq!(kept[0], 2);
        assert!(
            freed + 8 * 1024 > held,
            "freeing alone gave back more than expected: {held} -> {freed} KiB"
        );
        assert!(
            trimmed + 24 * 1024 < freed,
            "the trim gave back less than 24 of the 32 MiB freed: {freed} -> {trimmed} KiB"
        );
    }
}
