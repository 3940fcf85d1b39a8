//! Hot reads, single thread: kat against the lock-based peers on the same data
//! (1 000 and 10 000 partitions of one group over 50 topics).

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

const SIZES: [usize; 2] = [1_000, 10_000];

/// Cycles through `keys` so each iteration looks a different key up.
fn lookups<'a, R>(
    b: &mut criterion::Bencher<'_>,
    keys: &[(&'a str, i32)],
    mut read: impl FnMut(&'a str, i32) -> R,
) {
    let mut i = 0;
    b.iter(|| {
        let (t, p) = keys[i];
        i += 1;
        if i == keys.len() {
            i = 0;
        }
        black_box(read(black_box(t), black_box(p)))
    });
}

fn by_name<P: Peer>(c: &mut Criterion, name: &str, peer: &P, ds: &Dataset, n: usize) {
    let keys = ds.shuffled();
    c.benchmark_group("generation_by_name")
        .bench_function(BenchmarkId::new(name, n), |b| {
            lookups(b, &keys, |t, p| peer.generation(black_box(GROUP), t, p))
        });
    c.benchmark_group("is_assigned_by_name")
        .bench_function(BenchmarkId::new(name, n), |b| {
            lookups(b, &keys, |t, p| peer.is_assigned(black_box(GROUP), t, p))
        });
}

fn owned<P: Peer>(c: &mut Criterion, name: &str, peer: &P, n: usize) {
    c.benchmark_group("owned_partitions")
        .bench_function(BenchmarkId::new(name, n), |b| {
            b.iter(|| {
                let mut sum = 0u64;
                peer.for_each_owned(|_, _, p, g| sum += p as u64 + g);
                black_box(sum)
            })
        });
    c.benchmark_group("generations")
        .bench_function(BenchmarkId::new(name, n), |b| {
            b.iter(|| black_box(peer.generations_len()))
        });
}

fn reads(c: &mut Criterion) {
    let ds = Dataset::new(1_000, TOPICS);
    let tracker = kat_with(&ds);
    let handles: Vec<_> = ds
        .shuffled()
        .iter()
        .map(|&(t, p)| tracker.group(GROUP).unwrap().partition(t, p).unwrap())
        .collect();
    c.bench_function("handle_state/kat", |b| {
        let mut i = 0;
        b.iter(|| {
            let h = &handles[i];
            i += 1;
            if i == handles.len() {
                i = 0;
            }
            black_box(h.state())
        })
    });
    c.bench_function("snapshot_acquire/kat", |b| {
        b.iter(|| black_box(tracker.snapshot()))
    });
    c.bench_function("epoch/kat", |b| b.iter(|| black_box(tracker.epoch())));

    for n in SIZES {
        let ds = Dataset::new(n, TOPICS);
        let kat = peer_with(KatPeer::new(), &ds);
        by_name(c, "kat", &kat, &ds, n);
        // The same lookup on a snapshot the caller holds (one per batch).
        let snap = kat.tracker.snapshot();
        let keys = ds.shuffled();
        c.benchmark_group("generation_by_name")
            .bench_function(BenchmarkId::new("kat_held_snapshot", n), |b| {
                lookups(b, &keys, |t, p| snap.generation(black_box(GROUP), t, p))
            });
        drop(snap);
        owned(c, "kat", &kat, n);
        drop(kat);
        let m = peer_with(MutexPeer::<Fast>::new(), &ds);
        by_name(c, "mutex_foldhash", &m, &ds, n);
        owned(c, "mutex_foldhash", &m, n);
        drop(m);
        let r = peer_with(RwLockPeer::<Fast>::new(), &ds);
        by_name(c, "rwlock_foldhash", &r, &ds, n);
        owned(c, "rwlock_foldhash", &r, n);
        drop(r);
        by_name(
            c,
            "mutex_siphash",
            &peer_with(MutexPeer::<Sip>::new(), &ds),
            &ds,
            n,
        );
        by_name(
            c,
            "rwlock_siphash",
            &peer_with(RwLockPeer::<Sip>::new(), &ds),
            &ds,
            n,
        );
        let k = peer_with(KarafkaPeer::new(), &ds);
        owned(c, "karafka_style", &k, n);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = reads
}
criterion_main!(benches);
