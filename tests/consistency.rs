//! What holds between the two kinds of reads on one thread — partition
//! handles (one atomic word per key) and reads by name (the published
//! snapshot) — while a writer applies rebalances, as the README's
//! "Consistency" paragraph states it:
//!
//! 1. each kind alone never goes back: successive handle reads of a key, and
//!    successive reads by name, never return an older generation;
//! 2. by name, then handle: the handle is never older than what the name
//!    read just returned (handles are written before the snapshot that
//!    carries the same event is published);
//! 3. handle, then by name: the name read may lag the handle by at most one
//!    event — it returns the handle's state or the state just before the
//!    event in flight, never anything older.
//!
//! Every event here changes a key's generation by at most one, so "at most
//! one event behind" is "generation at least the handle's minus one".

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use kat::Tracker;

const TOPIC: &str = "orders";
const PARTITIONS: i32 = 4;
const EVENTS: u64 = 20_000;
const READERS: usize = 3;

/// The writer: eager replaces that move partitions in and out, cooperative
/// assigns and revokes, and losses, over a few partitions.
fn write(tracker: &Tracker, stop: &AtomicBool, events: &AtomicU64) {
    let group = tracker.group("probe").expect("group");
    for i in 0..EVENTS {
        let p = (i % PARTITIONS as u64) as i32;
        match i % 5 {
            0 => group.replace([(TOPIC, p), (TOPIC, (p + 1) % PARTITIONS)]),
            1 => group.revoked([(TOPIC, p)]),
            2 => group.assigned([(TOPIC, p), (TOPIC, (p + 2) % PARTITIONS)]),
            3 => Ok(group.lost()),
            _ => group.assigned([(TOPIC, (p + 3) % PARTITIONS)]),
        }
        .expect("event");
        events.fetch_add(1, Ordering::Relaxed);
    }
    stop.store(true, Ordering::Release);
}

#[derive(Default, Debug)]
struct Seen {
    probes: u64,
    /// Name reads that returned the state before the handle's event.
    name_one_behind: u64,
}

fn probe(tracker: &Tracker, stop: &AtomicBool) -> Seen {
    let group = tracker.group("probe").expect("group");
    let handles: Vec<_> = (0..PARTITIONS)
        .map(|p| group.partition(TOPIC, p).expect("handle"))
        .collect();
    let mut last_handle = [0u64; PARTITIONS as usize];
    let mut last_name = [0u64; PARTITIONS as usize];
    let mut seen = Seen::default();
    loop {
        let done = stop.load(Ordering::Acquire);
        for (p, h) in handles.iter().enumerate() {
            let partition = p as i32;
            let by_handle = h.state().generation;
            let by_name = group.generation(TOPIC, partition);
            let by_handle_after = h.state().generation;
            let by_tracker = tracker.generation("probe", TOPIC, partition);

            // 1. Each kind alone is monotonic.
            assert!(
                by_handle >= last_handle[p] && by_handle_after >= by_handle,
                "p{p}: handle went back: {} -> {by_handle} -> {by_handle_after}",
                last_handle[p]
            );
            assert!(
                by_name >= last_name[p] && by_tracker >= by_name,
                "p{p}: by-name read went back: {} -> {by_name} -> {by_tracker}",
                last_name[p]
            );
            // 2. By name, then handle: the handle is never older.
            assert!(
                by_handle_after >= by_name,
                "p{p}: handle {by_handle_after} older than the name read {by_name} before it"
            );
            // 3. Handle, then by name: at most one event behind.
            assert!(
                by_name + 1 >= by_handle,
                "p{p}: name read {by_name} more than one event behind the handle {by_handle}"
            );
            if by_name + 1 == by_handle {
                seen.name_one_behind += 1;
            }
            last_handle[p] = by_handle_after;
            last_name[p] = by_tracker;
            seen.probes += 1;
        }
        if done {
            return seen;
        }
    }
}

#[test]
fn handle_and_by_name_reads_on_one_thread_keep_the_stated_order() {
    let tracker = Tracker::new();
    let stop = Arc::new(AtomicBool::new(false));
    let events = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (t, s) = (tracker.clone(), stop.clone());
            std::thread::spawn(move || probe(&t, &s))
        })
        .collect();
    write(&tracker, &stop, &events);
    let mut total = Seen::default();
    for r in readers {
        let s = r.join().expect("reader");
        total.probes += s.probes;
        total.name_one_behind += s.name_one_behind;
    }
    assert_eq!(events.load(Ordering::Relaxed), EVENTS);
    assert!(total.probes > 0);
    // The final state agrees through both kinds of reads.
    let group = tracker.group("probe").expect("group");
    for p in 0..PARTITIONS {
        let h = group.partition(TOPIC, p).expect("handle").state();
        assert_eq!(h.generation, group.generation(TOPIC, p), "p{p}");
        assert_eq!(h.is_assigned(), group.is_assigned(TOPIC, p), "p{p}");
    }
    println!(
        "{} probes; a name read one event behind the handle read before it: {} times",
        total.probes, total.name_one_behind
    );
}
