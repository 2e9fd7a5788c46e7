//! The serving process's memory and glibc's allocator: fewer arenas, and freed memory given
//! back to the system once the mount has worked (docs/benchmarks.md, "Soak").
//!
//! glibc's malloc returns memory to the system only from the top of an arena. Memory freed
//! below a block still in use stays resident: in the soak of DockerFS (tags and containers
//! made and removed under a looping `make`) the live heap stayed flat (heaptrack) while the
//! arenas' resident pages kept growing, slowly, with every burst of work. `malloc_trim` gives
//! back every whole free page of every arena (`madvise(MADV_DONTNEED)`); it is cheap for a
//! heap of a few MiB, and a no-op when nothing was freed.

use std::time::Duration;

/// How often the mount looks whether it has worked since it last gave memory back.
pub(crate) const TRIM_EVERY: Duration = Duration::from_secs(10);

/// CPU time since the last trim that counts as work worth a trim: an idle mount (a few timer
/// wake-ups) is not trimmed again and again.
pub(crate) const WORK_WORTH_A_TRIM: Duration = Duration::from_millis(10);

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

/// Whether the process has worked enough since the last trim (`used` CPU time) to trim again.
pub(crate) fn worth_a_trim(used: Duration) -> bool {
    used >= WORK_WORTH_A_TRIM
}

/// Every [`TRIM_EVERY`], gives freed memory back if the process has worked since the last time
/// (runs for as long as the mount serves; dropped with its task).
pub(crate) async fn give_back_after_work() {
    let mut ticks = tokio::time::interval(TRIM_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    let mut last = process_cpu_time();
    loop {
        ticks.tick().await;
        if worth_a_trim(process_cpu_time().saturating_sub(last)) {
            let gave = give_back_freed_memory();
            tracing::trace!("gave freed memory back: {gave}");
            // After the trim: its own CPU time is not work.
            last = process_cpu_time();
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
    fn an_idle_mount_is_not_trimmed_a_busy_one_is() {
        assert!(!worth_a_trim(Duration::ZERO));
        assert!(!worth_a_trim(Duration::from_millis(1)));
        assert!(worth_a_trim(WORK_WORTH_A_TRIM));
        assert!(worth_a_trim(Duration::from_secs(3)));
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
