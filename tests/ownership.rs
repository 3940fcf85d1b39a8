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
    g.set_poll_deadline(Duration::from_millis(300), Duration::ZERO)
        .unwrap();
    let epoch = t.epoch();
    for _ in 0..40 {
        g.mark_poll();
        thread::sleep(Duration::from_millis(5));
    }
    // Even a loaded machine polls every 5 ms well within 300 ms: if this
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
    g.set_poll_deadline(Duration::from_millis(50), Duration::ZERO)
        .unwrap();
    g.set_poll_deadline(Duration::ZERO, Duration::ZERO).unwrap();
    assert_eq!(g.poll_stats().deadline, None);
    thread::sleep(Duration::from_millis(150));
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
