//! Rebalance history and health per group: what each event records, the
//! bounded ring, the health states and their transitions, wait-free reads
//! while a writer runs, the exposition of both, and the C ABI.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use kat::ffi::*;
use kat::{Health, HistoryKind, MetricsFormat, Tracker, DEFAULT_HISTORY_LIMIT};

#[test]
fn each_event_is_recorded_with_its_counts_and_partitions() {
    let tracker = Tracker::new();
    let g = tracker.group("billing/0").unwrap();
    assert!(g.history().is_empty());
    g.assigned([("orders", 1), ("orders", 0), ("audit", 0)])
        .unwrap();
    g.revoked([("orders", 1), ("orders", 7)]).unwrap(); // 7 is not owned
    g.replace([("orders", 0), ("orders", 2)]).unwrap();
    g.lost();
    g.assigned([("orders", 3)]).unwrap();
    g.reset();

    let h = g.history();
    let kinds: Vec<HistoryKind> = h.entries().map(|e| e.kind).collect();
    use HistoryKind::*;
    assert_eq!(kinds, [Assign, Revoke, Replace, Lost, Assign, Reset]);
    let counts: Vec<(usize, usize, usize)> = h
        .entries()
        .map(|e| (e.assigned, e.revoked, e.lost))
        .collect();
    // The replace keeps orders/0, assigns orders/2, revokes audit/0.
    assert_eq!(
        counts,
        [
            (3, 0, 0),
            (0, 1, 0),
            (2, 1, 0),
            (0, 0, 2),
            (1, 0, 0),
            (0, 0, 1)
        ]
    );
    let parts = |i: usize| -> Vec<(String, i32)> {
        h.entries()
            .nth(i)
            .unwrap()
            .partitions
            .iter()
            .map(|p| (p.topic().to_owned(), p.partition))
            .collect()
    };
    assert_eq!(
        parts(0),
        [
            ("audit".into(), 0),
            ("orders".into(), 0),
            ("orders".into(), 1)
        ]
    );
    assert_eq!(parts(1), [("orders".into(), 1)]);
    assert_eq!(parts(3), [("orders".into(), 0), ("orders".into(), 2)]);
    // Epochs follow the tracker's.
    let epochs: Vec<u64> = h.entries().map(|e| e.epoch).collect();
    assert_eq!(epochs, [1, 2, 3, 4, 5, 6]);
    assert_eq!(tracker.epoch(), 6);
    // A revoke opens a rebalance that the next assign closes and times.
    let timed: Vec<bool> = h.entries().map(|e| e.rebalance_ms.is_some()).collect();
    assert_eq!(timed, [false, false, true, false, true, false]);
    assert!(h.entries().all(|e| e.unix_ms > 1_600_000_000_000));
}

#[test]
fn the_ring_keeps_the_most_recent_entries_up_to_its_limit() {
    let tracker = Tracker::new();
    assert_eq!(tracker.history_limit(), DEFAULT_HISTORY_LIMIT);
    let g = tracker.group("g").unwrap();
    for p in 0..100 {
        g.assigned([("t", p)]).unwrap();
    }
    let h = g.history();
    assert_eq!(h.len(), 64);
    assert_eq!(h.entries().next().unwrap().partitions[0].partition, 36);
    assert_eq!(h.last().unwrap().partitions[0].partition, 99);
    tracker.set_history_limit(5);
    g.assigned([("t", 100)]).unwrap();
    let h = g.history();
    let first: Vec<i32> = h.entries().map(|e| e.partitions[0].partition).collect();
    assert_eq!(first, [96, 97, 98, 99, 100]);
    // A taken history does not change afterwards.
    g.assigned([("t", 101)]).unwrap();
    assert_eq!(h.last().unwrap().partitions[0].partition, 100);
    tracker.set_history_limit(0);
    assert_eq!(tracker.history_limit(), 1);
}

#[test]
fn partitions_are_listed_up_to_a_bound_and_counted_exactly() {
    let tracker = Tracker::new();
    let g = tracker.group("g").unwrap();
    let list: Vec<(&str, i32)> = (0..1000).map(|p| ("big", p)).collect();
    g.assigned(list.iter().copied()).unwrap();
    let e = g.history().last().unwrap().clone();
    assert_eq!(e.assigned, 1000);
    assert_eq!(e.partitions.len(), kat::HISTORY_PARTITIONS_LIMIT);
    assert!(e.partitions_truncated);
    g.lost();
    assert_eq!(g.history().last().unwrap().lost, 1000);
}

#[test]
fn health_follows_the_rebalance_cycle() {
    let tracker = Tracker::new();
    let g = tracker.group("g").unwrap();
    let other = tracker.group("other").unwrap();
    assert_eq!(g.health().health, Health::NeverJoined);
    assert_eq!(g.health().since_unix_ms, 0);

    // A member that joins and gets nothing: an empty (cooperative) assign.
    assert!(!g.assigned([]).unwrap());
    assert_eq!(g.health().health, Health::Standby);
    assert!(g.history().is_empty(), "a no-op assign is not history");
    assert_eq!(other.health().health, Health::NeverJoined);

    g.assigned([("t", 0), ("t", 1)]).unwrap();
    let assigned = g.health();
    assert_eq!(assigned.health, Health::Assigned);
    assert!(assigned.since_unix_ms > 0);

    // Cooperative round: revoke part, then an empty assign closes it.
    g.revoked([("t", 1)]).unwrap();
    assert_eq!(g.health().health, Health::Rebalancing);
    assert!(!g.assigned([]).unwrap());
    assert_eq!(g.health().health, Health::Assigned);
    let closing = g.history().last().unwrap().clone();
    assert_eq!(closing.kind, HistoryKind::Assign);
    assert_eq!(closing.assigned, 0);
    assert!(
        closing.rebalance_ms.is_some(),
        "the empty assign closes the round"
    );

    // Eager round: revoke all, then replace.
    g.revoked([("t", 0)]).unwrap();
    assert_eq!(g.health().health, Health::Rebalancing);
    g.replace([("t", 2)]).unwrap();
    assert_eq!(g.health().health, Health::Assigned);

    g.lost();
    assert_eq!(g.health().health, Health::Lost);
    // A repeated loss report with nothing owned keeps the state.
    g.lost();
    assert_eq!(g.health().health, Health::Lost);
    assert!(!g.replace([]).unwrap());
    assert_eq!(g.health().health, Health::Standby);
    assert!(g.history().last().unwrap().rebalance_ms.is_some());

    g.assigned([("t", 0)]).unwrap();
    g.reset();
    assert_eq!(g.health().health, Health::Lost);

    tracker.clear();
    assert_eq!(g.health().health, Health::NeverJoined);
    assert!(g.history().is_empty());
}

#[test]
fn history_json_lists_every_field() {
    let tracker = Tracker::new();
    let g = tracker.group("g").unwrap();
    g.assigned([("t", 0)]).unwrap();
    g.revoked([("t", 0)]).unwrap();
    let json = g.history().to_json();
    let re = |s: &str| json.contains(s);
    assert!(json.starts_with("[{\"unix_ms\":"), "{json}");
    assert!(
        re("\"epoch\":1,\"kind\":\"assign\",\"assigned\":1,\"revoked\":0,\"lost\":0,\"rebalance_ms\":null,\"partitions\":[[\"t\",0]],\"partitions_truncated\":false,\"protocol\":null,\"error\":null,\"broker_generation\":0}"),
        "{json}"
    );
    assert!(
        re("\"epoch\":2,\"kind\":\"revoke\",\"assigned\":0,\"revoked\":1,\"lost\":0,\"rebalance_ms\":null,\"partitions\":[[\"t\",0]],\"partitions_truncated\":false,\"protocol\":null,\"error\":null,\"broker_generation\":0}]"),
        "{json}"
    );
    assert_eq!(tracker.group("none").unwrap().history().to_json(), "[]");
    // What the glue notes: the protocol on later entries, refusals as
    // `error` entries that change nothing else.
    g.note_rebalance_protocol(true);
    g.assigned([("t", 1)]).unwrap();
    g.note_rebalance_error("rd_kafka_incremental_assign failed: \"x\"");
    let h = g.history();
    let last_two: Vec<_> = h.entries().skip(h.len() - 2).collect();
    assert_eq!(last_two[0].protocol, Some("cooperative"));
    assert_eq!(last_two[1].kind, HistoryKind::Error);
    assert_eq!(last_two[1].epoch, tracker.epoch());
    assert!(g.history().to_json().ends_with(
        "\"kind\":\"error\",\"assigned\":0,\"revoked\":0,\"lost\":0,\"rebalance_ms\":null,\"partitions\":[],\"partitions_truncated\":false,\"protocol\":\"cooperative\",\"error\":\"rd_kafka_incremental_assign failed: \\\"x\\\"\",\"broker_generation\":0}]"
    ));
    assert_eq!(g.health().health, Health::Assigned);
}

#[test]
fn health_and_latency_are_exposed_as_metrics() {
    let tracker = Tracker::new();
    let g = tracker.group("billing/0").unwrap();
    g.assigned([("t", 0)]).unwrap();
    g.revoked([("t", 0)]).unwrap();
    g.assigned([("t", 0)]).unwrap();
    tracker.group("billing/1").unwrap().assigned([]).unwrap();
    let text = tracker.metrics(MetricsFormat::Prometheus);
    let line = |g: &str, state: &str, v: u8| {
        format!("kat_group_health{{messaging_consumer_group_name=\"billing\",kat_group=\"{g}\",state=\"{state}\"}} {v}\n")
    };
    assert!(text.contains(&line("billing/0", "assigned", 1)), "{text}");
    assert!(
        text.contains(&line("billing/0", "rebalancing", 0)),
        "{text}"
    );
    assert!(text.contains(&line("billing/1", "standby", 1)), "{text}");
    assert!(
        text.contains("kat_rebalance_latency_seconds_count{messaging_consumer_group_name=\"billing\",kat_group=\"billing/0\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("kat_rebalance_latency_max_seconds{messaging_consumer_group_name=\"billing\",kat_group=\"billing/0\"} "));
    // One state per group is 1.
    let ones = text
        .lines()
        .filter(|l| l.starts_with("kat_group_health{") && l.ends_with(" 1"))
        .count();
    assert_eq!(ones, 2);
}

#[test]
fn reads_never_see_a_torn_or_shrinking_history_while_a_writer_runs() {
    let tracker = Tracker::new();
    tracker.set_history_limit(16);
    let g = tracker.group("g").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (g, stop) = (g.clone(), stop.clone());
            thread::spawn(move || {
                let mut last_epoch = 0;
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let h = g.history();
                    assert!(h.len() <= 16);
                    let epochs: Vec<u64> = h.entries().map(|e| e.epoch).collect();
                    assert!(epochs.windows(2).all(|w| w[0] < w[1]), "{epochs:?}");
                    if let Some(&e) = epochs.last() {
                        assert!(e >= last_epoch, "history went back");
                        last_epoch = e;
                    }
                    let _ = g.health();
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for i in 0..5_000 {
        g.assigned([("t", i % 7)]).unwrap();
        g.revoked([("t", i % 7)]).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert_eq!(g.history().len(), 16);
}

#[test]
fn c_abi_health_history_and_limit() {
    let tracker = kat_tracker_new();
    let mut group = std::ptr::null_mut();
    // SAFETY: live handles, NUL-terminated strings, writable outputs.
    unsafe {
        kat_tracker_group(tracker, c"g".as_ptr(), &mut group);
        let mut h = kat_group_health_t {
            health: kat_health::KAT_HEALTH_LOST,
            since_unix_ms: 9,
        };
        assert_eq!(kat_group_health(group, &mut h), kat_result::KAT_OK);
        assert_eq!(h.health, kat_health::KAT_HEALTH_NEVER_JOINED);
        let parts = [0, 1];
        kat_group_assigned_partitions(group, c"t".as_ptr(), parts.as_ptr(), 2);
        assert_eq!(kat_group_health(group, &mut h), kat_result::KAT_OK);
        assert_eq!(h.health, kat_health::KAT_HEALTH_ASSIGNED);
        assert!(h.since_unix_ms > 0);
        assert_eq!(
            std::ffi::CStr::from_ptr(kat_health_name(h.health as u32)).to_str(),
            Ok("assigned")
        );
        assert!(kat_health_name(99).is_null());

        let mut len = 0;
        assert_eq!(
            kat_group_history_json(group, std::ptr::null_mut(), 0, &mut len),
            kat_result::KAT_OK
        );
        let mut small = [0 as std::ffi::c_char; 4];
        let mut len2 = 0;
        assert_eq!(
            kat_group_history_json(group, small.as_mut_ptr(), 4, &mut len2),
            kat_result::KAT_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(len2, len);
        let mut buf = vec![0 as std::ffi::c_char; len + 1];
        assert_eq!(
            kat_group_history_json(group, buf.as_mut_ptr(), buf.len(), &mut len2),
            kat_result::KAT_OK
        );
        let json = std::ffi::CStr::from_ptr(buf.as_ptr()).to_str().unwrap();
        assert!(
            json.contains("\"kind\":\"assign\",\"assigned\":2"),
            "{json}"
        );

        assert_eq!(
            kat_tracker_set_history_limit(tracker, 0),
            kat_result::KAT_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            kat_tracker_set_history_limit(tracker, 3),
            kat_result::KAT_OK
        );
        let mut limit = 0;
        assert_eq!(
            kat_tracker_history_limit(tracker, &mut limit),
            kat_result::KAT_OK
        );
        assert_eq!(limit, 3);
        // A stall threshold without poll marks never makes a group stalled.
        assert_eq!(kat_group_set_stall_after_ms(group, 1), kat_result::KAT_OK);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(kat_group_health(group, &mut h), kat_result::KAT_OK);
        assert_eq!(h.health, kat_health::KAT_HEALTH_ASSIGNED);
        assert_eq!(kat_group_set_stall_after_ms(group, 0), kat_result::KAT_OK);
        assert_eq!(
            kat_group_health(std::ptr::null(), &mut h),
            kat_result::KAT_ERR_NULL_POINTER
        );
        assert_eq!(
            kat_group_health(group, std::ptr::null_mut()),
            kat_result::KAT_ERR_NULL_POINTER
        );
        assert_eq!(
            kat_group_history_json(group, std::ptr::null_mut(), 0, std::ptr::null_mut()),
            kat_result::KAT_ERR_NULL_POINTER
        );
        kat_group_free(group);
        kat_tracker_free(tracker);
    }
}

#[test]
fn a_group_whose_polls_stop_is_stalled_until_it_polls_again() {
    use std::time::Duration;
    let tracker = Tracker::new();
    let g = tracker.group("g").unwrap();
    g.set_stall_after(Some(Duration::from_millis(30)));
    assert_eq!(g.stall_after(), Some(Duration::from_millis(30)));
    // Never joined stays never joined, marks or not.
    g.mark_poll();
    thread::sleep(Duration::from_millis(60));
    assert_eq!(g.health().health, Health::NeverJoined);

    g.assigned([("t", 0)]).unwrap();
    g.mark_poll();
    assert_eq!(g.health().health, Health::Assigned);
    thread::sleep(Duration::from_millis(60));
    let stalled = g.health();
    assert_eq!(stalled.health, Health::Stalled);
    assert!(stalled.since_unix_ms > 0);
    let text = tracker.metrics(MetricsFormat::Prometheus);
    assert!(
        text.contains("kat_group_health{messaging_consumer_group_name=\"g\",kat_group=\"g\",state=\"stalled\"} 1\n"),
        "{text}"
    );
    assert!(text.contains(
        "kat_last_poll_seconds_ago{messaging_consumer_group_name=\"g\",kat_group=\"g\"} "
    ));
    // Another Group value of the same name sees the same.
    assert_eq!(tracker.group("g").unwrap().health().health, Health::Stalled);
    g.mark_poll();
    assert_eq!(g.health().health, Health::Assigned);

    // A lost group stays lost (more telling than stalled); off means off.
    thread::sleep(Duration::from_millis(60));
    g.lost();
    assert_eq!(g.health().health, Health::Lost);
    g.assigned([("t", 1)]).unwrap();
    assert_eq!(g.health().health, Health::Stalled);
    g.set_stall_after(None);
    assert_eq!(g.health().health, Health::Assigned);
    // A group whose polls are never marked is never stalled.
    let quiet = tracker.group("quiet").unwrap();
    quiet.set_stall_after(Some(Duration::from_millis(1)));
    quiet.assigned([("t", 0)]).unwrap();
    thread::sleep(Duration::from_millis(10));
    assert_eq!(quiet.health().health, Health::Assigned);
    // The threshold describes the consumer: it survives clear().
    tracker.clear();
    assert_eq!(quiet.stall_after(), Some(Duration::from_millis(1)));
}

/// Polls `f` until it is true or 10 s pass (the machine may be loaded).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{what}: not after 10 s"
        );
        thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[test]
fn a_poll_deadline_expiry_is_recorded_as_expired_with_status_lost() {
    use std::time::Duration;
    let tracker = Tracker::new();
    let g = tracker.group("g").unwrap();
    g.assigned([("t", 0), ("t", 1)]).unwrap();
    g.set_stall_fraction(None);
    g.set_poll_deadline(Duration::from_millis(30), Duration::ZERO)
        .unwrap();
    g.mark_poll();
    // The real timer thread expires the group.
    eventually("expiry", || g.poll_stats().expirations == 1);
    let h = g.history();
    let e = h.last().unwrap();
    assert_eq!(e.kind, HistoryKind::Expired);
    assert_eq!((e.assigned, e.revoked, e.lost), (0, 0, 2));
    assert_eq!(e.partitions.len(), 2);
    assert_eq!(e.epoch, tracker.epoch());
    // The partitions' status stays `lost`; so do the counters and health.
    let state = g.partition("t", 0).unwrap().state();
    assert_eq!(state.status, Some(kat::Status::Lost));
    assert_eq!(g.stats().lost_events, 1);
    assert_eq!(g.health().health, Health::Lost);
    assert!(h
        .to_json()
        .contains("\"kind\":\"expired\",\"assigned\":0,\"revoked\":0,\"lost\":2,"));
    // librdkafka's own lost revoke afterwards changes nothing: no new entry.
    assert!(!g.lost());
    assert_eq!(g.history().len(), h.len());
    // The next assign ends the rebalance the expiry started.
    g.set_poll_deadline(Duration::ZERO, Duration::ZERO).unwrap();
    g.assigned([("t", 0)]).unwrap();
    assert!(g.history().last().unwrap().rebalance_ms.is_some());
    // An explicit loss is still `lost`.
    g.lost();
    assert_eq!(g.history().last().unwrap().kind, HistoryKind::Lost);
}

#[test]
fn entries_carry_the_broker_generation_known_when_recorded() {
    let tracker = Tracker::new();
    let g = tracker.group("g").unwrap();
    g.assigned([("t", 0)]).unwrap();
    g.record_broker_generation(7, Some("member-1"));
    g.revoked([("t", 0)]).unwrap();
    g.record_broker_generation(8, None);
    g.assigned([("t", 1)]).unwrap();
    g.note_rebalance_error("refused");
    let gens: Vec<i32> = g.history().entries().map(|e| e.broker_generation).collect();
    assert_eq!(gens, [0, 7, 8, 8]);
    // What an entry carries matches the fencing token of its time.
    let token = g.partition("t", 1).unwrap().token().unwrap();
    assert_eq!(token.broker_generation, 8);
    let json = g.history().to_json();
    assert!(
        json.ends_with("\"error\":\"refused\",\"broker_generation\":8}]"),
        "{json}"
    );
    assert!(
        json.contains("\"error\":null,\"broker_generation\":7}"),
        "{json}"
    );
    // Recorded once: a later generation does not rewrite older entries.
    g.record_broker_generation(9, None);
    assert_eq!(g.history().entries().nth(1).unwrap().broker_generation, 7);
}

#[test]
fn an_armed_poll_deadline_makes_a_group_stalled_after_a_fraction_of_it() {
    use std::time::Duration;
    let tracker = Tracker::new();
    let g = tracker.group("g").unwrap();
    assert_eq!(g.stall_fraction(), Some(kat::DEFAULT_STALL_FRACTION));
    assert_eq!(g.effective_stall_after(), None);
    g.assigned([("t", 0)]).unwrap();
    // A long deadline: the group is stalled long before it would expire.
    g.set_poll_deadline(Duration::from_secs(3600), Duration::ZERO)
        .unwrap();
    assert_eq!(g.effective_stall_after(), Some(Duration::from_secs(1800)));
    g.set_stall_fraction(Some(0.00001)); // 36 ms
    assert_eq!(g.effective_stall_after(), Some(Duration::from_millis(36)));
    g.mark_poll();
    assert_eq!(g.health().health, Health::Assigned);
    eventually("stalled", || g.health().health == Health::Stalled);
    assert!(g.since_last_poll().unwrap() > Duration::from_millis(36));
    assert_eq!(g.poll_stats().expirations, 0);
    g.mark_poll();
    assert_eq!(g.health().health, Health::Assigned);
    // An explicit threshold wins over the derived one.
    g.set_stall_after(Some(Duration::from_secs(3600)));
    assert_eq!(g.effective_stall_after(), Some(Duration::from_secs(3600)));
    thread::sleep(Duration::from_millis(80));
    assert_eq!(g.health().health, Health::Assigned);
    g.set_stall_after(None);
    assert_eq!(g.health().health, Health::Stalled);
    // Off means off; a disarmed deadline derives nothing.
    g.set_stall_fraction(None);
    assert_eq!(g.stall_fraction(), None);
    assert_eq!(g.health().health, Health::Assigned);
    g.set_stall_fraction(Some(0.00001));
    g.set_poll_deadline(Duration::ZERO, Duration::ZERO).unwrap();
    assert_eq!(g.effective_stall_after(), None);
    assert_eq!(g.health().health, Health::Assigned);
    // From C: thousandths of the deadline, 0 = off.
    let tracker = kat_tracker_new();
    let mut group = std::ptr::null_mut();
    // SAFETY: live handles, NUL-terminated strings, writable outputs.
    unsafe {
        kat_tracker_group(tracker, c"c".as_ptr(), &mut group);
        let parts = [0];
        kat_group_assigned_partitions(group, c"t".as_ptr(), parts.as_ptr(), 1);
        assert_eq!(
            kat_group_set_poll_deadline(group, 10_000, 0),
            kat_result::KAT_OK
        );
        // 2 / 1000 of 10 s: 20 ms.
        assert_eq!(
            kat_group_set_stall_fraction_permille(group, 2),
            kat_result::KAT_OK
        );
        assert_eq!(kat_group_mark_poll(group), kat_result::KAT_OK);
        let mut h = kat_group_health_t {
            health: kat_health::KAT_HEALTH_NEVER_JOINED,
            since_unix_ms: 0,
        };
        eventually("stalled from C", || {
            kat_group_health(group, &mut h);
            h.health == kat_health::KAT_HEALTH_STALLED
        });
        assert_eq!(
            kat_group_set_stall_fraction_permille(group, 0),
            kat_result::KAT_OK
        );
        assert_eq!(kat_group_health(group, &mut h), kat_result::KAT_OK);
        assert_eq!(h.health, kat_health::KAT_HEALTH_ASSIGNED);
        assert_eq!(
            kat_group_set_stall_fraction_permille(std::ptr::null_mut(), 500),
            kat_result::KAT_ERR_NULL_POINTER
        );
        assert_eq!(kat_group_set_poll_deadline(group, 0, 0), kat_result::KAT_OK);
        kat_group_free(group);
        kat_tracker_free(tracker);
    }
    g.set_poll_deadline(Duration::ZERO, Duration::ZERO).unwrap();
}
