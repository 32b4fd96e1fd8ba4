//! The CPU time the calling thread has used: unlike the wall clock, it does not advance while
//! the thread waits for a core (another task on it, the hypervisor taking it).

use std::time::Duration;

/// The calling thread's CPU time so far, `None` when the system cannot tell.
pub fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we own; CLOCK_THREAD_CPUTIME_ID is a
    // valid clock on Linux.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(ts.tv_sec).ok()?,
        u32::try_from(ts.tv_nsec).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spinning uses CPU time; sleeping does not.
    #[test]
    fn counts_running_not_waiting() {
        let before = thread_cpu_time().unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let slept = thread_cpu_time().unwrap() - before;
        assert!(slept < Duration::from_millis(10), "sleeping used {slept:?}");
        // Spin until the clock shows 20 ms of running, or give up after 5 s of wall time: on a
        // loaded machine the thread waits for a core part of the time, which must not count,
        // so spinning for a fixed wall time cannot promise 20 ms of CPU.
        let start = std::time::Instant::now();
        let spinning = thread_cpu_time().unwrap();
        while thread_cpu_time().unwrap() - spinning < Duration::from_millis(20)
            && start.elapsed() < Duration::from_secs(5)
        {
            std::hint::spin_loop();
        }
        let spun = thread_cpu_time().unwrap() - before - slept;
        assert!(spun >= Duration::from_millis(20), "spinning used {spun:?}");
    }
}
