//! Real librdkafka consumers joining and leaving groups on librdkafka's mock
//! cluster, for each rebalance protocol, through the rebalance callback and
//! through the event API. After every rebalance the harness checks, on the
//! consumer's poll thread, that the tracker holds exactly
//! `rd_kafka_assignment()` and that each generation equals the number of
//! times the callbacks assigned that partition (see `tests/mock/mod.rs`).

mod mock;

use kat::rdkafka::Recorded;
use kat::{Status, Tracker};
use mock::{wait_settled, Api, Cluster, Consumer, Options, Strategy};
use rdkafka_sys::rd_kafka_resp_err_t;

const TOPICS: &[(&str, i32)] = &[("orders", 6), ("refunds", 2)];

fn with_api(api: Api) -> Options {
    Options {
        api: Some(api),
        ..Options::default()
    }
}

/// Three members join one by one, then leave one by one; every close
/// delivers the final revoke: what the member held becomes `revoked` and the
/// tracker holds nothing for it.
fn join_and_leave(strategy: Strategy, api: Api) {
    let _serial = mock::serial();
    let cluster = Cluster::new(3, TOPICS);
    let tracker = Tracker::new();
    let gid = format!("{strategy:?}-{api:?}").to_lowercase();
    let start =
        |member| Consumer::start_with(&cluster, &tracker, &gid, member, strategy, with_api(api));

    let a = start(0);
    wait_settled("a alone", &cluster, &[&a]);
    let b = start(1);
    wait_settled("a and b", &cluster, &[&a, &b]);
    let c = start(2);
    wait_settled("a, b and c", &cluster, &[&a, &b, &c]);

    let c_name = c.name().to_string();
    let c_seen = c.close();
    wait_settled("c left", &cluster, &[&a, &b]);
    let b_name = b.name().to_string();
    let b_seen = b.close();
    wait_settled("b left", &cluster, &[&a]);
    let a_name = a.name().to_string();
    let a_seen = a.close();

    for (name, seen) in [(&a_name, a_seen), (&b_name, b_seen), (&c_name, c_seen)] {
        let last = seen.last().expect("rebalances were seen");
        assert_eq!(
            last.err,
            rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS,
            "{name}: close ends with a revoke"
        );
        assert_eq!(last.recorded, Recorded::Revoked, "{name}");
        let entries = mock::tracked(&tracker.group(name).unwrap());
        assert!(!entries.is_empty(), "{name} owned something at some point");
        assert!(
            entries
                .values()
                .all(|(_, status)| *status != Status::Assigned),
            "{name}: nothing assigned after close: {entries:?}"
        );
        for key in &last.partitions {
            assert_eq!(
                entries[key].1,
                Status::Revoked,
                "{name}: {key:?} handed back on close"
            );
        }
        // The mock cluster sometimes makes a member lose its assignment
        // while another one leaves a cooperative group; the callbacks then
        // checked that librdkafka flagged each such revoke as lost.
        let losses = seen.iter().filter(|s| s.recorded == Recorded::Lost).count();
        if losses > 0 {
            eprintln!("{name}: {losses} lost revoke(s) flagged by librdkafka along the way");
        }
    }
    // Everyone is gone: the tracker owns nothing, but remembers generations.
    assert_eq!(tracker.snapshot().partition_count(), 0);
    // `a` was there from the start to the end: it was assigned every
    // partition at least once, and at least twice one it kept or got back.
    let a_group = tracker.group(&a_name).unwrap();
    assert_eq!(
        mock::tracked(&a_group).len(),
        cluster.all_partitions().len()
    );
}

#[test]
fn range_members_join_and_leave() {
    join_and_leave(Strategy::Range, Api::Callback);
}

#[test]
fn roundrobin_members_join_and_leave() {
    join_and_leave(Strategy::RoundRobin, Api::Callback);
}

#[test]
fn cooperative_sticky_members_join_and_leave() {
    join_and_leave(Strategy::CooperativeSticky, Api::Callback);
}

#[test]
fn kip848_consumer_protocol_members_join_and_leave() {
    join_and_leave(Strategy::Consumer, Api::Callback);
}

#[test]
fn event_api_range_members_join_and_leave() {
    join_and_leave(Strategy::Range, Api::Event);
}

#[test]
fn event_api_cooperative_sticky_members_join_and_leave() {
    join_and_leave(Strategy::CooperativeSticky, Api::Event);
}

#[test]
fn event_api_kip848_members_join_and_leave() {
    join_and_leave(Strategy::Consumer, Api::Event);
}

/// `kat::rdkafka::rebalance_cb` used as is, opaque = the `Group`: the
/// tracker follows librdkafka through a join, a leave and the close.
#[test]
fn ready_rebalance_cb_tracks_eager_and_cooperative_members() {
    for strategy in [Strategy::Range, Strategy::CooperativeSticky] {
        let _serial = mock::serial();
        let cluster = Cluster::new(1, TOPICS);
        let tracker = Tracker::new();
        let gid = format!("ready-{strategy:?}").to_lowercase();
        let start = |member| {
            Consumer::start_with(
                &cluster,
                &tracker,
                &gid,
                member,
                strategy,
                with_api(Api::ReadyCallback),
            )
        };
        let a = start(0);
        wait_settled("a alone", &cluster, &[&a]);
        let b = start(1);
        wait_settled("a and b", &cluster, &[&a, &b]);
        // The partitions b took from a are `revoked` for a; a's generations
        // grew with each assignment; b's start at 1.
        let a_tracked = mock::tracked(a.group());
        let b_owned = mock::owned(b.group());
        for key in &b_owned {
            assert_eq!(
                a_tracked[key].1,
                Status::Revoked,
                "{strategy:?}: {key:?} moved from a to b"
            );
            assert!(b.group().generation(&key.0, key.1) >= 1);
        }
        let b_group = b.group().clone();
        b.close();
        wait_settled("b left", &cluster, &[&a]);
        assert!(mock::tracked(&b_group)
            .values()
            .all(|(_, s)| *s == Status::Revoked));
        // a got b's partitions back: their generation went up again.
        for key in &b_owned {
            assert_eq!(
                a.group()
                    .tracker()
                    .snapshot()
                    .record(a.name(), &key.0, key.1)
                    .unwrap()
                    .status,
                Status::Assigned
            );
            assert!(
                a.group().generation(&key.0, key.1) >= 2,
                "{strategy:?}: {key:?} was assigned to a twice"
            );
        }
        a.close();
        assert_eq!(tracker.snapshot().partition_count(), 0);
    }
}

/// Two consumer groups read the same topics in one process: each member is
/// its own kat group (`<group.id>/<member>`), so the same partition is
/// tracked once per group, and one group's rebalances do not move the
/// other's generations.
#[test]
fn two_consumer_groups_on_the_same_topics_are_tracked_apart() {
    let _serial = mock::serial();
    let cluster = Cluster::new(3, TOPICS);
    let tracker = Tracker::new();
    let eager_a = Consumer::start(&cluster, &tracker, "billing", 0, Strategy::Range);
    let coop_a = Consumer::start(&cluster, &tracker, "audit", 0, Strategy::CooperativeSticky);
    wait_settled("billing/0", &cluster, &[&eager_a]);
    wait_settled("audit/0", &cluster, &[&coop_a]);
    let eager_b = Consumer::start(&cluster, &tracker, "billing", 1, Strategy::Range);
    wait_settled("billing/0 and billing/1", &cluster, &[&eager_a, &eager_b]);

    // Every partition is owned twice in the process: once per consumer group.
    let snapshot = tracker.snapshot();
    assert_eq!(
        snapshot.partition_count(),
        2 * cluster.all_partitions().len()
    );
    for (topic, partition) in cluster.all_partitions() {
        assert!(snapshot.is_assigned("audit/0", &topic, partition));
        let billing_owners = ["billing/0", "billing/1"]
            .iter()
            .filter(|g| snapshot.is_assigned(g, &topic, partition))
            .count();
        assert_eq!(billing_owners, 1, "{topic}/{partition}");
    }
    // billing's rebalance did not touch audit: one assignment each.
    assert!(mock::tracked(coop_a.group())
        .values()
        .all(|&(g, s)| g == 1 && s == Status::Assigned));

    // audit gets a second member; billing's generations stay put.
    let billing_before = (
        mock::tracked(eager_a.group()),
        mock::tracked(eager_b.group()),
    );
    let coop_b = Consumer::start(&cluster, &tracker, "audit", 1, Strategy::CooperativeSticky);
    wait_settled("audit/0 and audit/1", &cluster, &[&coop_a, &coop_b]);
    assert_eq!(
        (
            mock::tracked(eager_a.group()),
            mock::tracked(eager_b.group())
        ),
        billing_before
    );

    for c in [coop_b, coop_a, eager_b, eager_a] {
        c.close();
    }
    assert_eq!(tracker.snapshot().partition_count(), 0);
}
