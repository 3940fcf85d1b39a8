//! Reads while rebalances happen: one writer thread applies events of `k`
//! partitions back to back (revoke the k, assign them again), while one
//! reader thread times every single `is_assigned` by name and records it in
//! a histogram. The lock-based peers apply each event inside their write
//! lock, as a real rebalance callback would.
//!
//! Clock: `std::time::Instant` (the vDSO `clock_gettime` over the TSC here);
//! each sample includes the cost of one clock read, reported separately as
//! `clock` so it can be told apart from the read itself.

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

/// Partitions tracked (over 50 topics) during the measurement.
const TRACKED: usize = 10_000;
const EVENT_SIZES: [usize; 3] = [100, 1_000, 10_000];

fn seconds() -> Duration {
    let s = std::env::var("KAT_LATENCY_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(s)
}

/// Times the reads of `keys` on `peer` for `dur` while another thread keeps
/// applying `event` (a slice of the tracked keys) to it.
fn run<P: Peer>(peer: P, keys: &[(String, i32)], event: &[(String, i32)], dur: Duration) -> Run {
    let peer = Arc::new(peer);
    let event = event.to_vec();
    let stop = Arc::new(AtomicBool::new(false));
    let events = Arc::new(AtomicU64::new(0));
    let writer = {
        let (peer, stop, events) = (peer.clone(), stop.clone(), events.clone());
        std::thread::spawn(move || {
            let list: Vec<(&str, i32)> = event.iter().map(|(t, p)| (t.as_str(), *p)).collect();
            while !stop.load(Ordering::Relaxed) {
                peer.revoked(GROUP, &list);
                peer.assigned(GROUP, &list);
                events.fetch_add(2, Ordering::Relaxed);
            }
        })
    };
    // Let the writer get going before measuring.
    while events.load(Ordering::Relaxed) < 2 {
        std::thread::yield_now();
    }
    let mut hist = Histogram::new();
    let keys: Vec<(&str, i32)> = keys.iter().map(|(t, p)| (t.as_str(), *p)).collect();
    let start = Instant::now();
    let end = start + dur;
    let mut i = 0;
    'outer: loop {
        for _ in 0..1024 {
            let (t, p) = keys[i];
            i += 1;
            if i == keys.len() {
                i = 0;
            }
            let t0 = Instant::now();
            black_box(peer.is_assigned(black_box(GROUP), t, p));
            let dt = t0.elapsed();
            hist.record(dt.as_nanos() as u64);
        }
        if Instant::now() >= end {
            break 'outer;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer thread");
    Run {
        hist,
        events: events.load(Ordering::Relaxed),
        secs,
    }
}

/// What one measurement gathered.
struct Run {
    hist: Histogram,
    events: u64,
    secs: f64,
}

/// The cost of the clock pair alone, measured the same way.
fn clock_alone(dur: Duration) -> Run {
    let mut hist = Histogram::new();
    let start = Instant::now();
    let end = start + dur;
    while Instant::now() < end {
        for _ in 0..1024 {
            let t0 = Instant::now();
            let dt = t0.elapsed();
            hist.record(dt.as_nanos() as u64);
        }
    }
    Run {
        hist,
        events: 0,
        secs: start.elapsed().as_secs_f64(),
    }
}

/// Prints and returns (as JSON) the per-read quantiles, and the same
/// corrected for coordinated omission at the reader's own mean interval.
fn row(name: &str, k: usize, r: &Run) -> String {
    let h = &r.hist;
    let interval = (r.secs * 1e9 / h.count() as f64) as u64;
    let c = h.corrected(interval);
    let q = |h: &Histogram| {
        (
            h.quantile(0.5),
            h.quantile(0.99),
            h.quantile(0.999),
            h.max(),
        )
    };
    let (p50, p99, p999, max) = q(h);
    let (c50, c99, c999, _) = q(&c);
    println!(
        "{name:<16} k={k:>6}  p50 {p50:>6} ns  p99 {p99:>8} ns  p99.9 {p999:>8} ns  max {max:>9} ns  \
         | corrected p99 {c99:>9} ns  p99.9 {c999:>9} ns  ({} reads, {} events, {:.0} events/s)",
        h.count(),
        r.events,
        r.events as f64 / r.secs
    );
    format!(
        "{{\"tracker\":\"{name}\",\"k\":{k},\"p50\":{p50},\"p99\":{p99},\"p999\":{p999},\"max\":{max},\
         \"co_interval\":{interval},\"co_p50\":{c50},\"co_p99\":{c99},\"co_p999\":{c999},\
         \"reads\":{},\"events\":{},\"secs\":{:.2}}}",
        h.count(),
        r.events,
        r.secs
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("rebalance_latency: bench");
        return;
    }
    let dur = seconds();
    let ds = Dataset::new(TRACKED, TOPICS);
    let keys: Vec<(String, i32)> = ds
        .shuffled()
        .iter()
        .map(|&(t, p)| (t.to_owned(), p))
        .collect();
    let all: Vec<(String, i32)> = ds.list().iter().map(|&(t, p)| (t.to_owned(), p)).collect();
    let mut out = Vec::new();

    let clock = clock_alone(Duration::from_millis(500));
    out.push(row("clock", 0, &clock));

    for k in EVENT_SIZES {
        // Every (TRACKED / k)-th key: the event touches all 50 topics.
        let event: Vec<(String, i32)> = all.iter().step_by(TRACKED / k).cloned().collect();
        assert_eq!(event.len(), k);
        let r = run(peer_with(KatPeer::new(), &ds), &keys, &event, dur);
        out.push(row("kat", k, &r));
        let r = run(peer_with(MutexPeer::<Fast>::new(), &ds), &keys, &event, dur);
        out.push(row("mutex_foldhash", k, &r));
        let r = run(
            peer_with(RwLockPeer::<Fast>::new(), &ds),
            &keys,
            &event,
            dur,
        );
        out.push(row("rwlock_foldhash", k, &r));
    }
    write_results("rebalance_latency.json", &out);
}
