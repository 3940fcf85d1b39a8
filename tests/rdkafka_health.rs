//! Health, rebalance history and the exposition through real librdkafka
//! rebalances on the mock cluster: eager (`range`), cooperative-sticky and
//! KIP-848, a member joining and leaving, and a member stuck past
//! `max.poll.interval.ms` (lost).

mod mock;

use kat::rdkafka::Recorded;
use kat::{Health, HistoryKind, MetricsFormat, Tracker};
use mock::{wait_settled, wait_until, Api, Cluster, Consumer, Options, Strategy};

const TOPICS: &[(&str, i32)] = &[("orders", 6), ("refunds", 2)];

fn kind_of(r: Recorded) -> HistoryKind {
    match r {
        Recorded::Assigned => HistoryKind::Assign,
        Recorded::Replaced => HistoryKind::Replace,
        Recorded::Revoked => HistoryKind::Revoke,
        Recorded::Lost => HistoryKind::Lost,
    }
}

/// Every rebalance that changed the tracker is in the history, in order,
/// with the kind the glue recorded.
fn history_matches_callbacks(c: &Consumer) {
    let seen: Vec<HistoryKind> = c
        .seen()
        .iter()
        .filter(|s| s.changed)
        .map(|s| kind_of(s.recorded))
        .collect();
    let history: Vec<HistoryKind> = c
        .group()
        .history()
        .entries()
        .filter(|e| e.assigned + e.revoked + e.lost > 0)
        .map(|e| e.kind)
        .collect();
    assert_eq!(history, seen, "{}", c.name());
}

fn join_rebalance_leave(strategy: Strategy) {
    let _serial = mock::serial();
    let cluster = Cluster::new(3, TOPICS);
    let tracker = Tracker::new();
    let gid = format!("health-{strategy:?}").to_lowercase();
    let a = Consumer::start(&cluster, &tracker, &gid, 0, strategy);
    let b_group = tracker.group(&format!("{gid}/1")).unwrap();
    assert_eq!(b_group.health().health, Health::NeverJoined);
    wait_settled("a alone", &cluster, &[&a]);
    assert_eq!(a.group().health().health, Health::Assigned);

    let b = Consumer::start(&cluster, &tracker, &gid, 1, strategy);
    wait_settled("a and b", &cluster, &[&a, &b]);
    wait_until(
        "both healthy",
        || {
            a.group().health().health == Health::Assigned
                && b.group().health().health == Health::Assigned
        },
        || format!("{:?} {:?}", a.group().health(), b.group().health()),
    );
    // a gave partitions up to b: a revoke, then the assign that ends the
    // rebalance, timed.
    let h = a.group().history();
    let revoke = h
        .entries()
        .position(|e| e.kind == HistoryKind::Revoke && e.revoked > 0)
        .expect("a revoked something when b joined");
    let closing = h
        .entries()
        .skip(revoke + 1)
        .find(|e| matches!(e.kind, HistoryKind::Assign | HistoryKind::Replace))
        .expect("an assign followed the revoke");
    assert!(closing.rebalance_ms.is_some(), "{h:?}");
    history_matches_callbacks(&a);
    history_matches_callbacks(&b);
    // Every entry recorded through the glue carries the protocol.
    let expected = match strategy {
        Strategy::Range | Strategy::RoundRobin => "eager",
        _ => "cooperative",
    };
    assert!(
        a.group()
            .history()
            .entries()
            .all(|e| e.protocol == Some(expected)),
        "{:?}",
        a.group().history()
    );

    // The exposition shows each partition once across both members.
    let text = tracker.metrics(MetricsFormat::Prometheus);
    let series = text
        .lines()
        .filter(|l| l.starts_with("kat_partition_generation{"))
        .count();
    assert_eq!(series, 8, "{text}");

    let b_seen = b.close();
    assert!(b_seen.iter().any(|s| s.recorded == Recorded::Revoked));
    assert_eq!(b_group.health().health, Health::Rebalancing);
    wait_settled("b left", &cluster, &[&a]);
    wait_until(
        "a assigned again",
        || a.group().health().health == Health::Assigned,
        || format!("{:?}", a.group().health()),
    );
    history_matches_callbacks(&a);
    a.close();
}

#[test]
fn range_health_and_history_follow_real_rebalances() {
    join_rebalance_leave(Strategy::Range);
}

#[test]
fn cooperative_sticky_health_and_history_follow_real_rebalances() {
    join_rebalance_leave(Strategy::CooperativeSticky);
}

#[test]
fn kip848_health_and_history_follow_real_rebalances() {
    join_rebalance_leave(Strategy::Consumer);
}

/// A member stuck past `max.poll.interval.ms` is `lost` once its loop's
/// `check_lost` sees it, and `assigned` again after it rejoins.
#[test]
fn a_member_stuck_past_max_poll_interval_is_lost_then_assigned_again() {
    let _serial = mock::serial();
    let cluster = Cluster::new(1, TOPICS);
    let tracker = Tracker::new();
    let options = Options {
        api: Some(Api::Callback),
        settings: vec![("max.poll.interval.ms", "1500")],
        check_lost_when_paused: true,
    };
    let a = Consumer::start_with(
        &cluster,
        &tracker,
        "health-stuck",
        0,
        Strategy::Range,
        options.clone(),
    );
    let b = Consumer::start_with(
        &cluster,
        &tracker,
        "health-stuck",
        1,
        Strategy::Range,
        options,
    );
    wait_settled("a and b", &cluster, &[&a, &b]);
    a.pause();
    wait_until(
        "a is lost",
        || a.group().health().health == Health::Lost,
        || format!("{:?}", a.group().health()),
    );
    let lost = a.group().history().last().cloned().expect("an entry");
    assert_eq!(lost.kind, HistoryKind::Lost);
    assert!(lost.lost > 0);
    a.resume();
    wait_settled("a back", &cluster, &[&a, &b]);
    wait_until(
        "a assigned again",
        || a.group().health().health == Health::Assigned,
        || format!("{:?}", a.group().health()),
    );
    assert!(a
        .group()
        .history()
        .entries()
        .any(|e| e.rebalance_ms.is_some()));
    b.close();
    a.close();
}

/// A rebalance librdkafka refuses is in the history as an `error` entry
/// with the glue's text and the protocol, and changes nothing else.
#[test]
fn a_refused_assign_is_an_error_entry_in_the_history() {
    use rdkafka_sys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    let tracker = Tracker::new();
    let group = tracker.group("refused").unwrap();
    group.assigned([("orders", 0)]).unwrap();
    let health = group.health();
    let epoch = tracker.epoch();
    // No group.id: librdkafka refuses rd_kafka_assign.
    let rk = mock::standalone_consumer(&[]);
    let list = mock::partition_list(&[("orders", 1)]);
    // SAFETY: a live consumer and list, destroyed once below.
    unsafe {
        assert!(
            kat::rdkafka::rebalance(&group, rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, list)
                .is_err()
        );
        rdkafka_sys::rd_kafka_topic_partition_list_destroy(list);
        mock::destroy_standalone(rk);
    }
    let last = group.history().last().cloned().unwrap();
    assert_eq!(last.kind, HistoryKind::Error);
    assert_eq!(last.protocol, Some("eager"));
    assert_eq!(last.epoch, epoch);
    assert!(
        last.error
            .as_deref()
            .unwrap_or("")
            .contains("rd_kafka_assign failed"),
        "{last:?}"
    );
    assert_eq!(tracker.epoch(), epoch);
    assert_eq!(group.health(), health);
    assert!(group.history().to_json().contains("\"kind\":\"error\""));
}

/// A member whose poll loop stops (poll marks stop) is `stalled` while it
/// still owns its partitions, before librdkafka gives them away; once it
/// polls again it learns of the loss and rejoins.
#[test]
fn a_member_that_stops_polling_is_stalled_while_it_still_owns_partitions() {
    let _serial = mock::serial();
    let cluster = Cluster::new(1, TOPICS);
    let tracker = Tracker::new();
    let options = Options {
        api: Some(Api::Callback),
        settings: vec![("max.poll.interval.ms", "3000")],
        check_lost_when_paused: false,
    };
    let a = Consumer::start_with(
        &cluster,
        &tracker,
        "health-stall",
        0,
        Strategy::CooperativeSticky,
        options.clone(),
    );
    let b = Consumer::start_with(
        &cluster,
        &tracker,
        "health-stall",
        1,
        Strategy::CooperativeSticky,
        options,
    );
    a.group()
        .set_stall_after(Some(std::time::Duration::from_millis(500)));
    wait_settled("a and b", &cluster, &[&a, &b]);
    assert_eq!(a.group().health().health, Health::Assigned);
    a.pause();
    wait_until(
        "a is stalled",
        || a.group().health().health == Health::Stalled,
        || format!("{:?}", a.group().health()),
    );
    assert!(
        !mock::owned(a.group()).is_empty(),
        "stalled while it still owns partitions"
    );
    a.resume();
    wait_settled("a back", &cluster, &[&a, &b]);
    wait_until(
        "a assigned again",
        || a.group().health().health == Health::Assigned,
        || format!("{:?}", a.group().health()),
    );
    b.close();
    a.close();
}
