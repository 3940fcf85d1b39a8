//! The semantics of SPEC §3–5 through the Rust API, one behaviour per test.

use std::time::Duration;

use kat::{ErrorKind, Group, PartitionState, Status, Tracker};

fn setup() -> (Tracker, Group) {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    (t, g)
}

/// The group's current assignment as (topic, [(partition, generation)]).
fn owned(t: &Tracker, group: &str) -> Vec<(String, Vec<(i32, u64)>)> {
    let snap = t.snapshot();
    snap.group(group)
        .map(|g| {
            g.topics()
                .iter()
                .map(|tv| {
                    let parts = tv
                        .partitions()
                        .iter()
                        .map(|p| (p.partition, p.generation))
                        .collect();
                    (tv.name().to_owned(), parts)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn status(t: &Tracker, group: &str, topic: &str, p: i32) -> Option<Status> {
    t.snapshot().record(group, topic, p).map(|r| r.status)
}

#[test]
fn assigned_adds_partitions_and_counts_one_generation_each() {
    let (t, g) = setup();
    assert!(g.assigned([("a", 0), ("a", 1), ("b", 0)]).unwrap());
    assert_eq!(
        owned(&t, "g"),
        vec![
            ("a".into(), vec![(0, 1), (1, 1)]),
            ("b".into(), vec![(0, 1)])
        ]
    );
    assert_eq!(t.generation("g", "a", 1), 1);
    assert!(t.is_assigned("g", "b", 0));
    assert_eq!(status(&t, "g", "a", 0), Some(Status::Assigned));
}

#[test]
fn assigned_again_while_assigned_still_counts() {
    let (t, g) = setup();
    g.assigned([("a", 0)]).unwrap();
    g.assigned([("a", 0)]).unwrap();
    assert_eq!(t.generation("g", "a", 0), 2);
    assert_eq!(owned(&t, "g"), vec![("a".into(), vec![(0, 2)])]);
}

#[test]
fn duplicates_in_one_event_count_once() {
    let (t, g) = setup();
    g.assigned([("a", 3), ("a", 3), ("a", 1), ("a", 3)])
        .unwrap();
    assert_eq!(owned(&t, "g"), vec![("a".into(), vec![(1, 1), (3, 1)])]);
    assert_eq!(t.epoch(), 1);
}

#[test]
fn revoked_removes_keeps_generation_and_marks_revoked() {
    let (t, g) = setup();
    g.assigned([("a", 0), ("a", 1)]).unwrap();
    assert!(g.revoked([("a", 1)]).unwrap());
    assert_eq!(owned(&t, "g"), vec![("a".into(), vec![(0, 1)])]);
    assert!(!t.is_assigned("g", "a", 1));
    assert_eq!(t.generation("g", "a", 1), 1);
    assert_eq!(status(&t, "g", "a", 1), Some(Status::Revoked));
}

#[test]
fn revoked_ignores_unknown_partitions_and_changes_nothing_for_them() {
    let (t, g) = setup();
    g.assigned([("a", 0)]).unwrap();
    let e = t.epoch();
    assert!(!g.revoked([("a", 5), ("zz", 0)]).unwrap());
    assert_eq!(t.epoch(), e);
    assert_eq!(owned(&t, "g"), vec![("a".into(), vec![(0, 1)])]);
    assert_eq!(t.generation("g", "zz", 0), 0);
}

#[test]
fn revoked_twice_is_a_no_op_the_second_time() {
    let (t, g) = setup();
    g.assigned([("a", 0)]).unwrap();
    assert!(g.revoked([("a", 0)]).unwrap());
    let e = t.epoch();
    assert!(!g.revoked([("a", 0)]).unwrap());
    assert_eq!(t.epoch(), e);
}

#[test]
fn topic_with_no_partitions_left_disappears_but_keeps_generations() {
    let (t, g) = setup();
    g.assigned([("a", 0), ("b", 0)]).unwrap();
    g.revoked([("a", 0)]).unwrap();
    assert_eq!(owned(&t, "g"), vec![("b".into(), vec![(0, 1)])]);
    let snap = t.snapshot();
    assert!(snap.group("g").unwrap().topic("a").is_none());
    assert_eq!(snap.generation("g", "a", 0), 1);
}

#[test]
fn assign_revoke_assign_counts_generations() {
    let (t, g) = setup();
    for round in 1..=3u64 {
        g.assigned([("a", 7)]).unwrap();
        assert_eq!(t.generation("g", "a", 7), round);
        g.revoked([("a", 7)]).unwrap();
        assert_eq!(t.generation("g", "a", 7), round);
    }
}

#[test]
fn replace_makes_the_assignment_exactly_the_list() {
    let (t, g) = setup();
    g.assigned([("a", 0), ("a", 1), ("b", 0)]).unwrap();
    assert!(g.replace([("a", 1), ("a", 2), ("c", 0)]).unwrap());
    assert_eq!(
        owned(&t, "g"),
        vec![
            ("a".into(), vec![(1, 2), (2, 1)]),
            ("c".into(), vec![(0, 1)])
        ]
    );
    assert_eq!(status(&t, "g", "a", 0), Some(Status::Revoked));
    assert_eq!(status(&t, "g", "b", 0), Some(Status::Revoked));
    assert_eq!(t.generation("g", "b", 0), 1);
}

#[test]
fn replace_with_empty_list_revokes_everything() {
    let (t, g) = setup();
    g.assigned([("a", 0)]).unwrap();
    assert!(g.replace([]).unwrap());
    assert!(owned(&t, "g").is_empty());
    assert_eq!(status(&t, "g", "a", 0), Some(Status::Revoked));
    let e = t.epoch();
    assert!(!g.replace([]).unwrap());
    assert_eq!(t.epoch(), e);
}

#[test]
fn lost_removes_all_and_marks_lost_keeping_generations() {
    let (t, g) = setup();
    g.assigned([("a", 0), ("b", 1)]).unwrap();
    g.revoked([("b", 1)]).unwrap();
    assert!(g.lost());
    assert!(owned(&t, "g").is_empty());
    assert_eq!(status(&t, "g", "a", 0), Some(Status::Lost));
    // Already revoked keys keep their status.
    assert_eq!(status(&t, "g", "b", 1), Some(Status::Revoked));
    assert_eq!(t.generation("g", "a", 0), 1);
    g.assigned([("a", 0)]).unwrap();
    assert_eq!(t.generation("g", "a", 0), 2);
}

#[test]
fn reset_removes_all_marks_lost_and_counts_as_reset() {
    let (t, g) = setup();
    g.assigned([("a", 0)]).unwrap();
    assert!(g.reset());
    assert!(owned(&t, "g").is_empty());
    assert_eq!(status(&t, "g", "a", 0), Some(Status::Lost));
    let s = g.stats();
    assert_eq!((s.reset_events, s.lost_events), (1, 0));
}

#[test]
fn lost_or_reset_with_nothing_assigned_changes_nothing() {
    let (t, g) = setup();
    assert!(!g.lost());
    assert!(!g.reset());
    assert_eq!(t.epoch(), 0);
    assert_eq!(g.stats().lost_events, 0);
}

#[test]
fn clear_removes_assignments_and_generations() {
    let (t, g) = setup();
    g.assigned([("a", 0)]).unwrap();
    g.assigned([("a", 0)]).unwrap();
    assert!(t.clear());
    assert_eq!(t.generation("g", "a", 0), 0);
    assert!(t.generations().is_empty());
    assert!(t.snapshot().groups().is_empty());
    g.assigned([("a", 0)]).unwrap();
    assert_eq!(t.generation("g", "a", 0), 1);
}

#[test]
fn clear_on_empty_tracker_does_not_advance_epoch() {
    let t = Tracker::new();
    assert!(!t.clear());
    assert_eq!(t.epoch(), 0);
}

#[test]
fn empty_lists_are_valid_and_change_nothing() {
    let (t, g) = setup();
    assert!(!g.assigned([]).unwrap());
    assert!(!g.revoked([]).unwrap());
    assert_eq!(t.epoch(), 0);
    assert!(t.snapshot().groups().is_empty());
}

#[test]
fn epoch_advances_exactly_once_per_changing_event() {
    let (t, g) = setup();
    let mut expected = 0;
    let mut check = |changed: bool| {
        expected += u64::from(changed);
        assert_eq!(t.epoch(), expected);
    };
    check(g.assigned([("a", 0), ("a", 1), ("b", 2)]).unwrap());
    check(g.revoked([("a", 0), ("b", 2)]).unwrap());
    check(g.revoked([("a", 0)]).unwrap());
    check(g.replace([("a", 1)]).unwrap());
    check(g.lost());
    check(g.lost());
    check(g.assigned([("c", 0)]).unwrap());
    check(g.reset());
    check(t.clear());
    assert_eq!(expected, 7);
}

#[test]
fn two_groups_with_the_same_topic_are_independent() {
    let t = Tracker::new();
    let a = t.group("ga").unwrap();
    let b = t.group("gb").unwrap();
    a.assigned([("orders", 0)]).unwrap();
    a.assigned([("orders", 0)]).unwrap();
    b.assigned([("orders", 0)]).unwrap();
    assert_eq!(t.generation("ga", "orders", 0), 2);
    assert_eq!(t.generation("gb", "orders", 0), 1);
    b.lost();
    assert!(t.is_assigned("ga", "orders", 0));
    assert!(!t.is_assigned("gb", "orders", 0));
    let names: Vec<_> = t
        .snapshot()
        .groups()
        .iter()
        .map(|g| g.name().to_owned())
        .collect();
    assert_eq!(names, ["ga", "gb"]);
}

#[test]
fn same_group_name_is_the_same_group() {
    let t = Tracker::new();
    t.group("g").unwrap().assigned([("a", 0)]).unwrap();
    // A re-created client gets the group again and keeps its generations.
    let again = t.group("g").unwrap();
    again.reset();
    again.assigned([("a", 0)]).unwrap();
    assert_eq!(again.generation("a", 0), 2);
}

#[test]
fn invalid_elements_reject_the_whole_event_and_name_the_element() {
    let (t, g) = setup();
    g.assigned([("a", 0)]).unwrap();
    let before = t.snapshot();
    type Case<'a> = (Vec<(&'a str, i32)>, ErrorKind, usize);
    let cases: Vec<Case<'_>> = vec![
        (vec![("a", 1), ("bad topic", 0)], ErrorKind::InvalidTopic, 1),
        (
            vec![("a", 1), ("b", 2), ("c", -1)],
            ErrorKind::InvalidPartition,
            2,
        ),
        (vec![("", 0)], ErrorKind::InvalidTopic, 0),
        (vec![("a", 1), ("..", 0)], ErrorKind::InvalidTopic, 1),
    ];
    let long = "t".repeat(250);
    let mut cases = cases;
    cases.push((
        vec![("a", 2), (long.as_str(), 0)],
        ErrorKind::InvalidTopic,
        1,
    ));
    for (list, kind, element) in cases {
        for result in [
            g.assigned(list.clone()),
            g.revoked(list.clone()),
            g.replace(list.clone()),
        ] {
            let e = result.unwrap_err();
            assert_eq!(e.kind(), kind, "{e}");
            assert_eq!(e.element(), Some(element), "{e}");
            assert!(e.to_string().starts_with(&format!("element {element}: ")));
        }
    }
    let after = t.snapshot();
    assert_eq!(after.epoch(), before.epoch());
    assert!(std::sync::Arc::ptr_eq(&before, &after));
    assert_eq!(t.generation("g", "a", 1), 0);
}

#[test]
fn invalid_group_names_are_rejected() {
    let t = Tracker::new();
    assert_eq!(t.group("").unwrap_err().kind(), ErrorKind::InvalidGroup);
    assert_eq!(
        t.group(&"g".repeat(1025)).unwrap_err().kind(),
        ErrorKind::InvalidGroup
    );
    assert!(t.group("группа").is_ok());
}

#[test]
fn generations_include_revoked_and_lost_sorted() {
    let t = Tracker::new();
    let g1 = t.group("g1").unwrap();
    let g2 = t.group("g2").unwrap();
    g2.assigned([("b", 1), ("a", 0)]).unwrap();
    g1.assigned([("z", 0), ("z", 1)]).unwrap();
    g1.revoked([("z", 1)]).unwrap();
    g2.lost();
    let gens = t.generations();
    let rows: Vec<_> = gens
        .entries()
        .map(|e| (e.group(), e.topic(), e.partition, e.generation, e.status))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("g1", "z", 0, 1, Status::Assigned),
            ("g1", "z", 1, 1, Status::Revoked),
            ("g2", "a", 0, 1, Status::Lost),
            ("g2", "b", 1, 1, Status::Lost),
        ]
    );
    assert_eq!(gens.epoch(), t.epoch());
}

#[test]
fn generations_copy_never_changes() {
    let t = Tracker::new();
    let g1 = t.group("g1").unwrap();
    let g2 = t.group("g2").unwrap();
    g1.assigned([("a", 0), ("a", 1), ("b", 3)]).unwrap();
    g2.assigned([("a", 7)]).unwrap();
    let gens = t.generations();
    let rows = |gens: &kat::Generations| -> Vec<(String, String, i32, u64, Status)> {
        gens.entries()
            .map(|e| {
                let row = (e.group(), e.topic(), e.partition, e.generation, e.status);
                (row.0.to_owned(), row.1.to_owned(), row.2, row.3, row.4)
            })
            .collect()
    };
    let before = rows(&gens);
    let json = gens.to_json();
    let second = gens.get(1).map(|e| (e.topic(), e.partition));
    // Events on the same views and on others, then everything cleared.
    g1.revoked([("a", 1)]).unwrap();
    g1.assigned([("a", 1), ("a", 2), ("c", 0)]).unwrap();
    g2.lost();
    let later = t.generations();
    t.clear();
    assert_eq!(rows(&gens), before);
    assert_eq!(gens.to_json(), json);
    assert_eq!(gens.get(1).map(|e| (e.topic(), e.partition)), second);
    assert_eq!((gens.len(), gens.epoch()), (4, 2));
    assert!(gens.get(4).is_none());
    // The copy taken in between saw those events, and is not touched by clear.
    assert_eq!(later.len(), 6);
    assert_eq!(
        later.get(1).map(|e| (e.partition, e.generation, e.status)),
        Some((1, 2, Status::Assigned))
    );
    assert_eq!(
        later.get(5).map(|e| (e.group(), e.status)),
        Some(("g2", Status::Lost))
    );
    assert!(t.generations().is_empty());
}

#[test]
fn held_snapshot_never_changes() {
    let (t, g) = setup();
    g.assigned([("a", 0)]).unwrap();
    let held = t.snapshot();
    let json = held.to_json();
    g.assigned([("a", 1)]).unwrap();
    g.revoked([("a", 0)]).unwrap();
    t.clear();
    assert_eq!(held.to_json(), json);
    assert_eq!(held.epoch(), 1);
    assert!(held.is_assigned("g", "a", 0));
}

#[test]
fn snapshot_is_sorted_by_group_topic_and_partition() {
    let t = Tracker::new();
    for name in ["m", "c", "x"] {
        let g = t.group(name).unwrap();
        g.assigned([("t9", 5), ("t1", 9), ("t1", 0), ("t5", 3), ("t1", 4)])
            .unwrap();
    }
    let snap = t.snapshot();
    let groups: Vec<_> = snap.groups().iter().map(|g| g.name()).collect();
    assert_eq!(groups, ["c", "m", "x"]);
    for g in snap.groups() {
        let topics: Vec<_> = g.topics().iter().map(|t| t.name()).collect();
        assert_eq!(topics, ["t1", "t5", "t9"]);
        let parts: Vec<_> = g.topics()[0]
            .partitions()
            .iter()
            .map(|p| p.partition)
            .collect();
        assert_eq!(parts, [0, 4, 9]);
    }
    assert_eq!(snap.partition_count(), 15);
}

#[test]
fn json_exports() {
    let t = Tracker::new();
    let g = t.group("g \"1\"").unwrap();
    g.assigned([("a", 1), ("a", 0), ("b", 2)]).unwrap();
    g.revoked([("a", 1)]).unwrap();
    assert_eq!(
        t.snapshot().to_json(),
        r#"{"epoch":2,"groups":{"g \"1\"":{"a":{"0":1},"b":{"2":1}}}}"#
    );
    assert_eq!(
        t.generations().to_json(),
        r#"{"epoch":2,"groups":{"g \"1\"":{"a":{"0":{"generation":1,"status":"assigned"},"1":{"generation":1,"status":"revoked"}},"b":{"2":{"generation":1,"status":"assigned"}}}}}"#
    );
    assert_eq!(
        Tracker::new().generations().to_json(),
        r#"{"epoch":0,"groups":{}}"#
    );
}

#[test]
fn group_stats_count_changing_events() {
    let (_t, g) = setup();
    assert_eq!(g.stats().last_change_unix_ms, 0);
    g.assigned([("a", 0), ("a", 1)]).unwrap();
    g.revoked([("a", 0)]).unwrap();
    g.revoked([("a", 0)]).unwrap(); // no change: not counted
    g.replace([("a", 2)]).unwrap(); // assigns and removes
    g.lost();
    g.assigned([("a", 0)]).unwrap();
    g.reset();
    let s = g.stats();
    assert_eq!(s.assigned_events, 3);
    assert_eq!(s.revoked_events, 2);
    assert_eq!(s.lost_events, 1);
    assert_eq!(s.reset_events, 1);
    assert!(s.last_change_unix_ms > 1_600_000_000_000);
}

#[test]
fn handle_reads_state_through_reassignment_revocation_and_clear() {
    let (t, g) = setup();
    let h = g.partition("a", 3).unwrap();
    assert_eq!(
        h.state(),
        PartitionState {
            generation: 0,
            status: None
        }
    );
    g.assigned([("a", 3)]).unwrap();
    assert!(h.state().is_owned_at(1));
    g.revoked([("a", 3)]).unwrap();
    assert_eq!(h.state().status, Some(Status::Revoked));
    assert!(!h.state().is_owned_at(1));
    g.assigned([("a", 3)]).unwrap();
    assert!(h.state().is_owned_at(2));
    assert!(!h.state().is_owned_at(1));
    g.lost();
    assert_eq!(h.state().status, Some(Status::Lost));
    t.clear();
    assert_eq!(h.state().generation, 0);
    g.assigned([("a", 3)]).unwrap();
    assert!(h.state().is_owned_at(1));
    // A second handle on the same key agrees.
    let h2 = g.partition("a", 3).unwrap();
    assert_eq!(h.state(), h2.state());
    assert_eq!((h.group(), h.topic(), h.partition()), ("g", "a", 3));
}

#[test]
fn handle_rejects_invalid_keys() {
    let (_t, g) = setup();
    assert_eq!(
        g.partition("no spaces", 0).unwrap_err().kind(),
        ErrorKind::InvalidTopic
    );
    assert_eq!(
        g.partition("a", -2).unwrap_err().kind(),
        ErrorKind::InvalidPartition
    );
}

#[test]
fn eviction_removes_least_recently_assigned_first() {
    let t = Tracker::with_generations_topics_limit(3);
    let g = t.group("g").unwrap();
    for topic in ["t1", "t2", "t3"] {
        g.assigned([(topic, 0)]).unwrap();
        g.revoked([(topic, 0)]).unwrap();
    }
    // t1 assigned again: now t2 is the least recently assigned.
    g.assigned([("t1", 0)]).unwrap();
    g.revoked([("t1", 0)]).unwrap();
    g.assigned([("t4", 0)]).unwrap();
    assert_eq!(t.generation("g", "t2", 0), 0, "t2 evicted");
    assert_eq!(t.generation("g", "t1", 0), 2);
    assert_eq!(t.generation("g", "t3", 0), 1);
    assert_eq!(t.snapshot().generations_topics(), 3);
    // Evicted topics start again at generation 1.
    g.assigned([("t2", 0)]).unwrap();
    assert_eq!(t.generation("g", "t2", 0), 1);
}

#[test]
fn eviction_skips_assigned_entries_and_may_exceed_the_limit() {
    let t = Tracker::with_generations_topics_limit(2);
    let g = t.group("g").unwrap();
    g.assigned([("t1", 0), ("t2", 0), ("t3", 0)]).unwrap();
    assert_eq!(t.snapshot().generations_topics(), 3);
    assert_eq!(t.generation("g", "t1", 0), 1);
    // Once one becomes evictable it goes at the next change.
    g.revoked([("t2", 0)]).unwrap();
    assert_eq!(t.snapshot().generations_topics(), 2);
    assert_eq!(t.generation("g", "t2", 0), 0);
    assert!(t.is_assigned("g", "t1", 0) && t.is_assigned("g", "t3", 0));
}

#[test]
fn eviction_skips_entries_with_a_live_handle() {
    let t = Tracker::with_generations_topics_limit(1);
    let g = t.group("g").unwrap();
    g.assigned([("t1", 0)]).unwrap();
    g.revoked([("t1", 0)]).unwrap();
    let h = g.partition("t1", 0).unwrap();
    g.assigned([("t2", 0)]).unwrap();
    g.revoked([("t2", 0)]).unwrap();
    assert_eq!(t.generation("g", "t1", 0), 1, "pinned by the handle");
    assert_eq!(h.state().generation, 1);
    drop(h);
    g.assigned([("t3", 0)]).unwrap();
    assert_eq!(
        t.generation("g", "t1", 0),
        0,
        "evictable once the handle is gone"
    );
}

#[test]
fn lowering_the_limit_evicts_at_once() {
    let t = Tracker::new();
    let g = t.group("g").unwrap();
    for i in 0..10 {
        let topic = format!("t{i}");
        g.assigned([(topic.as_str(), 0)]).unwrap();
        g.revoked([(topic.as_str(), 0)]).unwrap();
    }
    let e = t.epoch();
    t.set_generations_topics_limit(4).unwrap();
    assert_eq!(t.generations_topics_limit(), 4);
    assert_eq!(t.snapshot().generations_topics(), 4);
    assert_eq!(t.epoch(), e + 1);
    assert_eq!(t.generation("g", "t9", 0), 1);
    assert_eq!(t.generation("g", "t5", 0), 0);
    assert_eq!(
        t.set_generations_topics_limit(0).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn wait_for_change_returns_on_change_or_timeout() {
    let (t, g) = setup();
    assert_eq!(t.wait_for_change(0, Duration::from_millis(20)), 0);
    let waiter = {
        let t = t.clone();
        std::thread::spawn(move || t.wait_for_change(0, Duration::from_secs(30)))
    };
    std::thread::sleep(Duration::from_millis(20));
    g.assigned([("a", 0)]).unwrap();
    assert_eq!(waiter.join().unwrap(), 1);
    // An epoch already passed returns immediately.
    assert_eq!(t.wait_for_change(0, Duration::from_secs(30)), 1);
}

#[test]
fn global_tracker_is_one_instance() {
    let a = Tracker::global();
    let b = Tracker::global();
    assert!(std::ptr::eq(a, b));
    let g = a.group("core-tests-global").unwrap();
    g.assigned([("a", 0)]).unwrap();
    assert_eq!(b.generation("core-tests-global", "a", 0), 1);
}

#[test]
fn sparse_and_large_partition_numbers() {
    let (t, g) = setup();
    g.assigned([("a", i32::MAX), ("a", 0), ("a", 1_000_000)])
        .unwrap();
    assert!(t.is_assigned("g", "a", i32::MAX));
    assert!(t.is_assigned("g", "a", 1_000_000));
    assert!(!t.is_assigned("g", "a", 1));
    assert_eq!(t.generation("g", "a", i32::MAX), 1);
}

#[test]
fn reads_of_many_trackers_on_one_thread_stay_apart() {
    // More trackers than a thread caches snapshots of, read interleaved.
    let trackers: Vec<Tracker> = (0..7).map(|_| Tracker::new()).collect();
    for round in 1..=3u64 {
        for (i, t) in trackers.iter().enumerate() {
            let g = t.group("g").unwrap();
            for _ in 0..=i {
                g.assigned([("a", 0)]).unwrap();
            }
        }
        for (i, t) in trackers.iter().enumerate().rev() {
            assert_eq!(t.generation("g", "a", 0), round * (i as u64 + 1));
            assert_eq!(t.epoch(), round * (i as u64 + 1));
            assert!(t.is_assigned("g", "a", 0));
        }
    }
}

#[test]
fn a_new_tracker_never_sees_a_dropped_trackers_state() {
    for _ in 0..50 {
        let old = Tracker::new();
        old.group("g").unwrap().assigned([("a", 0)]).unwrap();
        assert_eq!(old.generation("g", "a", 0), 1);
        drop(old);
        let new = Tracker::new();
        assert_eq!(new.generation("g", "a", 0), 0);
        assert_eq!(new.epoch(), 0);
    }
}

#[test]
fn a_thread_never_reads_older_state_than_it_already_saw() {
    let (t, g) = setup();
    let writer = std::thread::spawn(move || {
        for _ in 0..20_000 {
            g.assigned([("a", 0)]).unwrap();
        }
    });
    let mut last = 0;
    while !writer.is_finished() {
        let snap = t.snapshot();
        // Whatever read comes next, it is at least as new as the snapshot.
        let epoch = t.epoch();
        let generation = t.generation("g", "a", 0);
        assert!(epoch >= snap.epoch(), "epoch {epoch} < {}", snap.epoch());
        assert!(generation >= snap.generation("g", "a", 0));
        assert!(generation >= last);
        last = generation;
    }
    writer.join().unwrap();
    assert_eq!(t.generation("g", "a", 0), 20_000);
}
