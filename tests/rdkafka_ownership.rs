//! Ownership that ends on time with real librdkafka consumers (Rust glue,
//! bundled librdkafka 2.12.1) on the mock cluster.

mod mock;

use std::time::{Duration, Instant};

use kat::{Health, HistoryKind, Status, Tracker};
use mock::{wait_settled, wait_until, Cluster, Consumer, Options, Strategy};

const TOPICS: &[(&str, i32)] = &[("orders", 6)];

/// A member's poll loop stops with a poll deadline armed from its own
/// `max.poll.interval.ms`: kat expires its partitions (status lost) after
/// the deadline, while the other member does not own them yet; when the
/// member polls again, librdkafka's lost revoke changes nothing more.
fn stuck_member_expires(strategy: Strategy) {
    let _serial = mock::serial();
    let cluster = Cluster::new(1, TOPICS);
    let tracker = Tracker::new();
    let gid = format!("expiry-{strategy:?}").to_lowercase();
    let options = Options {
        settings: vec![("max.poll.interval.ms", "1500")],
        ..Options::default()
    };
    let a = Consumer::start_with(&cluster, &tracker, &gid, 0, strategy, options.clone());
    let b = Consumer::start_with(&cluster, &tracker, &gid, 1, strategy, options);
    wait_settled("a and b", &cluster, &[&a, &b]);
    // SAFETY: a's handle is live until it is closed below.
    let deadline =
        unsafe { kat::rdkafka::set_poll_deadline(a.group(), a.rk(), Duration::ZERO) }.unwrap();
    assert_eq!(deadline, Duration::from_millis(1500));
    let a_owned = mock::owned(a.group());
    assert!(!a_owned.is_empty());
    let handles: Vec<_> = a_owned
        .iter()
        .map(|(t, p)| a.group().partition(t, *p).unwrap())
        .collect();

    a.pause();
    let paused = Instant::now();
    // With the deadline armed and no explicit threshold, health turns
    // `stalled` half-way to the expiry.
    let mut saw_stalled = false;
    wait_until(
        "kat expires a",
        || {
            saw_stalled |= a.group().health().health == Health::Stalled;
            handles.iter().all(|h| !h.state().is_assigned())
        },
        || mock::describe(&[&a, &b]),
    );
    assert!(
        saw_stalled,
        "a was never reported stalled before its expiry"
    );
    let b_at_expiry = mock::owned(b.group());
    // The last poll mark came at most one poll (50 ms) before the pause.
    assert!(
        paused.elapsed() >= deadline - Duration::from_millis(500),
        "expired before the deadline"
    );
    assert!(
        a_owned.is_disjoint(&b_at_expiry),
        "b already owned some of a's partitions when kat expired them"
    );
    for h in &handles {
        assert_eq!(h.state().status, Some(Status::Lost));
    }
    let stats = a.group().poll_stats();
    assert_eq!(stats.expirations, 1);
    // The history tells the expiry from librdkafka's loss, and carries the
    // broker generation of the membership it ended.
    let expiry = a.group().history().last().unwrap().clone();
    assert_eq!(expiry.kind, HistoryKind::Expired);
    assert_eq!(expiry.lost, a_owned.len());
    assert_eq!(expiry.broker_generation, a.group().broker_generation());
    assert!(expiry.broker_generation > 0, "{expiry:?}");
    wait_settled("b took everything", &cluster, &[&b]);
    a.resume();
    wait_until(
        "a's lost revoke",
        || a.lost_revokes() > 0,
        || mock::describe(&[&a, &b]),
    );
    assert_eq!(a.group().stats().lost_events, 1);
    assert_eq!(a.group().poll_stats().expirations, 1);
    a.group()
        .set_poll_deadline(Duration::ZERO, Duration::ZERO)
        .unwrap();
    b.close();
    a.close();
}

#[test]
fn stuck_member_expires_eager() {
    stuck_member_expires(Strategy::Range);
}

#[test]
fn stuck_member_expires_cooperative() {
    stuck_member_expires(Strategy::CooperativeSticky);
}

#[test]
fn stuck_member_expires_kip848() {
    stuck_member_expires(Strategy::Consumer);
}

/// KIP-848: the token's broker part is the member epoch, and it moves with
/// it: a second member joining changes the first one's assignment, which
/// bumps its epoch; the token read after that rebalance carries the new
/// epoch.
#[test]
fn kip848_token_follows_the_member_epoch() {
    let _serial = mock::serial();
    let cluster = Cluster::new(1, TOPICS);
    let tracker = Tracker::new();
    let a = Consumer::start(&cluster, &tracker, "token-kip848", 0, Strategy::Consumer);
    wait_settled("a alone", &cluster, &[&a]);
    let epoch_of = |c: &Consumer| {
        // SAFETY: the consumer is live; the metadata is destroyed once.
        unsafe {
            let md = rdkafka_sys::rd_kafka_consumer_group_metadata(c.rk());
            assert!(!md.is_null());
            let e = rdkafka_sys::rd_kafka_consumer_group_metadata_generation_id(md);
            rdkafka_sys::rd_kafka_consumer_group_metadata_destroy(md);
            e
        }
    };
    let token_of = |c: &Consumer| {
        let (t, p) = mock::owned(c.group()).into_iter().next().unwrap();
        c.group().partition(&t, p).unwrap().token().unwrap()
    };
    let first = token_of(&a);
    assert!(first.broker_generation > 0);
    assert_eq!(first.broker_generation, epoch_of(&a));
    assert!(a.group().member_id().is_some());
    let b = Consumer::start(&cluster, &tracker, "token-kip848", 1, Strategy::Consumer);
    wait_settled("a and b", &cluster, &[&a, &b]);
    // The epoch is recorded at each rebalance callback; under KIP-848 the
    // broker may bump it after the callback (the revoke is acknowledged
    // first), so the glue also refreshes it from the poll loop.
    wait_until(
        "a's recorded epoch moves forward",
        || {
            // What check_lost does about once a second in a poll loop.
            // SAFETY: the consumer is live.
            unsafe { kat::rdkafka::record_broker(a.group(), a.rk()) };
            a.group().broker_generation() > first.broker_generation
        },
        || mock::describe(&[&a, &b]),
    );
    let second = token_of(&a);
    assert!(
        second.broker_generation > first.broker_generation,
        "{first:?} then {second:?}"
    );
    assert!(second.broker_generation <= epoch_of(&a));
    b.close();
    a.close();
}

/// The commit guard drops the offsets of partitions the member lost in a
/// rebalance: the broker's committed offsets stay unchanged for them, and
/// move for the partitions it kept.
#[test]
fn commit_guard_keeps_the_broker_offsets_of_revoked_partitions() {
    use rdkafka_sys::*;
    let _serial = mock::serial();
    let cluster = Cluster::new(1, TOPICS);
    let tracker = Tracker::new();
    let gid = "guard-cooperative";
    let a = Consumer::start(&cluster, &tracker, gid, 0, Strategy::CooperativeSticky);
    wait_settled("a alone", &cluster, &[&a]);
    let all: Vec<(&str, i32)> = (0..6).map(|p| ("orders", p)).collect();
    let offsets = |offset: i64| {
        let list = mock::partition_list(&all);
        // SAFETY: a list we own with `all.len()` elements.
        unsafe {
            for i in 0..(*list).cnt as usize {
                (*(*list).elems.add(i)).offset = offset;
            }
        }
        list
    };
    let commit = |list| {
        // SAFETY: live consumer and list; synchronous commit.
        let e = unsafe { rd_kafka_commit(a.rk(), list, 0) };
        assert_eq!(e, rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR);
    };
    let first = offsets(1);
    // SAFETY: a live list used by this thread only.
    assert_eq!(
        unsafe { kat::rdkafka::commit_guard(a.group(), first, None) }.unwrap(),
        0
    );
    commit(first);
    // SAFETY: we own the list.
    unsafe { rd_kafka_topic_partition_list_destroy(first) };

    let b = Consumer::start(&cluster, &tracker, gid, 1, Strategy::CooperativeSticky);
    wait_settled("a and b", &cluster, &[&a, &b]);
    let mine = mock::owned(a.group());
    let second = offsets(10);
    // SAFETY: as above.
    let removed = unsafe { kat::rdkafka::commit_guard(a.group(), second, None) }.unwrap();
    assert_eq!(removed, all.len() - mine.len());
    // SAFETY: as above.
    assert_eq!(unsafe { (*second).cnt } as usize, mine.len());
    commit(second);
    // SAFETY: we own the list.
    unsafe { rd_kafka_topic_partition_list_destroy(second) };

    let committed = offsets(RD_KAFKA_OFFSET_INVALID as i64);
    // SAFETY: live consumer and list.
    unsafe {
        assert_eq!(
            rd_kafka_committed(a.rk(), committed, 10_000),
            rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
        );
        for i in 0..(*committed).cnt as usize {
            let e = &*(*committed).elems.add(i);
            let want = if mine.contains(&("orders".to_string(), e.partition)) {
                10
            } else {
                1
            };
            assert_eq!(e.offset, want, "partition {}", e.partition);
        }
        rd_kafka_topic_partition_list_destroy(committed);
    }
    // A token from another broker generation guards everything away.
    let third = offsets(20);
    let stale = a.group().broker_generation() - 1;
    // SAFETY: as above.
    assert_eq!(
        unsafe { kat::rdkafka::commit_guard(a.group(), third, Some(stale)) }.unwrap(),
        all.len()
    );
    // SAFETY: we own the list.
    unsafe { rd_kafka_topic_partition_list_destroy(third) };
    b.close();
    a.close();
}
