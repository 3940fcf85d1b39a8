//! Assignment loss with real librdkafka consumers on the mock cluster: every
//! way a member can lose its partitions without a clean hand-over is
//! recorded as `lost`, never as `revoked`, and the tracker keeps following
//! librdkafka when the member rejoins (the per-callback checks of
//! `tests/mock/mod.rs` run throughout).

mod mock;

use std::collections::BTreeSet;

use kat::rdkafka::Recorded;
use kat::{Status, Tracker};
use mock::{wait_settled, wait_until, Api, Cluster, Consumer, Options, Strategy};
use rdkafka_sys::rd_kafka_resp_err_t::{
    RD_KAFKA_RESP_ERR_FENCED_MEMBER_EPOCH, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION,
    RD_KAFKA_RESP_ERR__MAX_POLL_EXCEEDED,
};

const TOPICS: &[(&str, i32)] = &[("orders", 6)];

/// Whether `c` has recorded a loss through a lost revoke, and the tracker
/// shows its partitions as `lost`.
fn has_lost(c: &Consumer) -> bool {
    c.lost_revokes() > 0
}

/// Every lost revoke `c` saw came with librdkafka's lost flag, and right
/// after it the tracker had nothing assigned and the partitions `lost`
/// (the callbacks' checks also compared it with `rd_kafka_assignment()`).
fn assert_loss_recorded(c: &Consumer) {
    let lost: Vec<_> = c
        .seen()
        .into_iter()
        .filter(|s| s.recorded == Recorded::Lost)
        .collect();
    assert!(!lost.is_empty(), "{}: a lost revoke", c.name());
    for s in &lost {
        assert!(
            s.lost,
            "{}: recorded as lost only when librdkafka said so",
            c.name()
        );
        let statuses: BTreeSet<Status> = s.after.values().map(|(_, st)| *st).collect();
        assert!(
            !statuses.contains(&Status::Assigned),
            "{}: nothing assigned after a loss: {:?}",
            c.name(),
            s.after
        );
        assert!(
            statuses.contains(&Status::Lost),
            "{}: partitions `lost`: {:?}",
            c.name(),
            s.after
        );
    }
}

/// A heartbeat answered with ILLEGAL_GENERATION: the member's assignment is
/// lost; it rejoins and gets partitions again at the next generation.
fn illegal_generation(strategy: Strategy) {
    let _serial = mock::serial();
    let cluster = Cluster::new(1, TOPICS);
    let tracker = Tracker::new();
    let gid = format!("illegal-{strategy:?}").to_lowercase();
    let a = Consumer::start(&cluster, &tracker, &gid, 0, strategy);
    wait_settled("a alone", &cluster, &[&a]);
    let generations_before = a.group().generation("orders", 0);

    cluster.fail_next(mock::API_HEARTBEAT, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION);
    wait_until(
        "a loses its assignment",
        || has_lost(&a),
        || mock::describe(&[&a]),
    );
    assert_loss_recorded(&a);
    wait_settled("a rejoined", &cluster, &[&a]);
    assert!(a.group().generation("orders", 0) > generations_before);
    a.close();
}

#[test]
fn range_illegal_generation_is_lost() {
    illegal_generation(Strategy::Range);
}

#[test]
fn cooperative_sticky_illegal_generation_is_lost() {
    illegal_generation(Strategy::CooperativeSticky);
}

/// The coordinator goes down: heartbeats fail until the session times out,
/// and every member's assignment is lost. It comes back; they rejoin.
fn coordinator_down(strategy: Strategy) {
    let _serial = mock::serial();
    let cluster = Cluster::new(3, TOPICS);
    let tracker = Tracker::new();
    let gid = format!("down-{strategy:?}").to_lowercase();
    cluster.pin_coordinator(&gid, 1);
    let a = Consumer::start(&cluster, &tracker, &gid, 0, strategy);
    let b = Consumer::start(&cluster, &tracker, &gid, 1, strategy);
    wait_settled("a and b", &cluster, &[&a, &b]);
    {
        let _down = cluster.broker_down(1);
        wait_until(
            "both lose their assignment",
            || has_lost(&a) && has_lost(&b),
            || mock::describe(&[&a, &b]),
        );
        assert_loss_recorded(&a);
        assert_loss_recorded(&b);
        assert_eq!(
            tracker.snapshot().partition_count(),
            0,
            "nothing is owned while the coordinator is away"
        );
    } // the coordinator is back up before anyone closes
    wait_settled("a and b rejoined", &cluster, &[&a, &b]);
    b.close();
    a.close();
}

#[test]
fn range_coordinator_down_is_lost() {
    coordinator_down(Strategy::Range);
}

#[test]
fn cooperative_sticky_coordinator_down_is_lost() {
    coordinator_down(Strategy::CooperativeSticky);
}

/// A member stops polling past `max.poll.interval.ms`: it leaves the group,
/// the other member takes everything, and when it polls again it gets
/// `_MAX_POLL_EXCEEDED` and a lost revoke.
///
/// With `check_lost`, the stuck member's loop (which still runs, as a long
/// job checking whether to go on would) records the loss at once, before
/// librdkafka can deliver the revoke; the revoke then changes nothing.
fn max_poll_exceeded(strategy: Strategy, check_lost: bool) {
    let _serial = mock::serial();
    let cluster = Cluster::new(1, TOPICS);
    let tracker = Tracker::new();
    let gid = format!("maxpoll-{strategy:?}-{check_lost}").to_lowercase();
    let options = Options {
        api: Some(Api::Callback),
        settings: vec![("max.poll.interval.ms", "1500")],
        check_lost_when_paused: check_lost,
    };
    let a = Consumer::start_with(&cluster, &tracker, &gid, 0, strategy, options.clone());
    let b = Consumer::start_with(&cluster, &tracker, &gid, 1, strategy, options);
    wait_settled("a and b", &cluster, &[&a, &b]);
    let a_owned = mock::owned(a.group());
    let callbacks_before = a.seen().len();

    a.pause();
    wait_settled("b took everything", &cluster, &[&b]);
    if check_lost {
        wait_until(
            "check_lost records a's loss",
            || a.lost_checks() > 0,
            || mock::describe(&[&a, &b]),
        );
        assert_eq!(
            a.seen().len(),
            callbacks_before,
            "no callback ran while a was stuck"
        );
        assert!(mock::owned(a.group()).is_empty());
        for key in &a_owned {
            assert_eq!(mock::tracked(a.group())[key].1, Status::Lost, "{key:?}");
        }
    } else {
        // Nothing tells the tracker while a does not poll.
        assert_eq!(mock::owned(a.group()), a_owned);
    }

    a.resume();
    wait_until(
        "a gets the lost revoke",
        || has_lost(&a),
        || mock::describe(&[&a, &b]),
    );
    assert!(a
        .poll_errors()
        .contains(&RD_KAFKA_RESP_ERR__MAX_POLL_EXCEEDED));
    assert_loss_recorded(&a);
    let revoke = a
        .seen()
        .into_iter()
        .find(|s| s.recorded == Recorded::Lost)
        .unwrap();
    assert_eq!(
        revoke.changed, !check_lost,
        "the revoke records the loss unless check_lost did"
    );
    wait_settled("a rejoined", &cluster, &[&a, &b]);
    b.close();
    a.close();
}

#[test]
fn range_max_poll_interval_exceeded_is_lost_and_check_lost_sees_it_first() {
    max_poll_exceeded(Strategy::Range, true);
}

#[test]
fn cooperative_sticky_max_poll_interval_exceeded_is_lost() {
    max_poll_exceeded(Strategy::CooperativeSticky, false);
}

/// KIP-848: a heartbeat answered with FENCED_MEMBER_EPOCH fences the member;
/// its assignment is lost, and it rejoins with a new epoch.
fn fenced(api: Api) {
    let _serial = mock::serial();
    let cluster = Cluster::new(1, TOPICS);
    let tracker = Tracker::new();
    let gid = format!("fenced-{api:?}").to_lowercase();
    let options = Options {
        api: Some(api),
        ..Options::default()
    };
    let a = Consumer::start_with(&cluster, &tracker, &gid, 0, Strategy::Consumer, options);
    wait_settled("a alone", &cluster, &[&a]);

    cluster.fail_next(
        mock::API_CONSUMER_GROUP_HEARTBEAT,
        RD_KAFKA_RESP_ERR_FENCED_MEMBER_EPOCH,
    );
    wait_until("a is fenced", || has_lost(&a), || mock::describe(&[&a]));
    assert_loss_recorded(&a);
    wait_settled("a rejoined", &cluster, &[&a]);
    assert!(mock::tracked(a.group())
        .values()
        .all(|&(g, s)| g == 2 && s == Status::Assigned));
    a.close();
}

#[test]
fn kip848_fenced_member_epoch_is_lost() {
    fenced(Api::Callback);
}

#[test]
fn event_api_kip848_fenced_member_epoch_is_lost() {
    fenced(Api::Event);
}
