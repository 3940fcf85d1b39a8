//! Write cost and growth: the time to apply an event of `k` partitions to a
//! group that already tracks `n` (topics of 20 partitions, as in the read
//! data set of 1 000 partitions over 50 topics).

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

/// Partitions per topic in the write benchmarks.
const PER_TOPIC: usize = 20;

const CASES: [(usize, usize); 8] = [
    (1_000, 100),
    (1_000, 1_000),
    (10_000, 100),
    (10_000, 1_000),
    (10_000, 10_000),
    (100_000, 100),
    (100_000, 1_000),
    (100_000, 10_000),
];

fn writes(c: &mut Criterion) {
    let mut group = c.benchmark_group("apply_event");
    for (n, k) in CASES {
        let ds = Dataset::new(n, n / PER_TOPIC);
        let list = ds.list();
        // The event re-assigns the first k tracked partitions (k / 20 whole
        // topics): every key in it gets a new generation, so each iteration
        // is a real change and a new snapshot.
        let event = &list[..k];

        let kat = kat_with(&ds);
        let g = kat.group(GROUP).unwrap();
        group.bench_function(BenchmarkId::new(format!("kat/n{n}"), k), |b| {
            b.iter(|| black_box(g.assigned(event.iter().copied()).unwrap()))
        });
        drop((g, kat));

        let m = peer_with(MutexPeer::<Fast>::new(), &ds);
        group.bench_function(BenchmarkId::new(format!("mutex_foldhash/n{n}"), k), |b| {
            b.iter(|| m.assigned(black_box(GROUP), event))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = writes
}
criterion_main!(benches);
