//! Bounded memory (SPEC §5): generations are kept after revocation, so a
//! pattern subscription that keeps seeing new topics would grow them forever
//! without the `generations_topics_limit`.
//!
//! The churn test pushes many distinct topics through one group the way a
//! pattern subscription does (a batch of new topics is assigned, then
//! revoked, then the next batch …) through a tracker limited to 10 000
//! (group, topic) entries, and checks after every event that the entry count
//! stays within the limit (plus the entries that may not be evicted: assigned
//! ones and those pinned by a live handle), and that resident memory stops
//! growing: the growth between 10 % of the churn and its end must stay under
//! 16 MiB. (Without the limit, each retained entry costs about 300 bytes:
//! 100 000 topics grow the process by about 27 MiB, 1 000 000 by about
//! 270 MiB; with it, the growth observed is about 1 MiB.) Handles taken at the start keep their entries through the whole
//! churn and read the live state.
//!
//! By default 100 000 topics are churned (a few seconds in a debug build);
//! `KAT_DEEP=1` or a release build (`cargo test --release`) churns 1 000 000;
//! `KAT_MEMORY_TOPICS=n` sets the number.

use kat::{PartitionState, Status, Tracker};

const LIMIT: usize = 10_000;
const BATCH: usize = 1_000;

fn topics_to_churn() -> usize {
    if let Some(n) = std::env::var("KAT_MEMORY_TOPICS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    let deep = std::env::var_os("KAT_DEEP").is_some_and(|v| v != "0");
    if deep || !cfg!(debug_assertions) {
        1_000_000
    } else {
        100_000
    }
}

/// Resident set size of this process, in bytes (Linux `/proc/self/status`).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS value");
    kb * 1024
}

fn topic_name(i: usize) -> String {
    format!("pattern.topic-{i:07}")
}

const MIB: f64 = 1024.0 * 1024.0;

#[test]
fn churning_distinct_topics_keeps_entries_and_memory_bounded() {
    let total = topics_to_churn();
    assert!(total >= 10 * BATCH && total % BATCH == 0);
    let t = Tracker::with_generations_topics_limit(LIMIT);
    let g = t.group("pattern-subscriber").unwrap();

    // Handles on three partitions of the first batch's first topics pin
    // their entries for the whole churn.
    let pinned_topics: Vec<String> = (0..3).map(topic_name).collect();
    let handles: Vec<_> = pinned_topics
        .iter()
        .map(|tp| g.partition(tp, 0).unwrap())
        .collect();

    let batches = total / BATCH;
    let mut rss = Vec::new();
    let mut max_entries = 0;
    let mut names: Vec<String> = Vec::with_capacity(BATCH);
    for b in 0..batches {
        names.clear();
        names.extend((b * BATCH..(b + 1) * BATCH).map(topic_name));
        let list = || names.iter().map(|n| (n.as_str(), 0));

        assert!(g.assigned(list()).unwrap());
        let s = t.snapshot();
        let entries = s.generations_topics();
        max_entries = max_entries.max(entries);
        // Assigned entries and pinned ones may not be evicted; everything
        // else is, down to the limit.
        assert!(
            entries <= LIMIT.max(BATCH + handles.len()),
            "batch {b}: {entries} entries held with {BATCH} assigned topics"
        );
        if (b + 1) * BATCH > LIMIT {
            assert_eq!(entries, LIMIT, "batch {b}: evicted more than needed");
        }
        assert_eq!(s.partition_count(), BATCH);

        assert!(g.revoked(list()).unwrap());
        let entries = t.snapshot().generations_topics();
        max_entries = max_entries.max(entries);
        assert!(
            entries <= LIMIT,
            "batch {b}: {entries} entries after revocation"
        );

        // Pinned entries survive, at their first generation, revoked.
        for h in &handles {
            let want = PartitionState {
                generation: 1,
                status: Some(Status::Revoked),
            };
            assert_eq!(h.state(), want, "batch {b}: pinned handle {h:?}");
        }
        if (b + 1) % (batches / 10) == 0 {
            rss.push(rss_bytes());
        }
    }
    for tp in &pinned_topics {
        assert_eq!(t.generation("pattern-subscriber", tp, 0), 1, "{tp} kept");
    }
    // Unpinned topics of the first batches are gone: generation 0.
    assert_eq!(t.generation("pattern-subscriber", &topic_name(3), 0), 0);
    assert_eq!(t.generation("pattern-subscriber", &topic_name(BATCH), 0), 0);

    // Once its handles are dropped, a pinned entry is evictable again: the
    // next change evicts the least recently assigned entries, these first.
    drop(handles);
    let fresh: Vec<String> = (total..total + 3).map(topic_name).collect();
    assert!(g.assigned(fresh.iter().map(|n| (n.as_str(), 0))).unwrap());
    for tp in &pinned_topics {
        assert_eq!(t.generation("pattern-subscriber", tp, 0), 0, "{tp} evicted");
    }
    assert_eq!(t.snapshot().generations_topics(), LIMIT);
    // An evicted topic assigned again starts at generation 1.
    assert!(g.assigned([(pinned_topics[0].as_str(), 0)]).unwrap());
    assert_eq!(t.generation("pattern-subscriber", &pinned_topics[0], 0), 1);

    let at_10 = rss[0];
    let end = *rss.last().unwrap();
    let growth = end.saturating_sub(at_10);
    eprintln!(
        "memory: {total} distinct topics churned in batches of {BATCH}, limit {LIMIT}: \
         max {max_entries} entries; RSS at 10 % {:.1} MiB, at the end {:.1} MiB \
         (growth {:.1} MiB); RSS by tenths: {:?} MiB",
        at_10 as f64 / MIB,
        end as f64 / MIB,
        growth as f64 / MIB,
        rss.iter()
            .map(|r| (*r as f64 / MIB * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
    assert!(
        growth < 16 << 20,
        "resident memory grew by {:.1} MiB between 10 % and the end of the churn",
        growth as f64 / MIB
    );
}

/// SPEC §5: when no entry is evictable the limit is exceeded, and the excess
/// goes away as soon as entries become evictable (revocation, dropped handle).
#[test]
fn limit_is_exceeded_only_while_nothing_is_evictable() {
    let t = Tracker::with_generations_topics_limit(4);
    let g = t.group("g").unwrap();
    let names: Vec<String> = (0..8).map(|i| format!("t{i}")).collect();

    // Eight assigned topics: nothing is evictable, all are kept.
    assert!(g.assigned(names.iter().map(|n| (n.as_str(), 0))).unwrap());
    assert_eq!(t.snapshot().generations_topics(), 8);

    // A handle pins t0 and t1 (any partition of the topic pins the entry).
    let h0 = g.partition("t0", 0).unwrap();
    let h1 = g.partition("t1", 5).unwrap();

    // Revoking everything makes six entries evictable: t2..t5 go (least
    // recently assigned first, t0 and t1 skipped), t6 and t7 stay.
    assert!(g.revoked(names.iter().map(|n| (n.as_str(), 0))).unwrap());
    let s = t.snapshot();
    assert_eq!(s.generations_topics(), 4);
    let kept: Vec<&str> = s
        .group("g")
        .unwrap()
        .known_topics()
        .iter()
        .map(|v| v.name())
        .collect();
    assert_eq!(kept, ["t0", "t1", "t6", "t7"]);
    assert_eq!(
        h0.state(),
        PartitionState {
            generation: 1,
            status: Some(Status::Revoked)
        }
    );
    assert_eq!(
        h1.state(),
        PartitionState {
            generation: 0,
            status: None
        }
    );

    // The handle reads the live state across reassignment.
    assert!(g.assigned([("t0", 0)]).unwrap());
    assert!(h0.state().is_owned_at(2));

    // Dropping h1 makes t1 evictable at the next change; t0 is assigned.
    drop(h1);
    assert!(g.assigned([("t8", 0)]).unwrap());
    let s = t.snapshot();
    let kept: Vec<&str> = s
        .group("g")
        .unwrap()
        .known_topics()
        .iter()
        .map(|v| v.name())
        .collect();
    assert_eq!(kept, ["t0", "t6", "t7", "t8"]);

    // Lowering the limit evicts at once, but never the assigned or pinned.
    t.set_generations_topics_limit(1).unwrap();
    let s = t.snapshot();
    let kept: Vec<&str> = s
        .group("g")
        .unwrap()
        .known_topics()
        .iter()
        .map(|v| v.name())
        .collect();
    assert_eq!(kept, ["t0", "t8"]);
    assert!(h0.state().is_owned_at(2));
}
