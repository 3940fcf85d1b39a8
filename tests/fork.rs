//! fork(): a child never hangs on what its parent's other threads held.
//! Each child runs a few kat calls and exits with a code the parent checks;
//! the parent kills a child that has not exited after a timeout (a hang)
//! and fails the test.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kat::{ErrorKind, Tracker};

/// Exit codes of the children.
const APPLIED: i32 = 0;
const REFUSED_FORKED: i32 = 1;
const WRONG: i32 = 2;

/// Forks; the child runs `child` and `_exit`s with its code (a panic is
/// `WRONG`). The parent waits up to `timeout` and returns the code, or
/// kills the child and panics.
fn in_child(timeout: Duration, child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs kat calls and `_exit` (no destructors, no
    // buffered output of the test harness).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(WRONG);
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(code) };
    }
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(r >= 0, "waitpid failed");
        if r == pid {
            assert!(
                libc::WIFEXITED(status),
                "child ended abnormally (status {status:#x})"
            );
            return libc::WEXITSTATUS(status);
        }
        if start.elapsed() > timeout {
            // SAFETY: our own child, still running.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the forked child hung (killed after {timeout:?})");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One event in the child: applied (and then read back), or refused with
/// `Forked` (and then nothing changed, and reads still work).
fn child_event(t: &Tracker, g: &kat::Group) -> i32 {
    // From a snapshot: a parent thread forked between publishing a snapshot
    // and storing its epoch leaves `epoch()` one behind until then.
    let epoch = t.snapshot().epoch();
    let before = t.generation("busy", "child", 7);
    match g.assigned([("child", 7)]) {
        Ok(true) if g.is_assigned("child", 7) && t.generation("busy", "child", 7) == before + 1 => {
            APPLIED
        }
        Err(e) if e.kind() == ErrorKind::Forked => {
            let unchanged = t.epoch() == epoch && t.generation("busy", "child", 7) == before;
            // The other calls that need the writers' lock say so too.
            let refused = t.writable().is_err()
                && g.partition("child", 7).is_err()
                && !g.lost()
                && !t.clear()
                && g.set_poll_deadline(Duration::from_secs(60), Duration::ZERO)
                    .is_err_and(|e| e.kind() == ErrorKind::Forked)
                && e.to_string().contains("forked");
            // Reads still work: the snapshot is whole.
            let reads = t.snapshot().epoch() == t.epoch();
            if unchanged && refused && reads {
                REFUSED_FORKED
            } else {
                WRONG
            }
        }
        _ => WRONG,
    }
}

/// A child forked while another thread applies events in a loop returns
/// from its first event (applied, or refused as `Forked`) and never hangs,
/// in each of 20 tries.
#[test]
fn a_child_forked_during_events_returns_from_its_first_event() {
    let t = Tracker::new();
    let g = t.group("busy").expect("group");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let g = g.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let p = i % 64;
                g.assigned([("orders", p), ("payments", p)])
                    .expect("assign");
                g.revoked([("orders", p)]).expect("revoke");
                i += 1;
            }
        })
    };
    let (mut applied, mut refused) = (0, 0);
    for _ in 0..20 {
        // Let the writer run a little between forks.
        std::thread::sleep(Duration::from_millis(3));
        match in_child(Duration::from_secs(10), || child_event(&t, &g)) {
            APPLIED => applied += 1,
            REFUSED_FORKED => refused += 1,
            code => panic!("child exited with {code}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    eprintln!("20 forks during events: {applied} applied, {refused} refused (Forked)");
    // The parent is untouched by its children.
    assert!(t.writable().is_ok());
    assert!(g.assigned([("parent", 0)]).expect("assign"));
}

/// A child forked with no kat call in flight works as any process: events,
/// handles, waits, clear.
#[test]
fn a_child_forked_with_no_event_in_flight_works_normally() {
    let t = Tracker::new();
    let g = t.group("quiet").expect("group");
    g.assigned([("orders", 0)]).expect("assign");
    let code = in_child(Duration::from_secs(10), || {
        let ok = t.writable().is_ok()
            && g.assigned([("orders", 1)]).expect("assign")
            && g.generation("orders", 1) == 1
            && g.partition("orders", 1)
                .is_ok_and(|h| h.state().is_assigned())
            && t.group("another").is_ok()
            && g.revoked([("orders", 0)]).expect("revoke")
            && t.wait_for_change(t.epoch() - 1, Duration::from_secs(1)) == t.epoch()
            && t.clear()
            && t.generation("quiet", "orders", 1) == 0;
        if ok {
            APPLIED
        } else {
            WRONG
        }
    });
    assert_eq!(code, APPLIED);
    // The child's events stayed in the child.
    assert!(g.is_assigned("orders", 0));
    assert_eq!(g.generation("orders", 1), 0);
}

/// A thread parked in `wait_for_change` at the fork holds no lock (the
/// wait releases it): the child can apply events, and its own waiters are
/// woken by them.
#[test]
fn a_waiter_parked_at_the_fork_does_not_make_the_child_read_only() {
    let t = Tracker::new();
    let g = t.group("watched").expect("group");
    let waiter = {
        let t = t.clone();
        std::thread::spawn(move || t.wait_for_change(t.epoch(), Duration::from_secs(30)))
    };
    // Give the waiter time to park.
    std::thread::sleep(Duration::from_millis(200));
    let code = in_child(Duration::from_secs(10), || {
        let epoch = t.epoch();
        let woken = std::thread::scope(|s| {
            let w = s.spawn(|| t.wait_for_change(epoch, Duration::from_secs(5)));
            std::thread::sleep(Duration::from_millis(50));
            let applied = g.assigned([("orders", 0)]).expect("assign");
            applied && w.join().expect("waiter") == epoch + 1
        });
        if woken {
            APPLIED
        } else {
            WRONG
        }
    });
    assert_eq!(code, APPLIED);
    g.assigned([("orders", 0)]).expect("assign");
    assert_eq!(waiter.join().expect("waiter"), 1);
}

/// The poll-deadline timer thread is not copied by fork: a deadline armed
/// in the child starts the child's own timer, which expires it there.
#[test]
fn a_deadline_armed_in_a_child_is_watched_by_the_childs_own_timer() {
    let t = Tracker::new();
    let parent = t.group("parent-deadline").expect("group");
    // A timer thread runs in the parent.
    parent
        .set_poll_deadline(Duration::from_secs(600), Duration::ZERO)
        .expect("arm");
    let g = t.group("child-deadline").expect("group");
    g.assigned([("orders", 0)]).expect("assign");
    let code = in_child(Duration::from_secs(20), || {
        g.set_poll_deadline(Duration::from_millis(100), Duration::ZERO)
            .expect("arm in the child");
        // Nobody polls: the child's timer marks the partition lost.
        let start = Instant::now();
        while g.is_assigned("orders", 0) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !g.is_assigned("orders", 0) && g.poll_stats().expirations == 1 {
            APPLIED
        } else {
            WRONG
        }
    });
    assert_eq!(code, APPLIED);
    assert!(g.is_assigned("orders", 0));
    parent
        .set_poll_deadline(Duration::ZERO, Duration::ZERO)
        .expect("disarm");
}
