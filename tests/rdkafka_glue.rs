//! The `kat::rdkafka` glue called by hand on consumers that talk to no
//! broker: what it does when librdkafka refuses the assign call, when kat
//! rejects the list, and the protocol it picks. The rebalances of live groups
//! are in `rdkafka_groups.rs` and `rdkafka_lost.rs`.

mod mock;

use std::ffi::c_void;
use std::ptr;

use kat::rdkafka::{self, Protocol, RebalanceError, Recorded};
use kat::{ErrorKind, Status, Tracker};
use mock::{destroy_standalone, partition_list, standalone_consumer};
use rdkafka_sys::rd_kafka_resp_err_t::{
    RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, RD_KAFKA_RESP_ERR__INVALID_ARG,
    RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS, RD_KAFKA_RESP_ERR__UNKNOWN_GROUP,
};
use rdkafka_sys::*;

fn last_error_message() -> String {
    let mut buf = vec![0u8; 512];
    // SAFETY: a writable buffer of the given size.
    let n = unsafe { kat::ffi::kat_last_error_message(buf.as_mut_ptr().cast(), buf.len()) };
    buf.truncate(n.min(511));
    String::from_utf8_lossy(&buf).into_owned()
}

/// Without a group.id there is no rebalance protocol (EAGER is assumed) and
/// `rd_kafka_assign` fails: the error says so, and the tracker keeps what it
/// had, as librdkafka does.
#[test]
fn refused_eager_assign_leaves_the_tracker_unchanged() {
    let tracker = Tracker::new();
    let group = tracker.group("manual").unwrap();
    group.assigned([("orders", 0)]).unwrap();
    let epoch = tracker.epoch();
    let rk = standalone_consumer(&[]);
    let list = partition_list(&[("orders", 1)]);
    // SAFETY: a live consumer and list.
    let result =
        unsafe { rdkafka::rebalance(&group, rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, list) };
    match &result {
        Err(RebalanceError::Rdkafka {
            call,
            code,
            message,
        }) => {
            assert_eq!(*call, "rd_kafka_assign");
            assert_eq!(*code, RD_KAFKA_RESP_ERR__UNKNOWN_GROUP);
            assert!(!message.is_empty());
        }
        other => panic!("expected librdkafka's refusal, got {other:?}"),
    }
    assert!(result
        .unwrap_err()
        .to_string()
        .contains("rd_kafka_assign failed"));
    assert_eq!(tracker.epoch(), epoch, "nothing recorded");
    assert!(group.is_assigned("orders", 0));
    assert!(!group.is_assigned("orders", 1));
    assert_eq!(group.glue_failures(), 1, "the failure is counted");

    // The ready callback cannot return the error: it becomes the thread's
    // last error, as with the C glue.
    // SAFETY: librdkafka-shaped arguments; the opaque is a live Group.
    unsafe {
        rdkafka::rebalance_cb(
            rk,
            RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS,
            list,
            &group as *const kat::Group as *mut c_void,
        );
    }
    assert!(
        last_error_message().contains("rd_kafka_assign failed"),
        "{}",
        last_error_message()
    );
    assert_eq!(tracker.epoch(), epoch);
    // ... and is counted in the group, seen by every Group of that name.
    assert_eq!(tracker.group("manual").unwrap().glue_failures(), 2);
    // SAFETY: ours, destroyed once.
    unsafe {
        rd_kafka_topic_partition_list_destroy(list);
        destroy_standalone(rk);
    }
}

/// A KIP-848 consumer reports COOPERATIVE as soon as it subscribed, so the
/// glue unassigns incrementally; unassigning a partition librdkafka does not
/// have fails, and the tracker is left as it was.
#[test]
fn refused_incremental_unassign_leaves_the_tracker_unchanged() {
    let tracker = Tracker::new();
    let group = tracker.group("kip848").unwrap();
    group.assigned([("orders", 3)]).unwrap();
    let epoch = tracker.epoch();
    let rk = standalone_consumer(&[("group.id", "kip848"), ("group.protocol", "consumer")]);
    let list = partition_list(&[("orders", 3)]);
    // SAFETY: live consumer and lists.
    unsafe {
        assert_eq!(
            rd_kafka_subscribe(rk, list),
            rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
        );
        match rdkafka::rebalance(&group, rk, RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS, list) {
            Err(RebalanceError::Rdkafka { call, code, .. }) => {
                assert_eq!(call, "rd_kafka_incremental_unassign");
                assert_eq!(code, RD_KAFKA_RESP_ERR__INVALID_ARG);
            }
            other => panic!("expected librdkafka's refusal, got {other:?}"),
        }
    }
    assert_eq!(tracker.epoch(), epoch, "nothing recorded");
    assert!(group.is_assigned("orders", 3));
    assert_eq!(group.glue_failures(), 1);
    // SAFETY: ours, destroyed once.
    unsafe {
        rd_kafka_topic_partition_list_destroy(list);
        destroy_standalone(rk);
    }
}

/// librdkafka accepts any topic name in an assign call; kat does not. The
/// rejection names the element and changes nothing in the tracker.
#[test]
fn list_kat_rejects_is_reported_after_librdkafka_accepted_it() {
    let tracker = Tracker::new();
    let group = tracker.group("strict").unwrap();
    let rk = standalone_consumer(&[("group.id", "strict")]);
    let list = partition_list(&[("orders", 0), ("not a topic", 1)]);
    // SAFETY: live consumer and list.
    let result =
        unsafe { rdkafka::rebalance(&group, rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, list) };
    match result {
        Err(RebalanceError::Kat(e)) => {
            assert_eq!(e.kind(), ErrorKind::InvalidTopic);
            assert!(e.to_string().contains("element 1"), "{e}");
        }
        other => panic!("expected kat's rejection, got {other:?}"),
    }
    // SAFETY: a live consumer.
    let assigned = unsafe { mock::assignment(rk) }.unwrap();
    assert_eq!(assigned.len(), 2, "librdkafka took the list");
    assert_eq!(tracker.epoch(), 0, "kat recorded nothing");
    // SAFETY: ours, destroyed once.
    unsafe {
        rd_kafka_topic_partition_list_destroy(list);
        destroy_standalone(rk);
    }
}

/// An unjoined classic consumer has no protocol yet (EAGER is assumed): an
/// assign replaces the group's partitions, a revoke unassigns everything and
/// records the listed ones as revoked, and any other code is a loss.
#[test]
fn eager_assign_revoke_and_error_codes_on_an_unjoined_consumer() {
    let tracker = Tracker::new();
    let group = tracker.group("eager").unwrap();
    group.assigned([("stale", 0)]).unwrap();
    let rk = standalone_consumer(&[("group.id", "eager")]);
    let list = partition_list(&[("orders", 0), ("orders", 1)]);
    // SAFETY: live consumer and list.
    unsafe {
        let r = rdkafka::rebalance(&group, rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, list).unwrap();
        assert_eq!(
            (r.protocol, r.recorded, r.changed),
            (Protocol::Eager, Recorded::Replaced, true)
        );
        assert_eq!(mock::assignment(rk).unwrap().len(), 2);
        assert_eq!(mock::owned(&group).len(), 2);
        assert_eq!(
            tracker
                .snapshot()
                .record("eager", "stale", 0)
                .unwrap()
                .status,
            Status::Revoked
        );

        let r = rdkafka::rebalance(&group, rk, RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS, list).unwrap();
        assert_eq!((r.recorded, r.changed), (Recorded::Revoked, true));
        assert!(mock::assignment(rk).unwrap().is_empty());
        assert_eq!(
            tracker
                .snapshot()
                .record("eager", "orders", 1)
                .unwrap()
                .status,
            Status::Revoked
        );

        rdkafka::rebalance(&group, rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, list).unwrap();
        assert_eq!(group.generation("orders", 1), 2);
        let other = rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__FATAL;
        let r = rdkafka::rebalance(&group, rk, other, ptr::null_mut()).unwrap();
        assert_eq!((r.recorded, r.changed), (Recorded::Lost, true));
        assert!(mock::assignment(rk).unwrap().is_empty());
        assert_eq!(
            tracker
                .snapshot()
                .record("eager", "orders", 1)
                .unwrap()
                .status,
            Status::Lost
        );

        rd_kafka_topic_partition_list_destroy(list);
        destroy_standalone(rk);
    }
}

/// The ready callback with a NULL opaque still makes the assign call
/// librdkafka waits for; it just records nothing.
#[test]
fn ready_callback_without_a_group_still_assigns() {
    let rk = standalone_consumer(&[("group.id", "no-opaque")]);
    let list = partition_list(&[("orders", 4)]);
    // SAFETY: live consumer and list; NULL opaque is documented.
    unsafe {
        rdkafka::rebalance_cb(
            rk,
            RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS,
            list,
            ptr::null_mut(),
        );
        assert_eq!(mock::assignment(rk).unwrap().len(), 1);
        rd_kafka_topic_partition_list_destroy(list);
        destroy_standalone(rk);
    }
}

/// `check_lost` on a consumer whose assignment is not lost does nothing.
#[test]
fn check_lost_is_false_and_records_nothing_when_nothing_is_lost() {
    let tracker = Tracker::new();
    let group = tracker.group("steady").unwrap();
    group.assigned([("orders", 0)]).unwrap();
    let rk = standalone_consumer(&[("group.id", "steady")]);
    // SAFETY: a live consumer.
    unsafe {
        assert!(!rdkafka::check_lost(&group, rk));
        destroy_standalone(rk);
    }
    assert!(group.is_assigned("orders", 0));
    assert_eq!(group.stats().lost_events, 0);
}
