//! What a process created by `fork()` inherits of kat, and what it can do
//! with it.
//!
//! `fork()` copies the calling thread only. A lock that another thread held
//! at that instant stays locked forever in the child: nobody is left to
//! release it, and the next `lock()` in the child waits for ever. kat's
//! locks are the writers' lock and the change-signal lock of each tracker,
//! each tracker's per-group runtime registry, and the poll-deadline timer's
//! state (one per process). Readers take none of them.
//!
//! How the child finds out, without costing the parent anything but two
//! plain loads per lock taken:
//!
//! - A `pthread_atfork` child handler, registered when the first tracker is
//!   created, advances a process-wide fork generation. It runs in the child
//!   before `fork()` returns there, while the child has a single thread, and
//!   only does one atomic add (async-signal-safe).
//! - Each lock set ([`ForkState`]: one per tracker, one for the timer)
//!   remembers the fork generation it last looked at. Before taking one of
//!   its locks, a thread compares that with the process's generation; equal
//!   (always, in a process that never forked) means nothing to do.
//! - The first thread of a child to see a new generation wins a
//!   compare-exchange that marks the set as being inspected, probes each of
//!   its locks with `try_lock` and stores which were held: those (and only
//!   those) were held by threads that do not exist in the child, since no
//!   thread of the child can take one before the inspection ends (every
//!   lock site checks first; other threads wait for the inspection, which is
//!   a few `try_lock` calls). The result is final for the life of the child.
//!
//! What a held lock means to its users is decided at each lock site
//! (`src/tracker.rs`, `src/deadline.rs`; the README's "fork()" section):
//! the tracker's writers' lock held means no event can be applied in the
//! child ([`ErrorKind::Forked`]); reads never lock and keep working.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, TryLockError};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind};

/// Forks this process went through (advanced in each child).
static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTERED: AtomicBool = AtomicBool::new(false);

/// The child half of `pthread_atfork`: one atomic add, nothing else (the
/// child may be running inside a signal handler's fork).
extern "C" fn in_child() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// Registers the child handler once per process. Called when a tracker is
/// created (no lock of kat exists before one is).
pub(crate) fn register() {
    if REGISTERED.load(Ordering::Acquire) || REGISTERED.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: `in_child` is a plain `extern "C" fn()` that never unwinds
    // and only touches an atomic; registration can only fail for lack of
    // memory, and then a forked child behaves as before this module.
    unsafe {
        libc::pthread_atfork(None, None, Some(in_child));
    }
}

/// A tracker's lock bits (`Inner::forked` in `src/tracker.rs`).
pub(crate) const WRITER: u64 = 1;
pub(crate) const CHANGED: u64 = 2;
pub(crate) const RUNTIMES: u64 = 4;
pub(crate) const RELEASED: u64 = 8;

/// The word of a lock set: `generation << 8 | INSPECTING? | held bits`.
const INSPECTING: u64 = 0x80;
const HELD: u64 = 0x7f;

/// One lock set's view of the forks it went through: which of its locks
/// (bits chosen by its owner, up to seven) a thread that `fork()` did not
/// copy held when this process was created.
pub(crate) struct ForkState {
    word: AtomicU64,
}

impl ForkState {
    /// A lock set in a `static` (it exists from the process's start: a
    /// child inherits it with the rest of its parent's memory).
    pub(crate) const fn at_start() -> ForkState {
        ForkState {
            word: AtomicU64::new(0),
        }
    }

    /// A lock set created in this process: nothing held by anyone gone.
    pub(crate) fn new() -> ForkState {
        ForkState {
            word: AtomicU64::new(GENERATION.load(Ordering::SeqCst) << 8),
        }
    }

    /// The locks of this set (bits) held at the fork that created this
    /// process by threads that do not exist in it; 0 in a process that
    /// never forked. `probe` is called once per fork, in the child, by the
    /// first caller, and returns the bits of the locks `try_lock` finds
    /// held (it may also repair what the owner knows is stale, under the
    /// locks it acquired).
    #[inline]
    pub(crate) fn held(&self, probe: impl FnOnce() -> u64) -> u64 {
        let generation = GENERATION.load(Ordering::SeqCst);
        let word = self.word.load(Ordering::SeqCst);
        if word >> 8 == generation && word & INSPECTING == 0 {
            return word & HELD;
        }
        self.held_slow(generation, probe)
    }

    #[cold]
    fn held_slow(&self, generation: u64, probe: impl FnOnce() -> u64) -> u64 {
        let mut probe = Some(probe);
        let mut word = self.word.load(Ordering::SeqCst);
        loop {
            if word >> 8 == generation {
                if word & INSPECTING == 0 {
                    return word & HELD;
                }
                // Another thread of this child is inspecting: a few
                // `try_lock` calls.
                std::thread::yield_now();
                word = self.word.load(Ordering::SeqCst);
                continue;
            }
            // A fork since this set last looked. (In a grandchild, locks
            // held at the first fork are still held: the bits accumulate.)
            let inspecting = generation << 8 | INSPECTING | (word & HELD);
            match self
                .word
                .compare_exchange(word, inspecting, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => {
                    let found = probe.take().map_or(0, |p| p()) & HELD;
                    let held = (word & HELD) | found;
                    self.word.store(generation << 8 | held, Ordering::SeqCst);
                    return held;
                }
                Err(now) => word = now,
            }
        }
    }
}

/// The error of an operation that needs a lock held at the fork that
/// created this process.
pub(crate) fn forked(what: &str) -> Error {
    Error::new(
        ErrorKind::Forked,
        format!(
            "{what}: this process was forked while another thread of its parent was changing \
             the tracker; here it can be read but not changed (fork before creating consumers, \
             or exec)"
        ),
    )
}

/// Waits until `done` or `deadline` (`None`: for ever), looking every
/// millisecond: how waits that would take a lock held at the fork wait in
/// the child instead. Returns `done()` at the end.
pub(crate) fn poll_until(deadline: Option<Instant>, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return done();
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether `try_lock` finds `lock` held (a poisoned lock is free).
pub(crate) fn is_held<T>(lock: &Mutex<T>) -> bool {
    matches!(lock.try_lock(), Err(TryLockError::WouldBlock))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_that_never_forked_sees_nothing_held_and_never_probes() {
        let s = ForkState::new();
        assert_eq!(s.held(|| panic!("no fork, no probe")), 0);
    }

    #[test]
    fn a_new_generation_is_probed_once_and_bits_accumulate() {
        let s = ForkState::new();
        let g = GENERATION.load(Ordering::SeqCst);
        // As if the set had last looked one fork ago.
        s.word
            .store((g.wrapping_sub(1) << 8) | 0b10, Ordering::SeqCst);
        let mut probes = 0;
        assert_eq!(
            s.held(|| {
                probes += 1;
                0b01
            }),
            0b11
        );
        assert_eq!(s.held(|| panic!("probed once")), 0b11);
        assert_eq!(probes, 1);
        let e = forked("applying an event");
        assert_eq!(e.kind(), ErrorKind::Forked);
        assert!(e
            .to_string()
            .contains("applying an event: this process was forked"));
    }

    #[test]
    fn is_held_tells_a_held_lock_from_a_free_or_poisoned_one() {
        let m = Mutex::new(0);
        assert!(!is_held(&m));
        let g = m.lock().expect("lock");
        // From another thread: `try_lock` on a lock this thread holds is
        // unspecified.
        std::thread::scope(|s| {
            s.spawn(|| assert!(is_held(&m)));
        });
        drop(g);
        let _ = std::panic::catch_unwind(|| {
            let _g = m.lock().expect("lock");
            panic!("poison");
        });
        assert!(m.is_poisoned());
        assert!(!is_held(&m));
    }
}
