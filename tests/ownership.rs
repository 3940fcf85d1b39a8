//! Ownership that ends on time, through the Rust API: the poll deadline.

use std::thread;
use std::time::{Duration, Instant};

use kat::{ErrorKind, Status, Tracker};

/// Polls `f` until it is true or 10 s pass (the machine may be loaded).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what}: not after 10 s"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_group_that_stops_polling_is_expired_by_the_timer() {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    g.assigned([("a", 0), ("a", 1)]).unwrap();
    let h = g.partition("a", 1).unwrap();
    g.set_poll_deadline(Duration::from_millis(40), Duration::ZERO)
        .unwrap();
    let armed_at = Instant::now();
    g.mark_poll();
    eventually("expiry", || !h.state().is_assigned());
    assert!(armed_at.elapsed() >= Duration::from_millis(40));
    assert_eq!(h.state().status, Some(Status::Lost));
    assert_eq!(h.state().generation, 1);
    assert!(!t.is_assigned("g", "a", 0));
    let stats = g.poll_stats();
    assert_eq!(stats.expirations, 1);
    assert_eq!(stats.deadline, Some(Duration::from_millis(40)));
    assert!(stats.last_expiry_delay.is_some());
    assert_eq!(g.stats().lost_events, 1);
    // librdkafka's own lost revoke follows: it changes nothing more.
    assert!(!g.lost());
}

#[test]
fn a_group_that_polls_in_time_keeps_its_partitions() {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    g.assigned([("a", 0)]).unwrap();
    g.set_poll_deadline(Duration::from_millis(1000), Duration::ZERO)
        .unwrap();
    let epoch = t.epoch();
    for _ in 0..40 {
        g.mark_poll();
        thread::sleep(Duration::from_millis(5));
    }
    // Even a loaded machine polls every 5 ms well within a second: if this
    // ever fails, the timer expired a group that polled.
    assert!(t.is_assigned("g", "a", 0));
    assert_eq!(t.epoch(), epoch);
    assert_eq!(g.poll_stats().expirations, 0);
    assert!(g.poll_stats().polls >= 40);
}

#[test]
fn the_deadline_runs_again_from_the_next_poll_after_an_expiry() {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    g.assigned([("a", 0)]).unwrap();
    g.set_poll_deadline(Duration::from_millis(30), Duration::ZERO)
        .unwrap();
    eventually("first expiry", || !t.is_assigned("g", "a", 0));
    // The rebalance that follows assigns again, inside a poll.
    g.mark_poll();
    g.assigned([("a", 0)]).unwrap();
    assert_eq!(t.generation("g", "a", 0), 2);
    eventually("second expiry", || !t.is_assigned("g", "a", 0));
    assert_eq!(g.poll_stats().expirations, 2);
}

#[test]
fn the_margin_expires_earlier_and_must_be_below_the_interval() {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    let e = g
        .set_poll_deadline(Duration::from_millis(100), Duration::from_millis(100))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(g.poll_stats().deadline, None);
    g.set_poll_deadline(Duration::from_secs(3600), Duration::from_millis(3_599_970))
        .unwrap();
    assert_eq!(g.poll_stats().deadline, Some(Duration::from_millis(30)));
    g.assigned([("a", 0)]).unwrap();
    eventually("expiry 30 ms into a one-hour interval", || {
        !t.is_assigned("g", "a", 0)
    });
}

#[test]
fn a_disarmed_deadline_never_expires() {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    g.assigned([("a", 0)]).unwrap();
    // Armed long enough that disarming comes first even on a loaded machine.
    g.set_poll_deadline(Duration::from_millis(300), Duration::ZERO)
        .unwrap();
    g.set_poll_deadline(Duration::ZERO, Duration::ZERO).unwrap();
    assert_eq!(g.poll_stats().deadline, None);
    thread::sleep(Duration::from_millis(600));
    assert!(t.is_assigned("g", "a", 0));
    assert_eq!(g.poll_stats().expirations, 0);
}

#[test]
fn groups_expire_independently() {
    let t = Tracker::new();
    let fast = t.group("fast").unwrap();
    let slow = t.group("slow").unwrap();
    fast.assigned([("a", 0)]).unwrap();
    slow.assigned([("a", 0)]).unwrap();
    fast.set_poll_deadline(Duration::from_millis(20), Duration::ZERO)
        .unwrap();
    slow.set_poll_deadline(Duration::from_secs(3600), Duration::ZERO)
        .unwrap();
    eventually("fast expiry", || !t.is_assigned("fast", "a", 0));
    assert!(t.is_assigned("slow", "a", 0));
    assert_eq!(slow.poll_stats().expirations, 0);
}

#[test]
fn a_dropped_tracker_or_group_leaves_the_timer_alone() {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    g.assigned([("a", 0)]).unwrap();
    g.set_poll_deadline(Duration::from_millis(20), Duration::ZERO)
        .unwrap();
    drop(g);
    drop(t);
    thread::sleep(Duration::from_millis(60));
    // Another tracker still gets its expiries.
    let t2 = Tracker::new();
    let g2 = t2.group("g").unwrap();
    g2.assigned([("a", 0)]).unwrap();
    g2.set_poll_deadline(Duration::from_millis(20), Duration::ZERO)
        .unwrap();
    eventually("expiry after a dropped tracker", || {
        !t2.is_assigned("g", "a", 0)
    });
}

#[test]
fn a_token_pairs_the_partition_generation_with_the_broker_generation() {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    let h = g.partition("a", 0).unwrap();
    assert_eq!(h.token(), None);
    assert_eq!(g.broker_generation(), 0);
    assert_eq!(g.member_id(), None);
    g.record_broker_generation(7, Some("m-1"));
    g.assigned([("a", 0)]).unwrap();
    let token = h.token().unwrap();
    assert_eq!((token.generation, token.broker_generation), (1, 7));
    // Another value of the group shares the broker view; the epoch did not
    // move for it.
    let epoch = t.epoch();
    t.group("g").unwrap().record_broker_generation(8, None);
    assert_eq!(t.epoch(), epoch);
    assert_eq!(h.token().unwrap().broker_generation, 8);
    assert_eq!(g.member_id().as_deref().map(String::as_str), Some("m-1"));
    g.revoked([("a", 0)]).unwrap();
    assert_eq!(h.token(), None);
}

// ---- leases and the drain barrier ------------------------------------------

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[test]
fn a_lease_is_taken_only_at_the_owned_generation() {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    let h = g.partition("a", 0).unwrap();
    assert!(h.lease(0).is_none(), "never assigned");
    g.assigned([("a", 0)]).unwrap();
    assert!(h.lease(2).is_none(), "wrong generation");
    {
        let lease = h.lease(1).unwrap();
        assert!(lease.valid());
        assert_eq!(h.leases_held(), 1);
        let second = h.lease(1).unwrap();
        assert_eq!(second.generation(), 1);
        assert_eq!(h.leases_held(), 2);
    }
    assert_eq!(h.leases_held(), 0);
    g.revoked([("a", 0)]).unwrap();
    assert!(h.lease(1).is_none(), "revoked");
    assert_eq!(h.leases_held(), 0, "a failed acquire holds nothing");
}

#[test]
fn a_loss_invalidates_leases_at_once() {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    g.assigned([("a", 0)]).unwrap();
    g.set_drain_timeout(Duration::from_secs(5));
    let h = g.partition("a", 0).unwrap();
    let lease = h.lease(1).unwrap();
    g.lost();
    assert!(!lease.valid());
    // A reassignment does not revive a lease of the old generation.
    g.assigned([("a", 0)]).unwrap();
    assert!(!lease.valid());
}

#[test]
fn without_a_drain_timeout_drain_does_nothing() {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    g.assigned([("a", 0)]).unwrap();
    let h = g.partition("a", 0).unwrap();
    let _lease = h.lease(1).unwrap();
    assert_eq!(g.drain([("a", 0)]).unwrap(), None);
    assert!(t.is_assigned("g", "a", 0));
    assert_eq!(g.drain_stats().drains, 0);
}

#[test]
fn drain_revokes_at_once_and_waits_for_held_leases() {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    g.assigned([("a", 0), ("a", 1)]).unwrap();
    g.set_drain_timeout(Duration::from_secs(30));
    let h0 = g.partition("a", 0).unwrap();
    let released = Arc::new(AtomicBool::new(false));
    let worker = {
        let h0 = h0.clone();
        let t = t.clone();
        let released = released.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = thread::spawn(move || {
            let lease = h0.lease(1).unwrap();
            tx.send(()).unwrap();
            // Wait until the revoke is visible: the handle shows not owned,
            // a new lease fails, this one stays valid while draining.
            while t.is_assigned("g", "a", 0) {
                thread::sleep(Duration::from_millis(1));
            }
            assert!(!h0.state().is_assigned());
            assert!(h0.lease(1).is_none());
            assert!(lease.valid());
            thread::sleep(Duration::from_millis(50));
            released.store(true, Ordering::SeqCst);
            drop(lease);
        });
        rx.recv().unwrap();
        worker
    };
    let held = g.drain([("a", 0), ("a", 1)]).unwrap();
    assert_eq!(held, Some(0));
    assert!(
        released.load(Ordering::SeqCst),
        "drain returned before the release"
    );
    worker.join().unwrap();
    let stats = g.drain_stats();
    assert_eq!((stats.drains, stats.timeouts, stats.last_held), (1, 0, 0));
    assert_eq!(h0.state().status, Some(Status::Revoked));
    // The glue's record after the unassign call changes nothing more.
    assert!(!g.revoked([("a", 0), ("a", 1)]).unwrap());
}

#[test]
fn drain_reports_leases_held_at_the_timeout() {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    g.assigned([("a", 0)]).unwrap();
    g.set_drain_timeout(Duration::from_millis(20));
    let h = g.partition("a", 0).unwrap();
    let lease = h.lease(1).unwrap();
    assert_eq!(g.drain([("a", 0)]).unwrap(), Some(1));
    // The drain is over: the lease no longer entitles the work to act.
    assert!(!lease.valid());
    let stats = g.drain_stats();
    assert_eq!(
        (
            stats.drains,
            stats.timeouts,
            stats.last_held,
            stats.held_total
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(stats.timeout, Some(Duration::from_millis(20)));
    drop(lease);
    assert_eq!(h.leases_held(), 0);
}

#[test]
fn stats_json_reports_held_leases_glue_failures_and_polls() {
    let t = Tracker::new();
    let g = t.group("g/0").unwrap();
    assert_eq!(
        g.stats_json(),
        "{\"group\":\"g/0\",\"assigned_events\":0,\"revoked_events\":0,\"lost_events\":0,\"reset_events\":0,\"last_change_unix_ms\":0,\"glue_failures\":0,\"polls\":0,\"poll_deadline_ms\":null,\"since_last_poll_ms\":null,\"expirations\":0,\"drain_timeout_ms\":null,\"drains\":0,\"drain_timeouts\":0,\"drain_last_held\":0,\"drain_held_total\":0,\"broker_generation\":0,\"member_id\":null}"
    );
    g.assigned([("a", 0), ("a", 1)]).unwrap();
    g.set_drain_timeout(Duration::from_millis(20));
    let h0 = g.partition("a", 0).unwrap();
    let h1 = g.partition("a", 1).unwrap();
    let (l0, l1) = (h0.lease(1).unwrap(), h1.lease(1).unwrap());
    assert_eq!(g.drain([("a", 0), ("a", 1)]).unwrap(), Some(2));
    g.record_glue_failure();
    g.mark_poll();
    g.record_broker_generation(4, Some("m\"1"));
    let json = g.stats_json();
    for field in [
        "\"assigned_events\":1",
        "\"revoked_events\":1",
        "\"glue_failures\":1",
        "\"polls\":1",
        "\"drain_timeout_ms\":20",
        "\"drains\":1",
        "\"drain_timeouts\":1",
        "\"drain_last_held\":2",
        "\"drain_held_total\":2",
        "\"broker_generation\":4",
        "\"member_id\":\"m\\\"1\"}",
    ] {
        assert!(json.contains(field), "{field} missing from {json}");
    }
    assert!(json.contains("\"since_last_poll_ms\":"), "{json}");
    assert!(!json.contains("\"since_last_poll_ms\":null"), "{json}");
    drop((l0, l1));
}

#[test]
fn drain_rejects_a_bad_list_and_changes_nothing() {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    g.assigned([("a", 0)]).unwrap();
    g.set_drain_timeout(Duration::from_millis(20));
    assert_eq!(
        g.drain([("a", 0), ("bad topic", 0)]).unwrap_err().kind(),
        ErrorKind::InvalidTopic
    );
    assert!(t.is_assigned("g", "a", 0));
    assert_eq!(g.drain_stats().drains, 0);
}

// ---- being told ----------------------------------------------------------

#[test]
fn wait_not_owned_returns_when_ownership_at_the_generation_ends() {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    g.assigned([("a", 0)]).unwrap();
    let h = g.partition("a", 0).unwrap();
    assert!(
        !h.wait_not_owned(1, Duration::from_millis(20)),
        "still owned: times out"
    );
    assert!(
        h.wait_not_owned(2, Duration::ZERO),
        "not owned at another generation"
    );
    let waiter = {
        let h = h.clone();
        thread::spawn(move || h.wait_not_owned(1, Duration::from_secs(30)))
    };
    thread::sleep(Duration::from_millis(20));
    g.revoked([("a", 0)]).unwrap();
    assert!(waiter.join().unwrap());
}

#[test]
fn the_loss_notifier_hears_losses_not_assignments() {
    use std::sync::atomic::AtomicUsize;
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    g.set_loss_notifier(Some(Box::new(move |name: &str| {
        assert_eq!(name, "g");
        c.fetch_add(1, Ordering::SeqCst);
    })));
    g.assigned([("a", 0), ("a", 1)]).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    g.revoked([("a", 1)]).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    g.revoked([("a", 1)]).unwrap(); // nothing changes: no call
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    g.lost();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // An expiry is told from the timer thread.
    g.assigned([("a", 0)]).unwrap();
    g.set_poll_deadline(Duration::from_millis(20), Duration::ZERO)
        .unwrap();
    eventually("expiry told", || calls.load(Ordering::SeqCst) == 3);
    g.set_poll_deadline(Duration::ZERO, Duration::ZERO).unwrap();
    // A panicking notifier does not break the event.
    g.set_loss_notifier(Some(Box::new(|_: &str| panic!("notifier"))));
    g.assigned([("a", 0)]).unwrap();
    assert!(g.revoked([("a", 0)]).unwrap());
    assert!(!t.is_assigned("g", "a", 0));
    g.set_loss_notifier(None);
}
