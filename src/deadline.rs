//! The poll-deadline timer: marks a group's partitions lost when its
//! consumer stopped polling for longer than its deadline.
//!
//! One thread per process (`kat-deadline`), started when the first deadline
//! is armed and ended when no armed group is left. Poll marks never talk to
//! it (a mark is a clock read and two plain stores): the timer sleeps until
//! the earliest deadline among armed groups (last poll mark + deadline), and
//! on waking re-reads each group's last mark. A group that polls in time
//! costs the timer one wake-up per deadline period. One that did not is
//! expired (status `lost`, history kind `expired`, recorded from the timer
//! thread); until its next
//! poll mark, the timer looks at it every `min(deadline / 2, 100 ms)`, so
//! the deadline that runs from that mark is always watched in time.
//!
//! The timer holds groups weakly: a tracker that is dropped, or a group
//! whose last `Group` value is dropped, leaves the timer's list (the latter
//! also disarms its deadline).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError, Weak};
use std::time::Duration;

use crate::error::Error;
use crate::fork::ForkState;
use crate::runtime::{mono_ns, GroupRuntime};
use crate::tracker::{Group, WeakGroup};

struct Entry {
    group: WeakGroup,
    runtime: Weak<GroupRuntime>,
}

struct State {
    entries: Vec<Entry>,
    running: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    entries: Vec::new(),
    running: false,
});
static WAKE: Condvar = Condvar::new();
/// Whether `STATE` was held at the fork that created this process
/// (`src/fork.rs`).
static FORK: ForkState = ForkState::at_start();

fn lock() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// True in a process forked while another thread held the timer's state
/// (the timer thread between two sleeps, or a group arming): no deadline
/// can be armed or watched here. The first call after a fork that finds the
/// state free marks the timer as not running, since the parent's timer
/// thread was not copied: the next deadline armed in the child starts one.
fn forked() -> bool {
    FORK.held(|| match STATE.try_lock() {
        Ok(mut st) => {
            st.running = false;
            0
        }
        Err(TryLockError::Poisoned(p)) => {
            p.into_inner().running = false;
            0
        }
        Err(TryLockError::WouldBlock) => 1,
    }) != 0
}

/// `Err(Forked)` where no deadline can be armed (see `forked`).
pub(crate) fn usable() -> Result<(), Error> {
    if forked() {
        return Err(crate::fork::forked("arming a poll deadline"));
    }
    Ok(())
}

/// Longest wait before the timer looks again at an expired group.
const RECHECK_MAX_NS: u64 = 100_000_000;

/// Wakes the timer so it re-reads deadlines and poll marks.
pub(crate) fn wake() {
    if forked() {
        // No timer can run in this process.
        return;
    }
    let _st = lock();
    WAKE.notify_all();
}

/// Adds the group to the timer's list (once) and starts the timer thread if
/// it is not running. Called after the group's deadline was stored.
pub(crate) fn arm(group: &Group) {
    if forked() {
        return;
    }
    let mut st = lock();
    let rt = Arc::downgrade(group.runtime());
    if !st.entries.iter().any(|e| Weak::ptr_eq(&e.runtime, &rt)) {
        st.entries.push(Entry {
            group: group.downgrade(),
            runtime: rt,
        });
    }
    if !st.running {
        let spawned = std::thread::Builder::new()
            .name("kat-deadline".into())
            .spawn(run);
        // Without a thread no deadline can fire; the entry stays and the
        // next arm retries.
        st.running = spawned.is_ok();
    }
    WAKE.notify_all();
}

/// A group whose deadline passed: expire it outside the timer's lock.
struct Due {
    group: Group,
    mark: u64,
    at: u64,
}

fn run() {
    let mut st = lock();
    loop {
        let now = mono_ns();
        let mut next: Option<u64> = None;
        let mut due: Vec<Due> = Vec::new();
        st.entries.retain(|e| {
            let Some(runtime) = e.runtime.upgrade() else {
                return false;
            };
            // Held by the tracker's registry and by `runtime` only: no
            // `Group` value of this name is left, nobody can poll it.
            if Arc::strong_count(&runtime) <= 2 {
                runtime.deadline_ns.store(0, Ordering::Release);
                return false;
            }
            let deadline = runtime.deadline_ns.load(Ordering::Acquire);
            if deadline == 0 {
                return false;
            }
            let mark = runtime.last_poll_raw();
            if runtime.expired_mark.load(Ordering::Relaxed) == mark {
                // Expired at this mark: look again for a newer one soon.
                let recheck = (deadline / 2).clamp(1, RECHECK_MAX_NS);
                next = Some(next.map_or(now + recheck, |n| n.min(now + recheck)));
                return true;
            }
            let at = mark.saturating_sub(1).saturating_add(deadline);
            if at > now {
                next = Some(next.map_or(at, |n| n.min(at)));
                return true;
            }
            match e.group.upgrade(runtime) {
                Some(group) => {
                    due.push(Due { group, mark, at });
                    true
                }
                // The tracker is gone.
                None => false,
            }
        });
        if st.entries.is_empty() {
            st.running = false;
            return;
        }
        if !due.is_empty() {
            drop(st);
            for d in due {
                expire(d);
            }
            st = lock();
            continue;
        }
        st = match next {
            Some(at) => {
                WAKE.wait_timeout(st, Duration::from_nanos(at.saturating_sub(now)))
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
            None => WAKE.wait(st).unwrap_or_else(|p| p.into_inner()),
        };
    }
}

fn expire(d: Due) {
    let rt = d.group.runtime();
    rt.expired_mark.store(d.mark, Ordering::Relaxed);
    if d.group.expire() {
        let late = mono_ns().saturating_sub(d.at);
        rt.last_expiry_late_ns.store(late, Ordering::Relaxed);
        rt.expirations.fetch_add(1, Ordering::Release);
    }
}
