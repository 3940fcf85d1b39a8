//! Ownership that ends on time: what the hot paths cost and how late an
//! expiry is seen.
//!
//! - `ownership/handle_state`: a partition handle's `state()` in a group
//!   with a poll deadline armed (must stay one atomic load), and
//!   `ownership/handle_state_no_deadline`, the same without, in the same run;
//! - `ownership/lease_acquire_release`: taking a lease and dropping it;
//! - `ownership/mark_poll`: one poll mark (`Group::mark_poll`, what
//!   `kat_check_lost` adds to a poll), and `ownership/clock_read`, one
//!   `Instant::now()` (the monotonic clock read a mark makes), in the same run;
//! - expiry detection delay: a group with a 3 ms deadline stops polling; a
//!   reader spinning on a handle measures when it sees the partition not
//!   owned, from the deadline (measured from just before the last mark, so
//!   the figure is an upper bound). Percentiles over many expiries go to
//!   `ownership_expiry.json` for `scripts/bench.sh`.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use kat::Tracker;

const EXPIRY_SAMPLES: usize = 300;
const EXPIRY_DEADLINE: Duration = Duration::from_millis(3);

fn hot_paths(c: &mut Criterion) {
    let tracker = Tracker::new();
    let group = tracker.group(common::GROUP).unwrap();
    group.assigned([("orders", 0)]).unwrap();
    group
        .set_poll_deadline(Duration::from_secs(300), Duration::ZERO)
        .unwrap();
    let handle = group.partition("orders", 0).unwrap();
    let unarmed_tracker = Tracker::new();
    let unarmed = unarmed_tracker.group(common::GROUP).unwrap();
    unarmed.assigned([("orders", 0)]).unwrap();
    let unarmed_handle = unarmed.partition("orders", 0).unwrap();
    c.bench_function("ownership/handle_state", |b| {
        b.iter(|| black_box(black_box(&handle).state()))
    });
    c.bench_function("ownership/handle_state_no_deadline", |b| {
        b.iter(|| black_box(black_box(&unarmed_handle).state()))
    });
    c.bench_function("ownership/mark_poll", |b| {
        b.iter(|| black_box(&group).mark_poll())
    });
    c.bench_function("ownership/lease_acquire_release", |b| {
        b.iter(|| {
            let lease = black_box(&handle).lease(black_box(1));
            black_box(lease.is_some())
        })
    });
    // What a poll mark is mostly made of, in the same run.
    c.bench_function("ownership/clock_read", |b| {
        b.iter(|| black_box(Instant::now()))
    });
    group
        .set_poll_deadline(Duration::ZERO, Duration::ZERO)
        .unwrap();
}

fn percentile(sorted: &[u64], q: f64) -> u64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Expiry detection delays in ns, one per expiry: as a reader saw them, and
/// as kat's timer recorded them (`PollStats::last_expiry_delay`).
fn expiry_delays() -> (Vec<u64>, Vec<u64>) {
    let tracker = Tracker::new();
    let group = tracker.group("expiry").unwrap();
    let handle = group.partition("orders", 0).unwrap();
    group
        .set_poll_deadline(EXPIRY_DEADLINE, Duration::ZERO)
        .unwrap();
    let mut delays = Vec::with_capacity(EXPIRY_SAMPLES);
    let mut recorded = Vec::with_capacity(EXPIRY_SAMPLES);
    for _ in 0..EXPIRY_SAMPLES {
        group.assigned([("orders", 0)]).unwrap();
        let before = Instant::now();
        group.mark_poll();
        let deadline = before + EXPIRY_DEADLINE;
        // The reader yields between reads: on a small machine a pure spin
        // would take the core the timer thread needs.
        while handle.state().is_assigned() {
            std::thread::yield_now();
        }
        let seen = Instant::now();
        delays.push(seen.saturating_duration_since(deadline).as_nanos() as u64);
        recorded.push(
            group
                .poll_stats()
                .last_expiry_delay
                .map_or(0, |d| d.as_nanos() as u64),
        );
    }
    group
        .set_poll_deadline(Duration::ZERO, Duration::ZERO)
        .unwrap();
    (delays, recorded)
}

fn expiry(_c: &mut Criterion) {
    let (mut seen, mut recorded) = expiry_delays();
    seen.sort_unstable();
    recorded.sort_unstable();
    let stats = |v: &[u64]| (percentile(v, 0.50), percentile(v, 0.99), *v.last().unwrap());
    let (p50, p99, max) = stats(&seen);
    let (k50, k99, kmax) = stats(&recorded);
    eprintln!(
        "expiry after a {} ms deadline, {} expiries: reader sees it p50 {:.1} µs, p99 {:.1} µs, \
         max {:.1} µs; the timer recorded it p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs after the deadline",
        EXPIRY_DEADLINE.as_millis(),
        seen.len(),
        p50 as f64 / 1e3,
        p99 as f64 / 1e3,
        max as f64 / 1e3,
        k50 as f64 / 1e3,
        k99 as f64 / 1e3,
        kmax as f64 / 1e3,
    );
    common::write_results(
        "ownership_expiry.json",
        &[format!(
            "{{\"deadline_ms\": {}, \"samples\": {}, \"seen_p50_ns\": {p50}, \"seen_p99_ns\": {p99}, \
             \"seen_max_ns\": {max}, \"recorded_p50_ns\": {k50}, \"recorded_p99_ns\": {k99}, \
             \"recorded_max_ns\": {kmax}}}",
            EXPIRY_DEADLINE.as_millis(),
            seen.len()
        )],
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = hot_paths, expiry
}
criterion_main!(benches);
