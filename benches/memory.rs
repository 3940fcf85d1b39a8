//! Memory per tracked partition, measured with a counting global allocator:
//! bytes allocated minus bytes freed while a tracker comes to hold `n`
//! partitions, half of them still assigned and half revoked (generations
//! retained), divided by `n`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use common::*;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Live heap bytes a tracker built by `build` holds, per partition.
fn measure<T>(n: usize, build: impl FnOnce() -> T) -> (isize, f64) {
    let before = LIVE.load(Ordering::Relaxed);
    let held = build();
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    drop(held);
    (bytes, bytes as f64 / n as f64)
}

/// Assigns the whole data set, revokes every other topic's partitions, then
/// re-assigns and revokes once more so generations reach 2.
fn churn<P: Peer>(peer: &P, ds: &Dataset) {
    let all = ds.list();
    let half: Vec<_> = all
        .iter()
        .copied()
        .filter(|(t, _)| ds.topics.iter().position(|x| x == t).unwrap() % 2 == 1)
        .collect();
    peer.assigned(GROUP, &all);
    peer.revoked(GROUP, &half);
    peer.assigned(GROUP, &half);
    peer.revoked(GROUP, &half);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("memory: bench");
        return;
    }
    let mut out = Vec::new();
    for (layout, per_topic) in [("20 per topic", 20usize), ("50 topics", 0)] {
        for n in [1_000usize, 10_000, 100_000] {
            let topics = n.checked_div(per_topic).unwrap_or(TOPICS);
            let ds = Dataset::new(n, topics);
            let rows: [(&str, (isize, f64)); 3] = [
                (
                    "kat",
                    measure(n, || {
                        let p = KatPeer::new();
                        churn(&p, &ds);
                        p
                    }),
                ),
                (
                    "mutex_foldhash",
                    measure(n, || {
                        let p = MutexPeer::<Fast>::new();
                        churn(&p, &ds);
                        p
                    }),
                ),
                (
                    "karafka_style",
                    measure(n, || {
                        let p = KarafkaPeer::new();
                        churn(&p, &ds);
                        p
                    }),
                ),
            ];
            for (name, (bytes, per)) in rows {
                println!(
                    "memory {layout:>12} n={n:>6} {name:<15} {bytes:>10} B  {per:>7.1} B/partition"
                );
                out.push(format!(
                    "{{\"tracker\":\"{name}\",\"layout\":\"{layout}\",\"n\":{n},\"bytes\":{bytes},\"per_partition\":{per:.1}}}"
                ));
            }
        }
    }
    write_results("memory.json", &out);
}
