//! What monitoring costs: a Prometheus scrape (text built from one snapshot)
//! of `n` owned partitions, the wait-free health and history reads, parsing
//! and stripping a librdkafka statistics document, and what recording the
//! history adds to an event (the same event on a tracker, measured here next
//! to `apply_event` in `writes.rs`).
//!
//! `cargo bench --bench observability -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kat::{MetricsFormat, Tracker};

/// A tracker whose group `g/0` owns `n` partitions, 20 per topic.
fn tracker_with(n: usize) -> Tracker {
    let t = Tracker::new();
    let g = t.group("g/0").unwrap();
    let topics: Vec<String> = (0..n.div_ceil(20))
        .map(|i| format!("topic-{i:05}"))
        .collect();
    let list: Vec<(&str, i32)> = (0..n)
        .map(|i| (topics[i / 20].as_str(), (i % 20) as i32))
        .collect();
    g.assigned(list.iter().copied()).unwrap();
    g.revoked(list[..1].iter().copied()).unwrap();
    g.assigned(list[..1].iter().copied()).unwrap();
    t
}

/// A librdkafka-shaped statistics document for `n` partitions of one topic.
fn stats_doc(n: usize) -> String {
    let parts: Vec<String> = (-1..n as i32)
        .map(|p| format!("\"{p}\": {{ \"partition\":{p}, \"broker\":1, \"leader\":1, \"desired\":true, \"fetch_state\":\"active\", \"committed_offset\":100, \"consumer_lag\":5, \"msgs\":1000 }}"))
        .collect();
    format!(
        "{{ \"name\": \"c#consumer-1\", \"type\": \"consumer\", \"ts\":1, \"brokers\":{{}}, \"topics\":{{ \"topic-00000\": {{ \"topic\":\"topic-00000\", \"partitions\":{{ {} }} }} }}, \"cgrp\": {{ \"state\":\"up\", \"join_state\":\"steady\", \"rebalance_age\":10, \"rebalance_cnt\":2, \"rebalance_reason\":\"x\", \"assignment_size\":{n} }} }}",
        parts.join(", ")
    )
}

fn observability(c: &mut Criterion) {
    let mut scrape = c.benchmark_group("scrape");
    for n in [100usize, 1_000, 10_000] {
        let t = tracker_with(n);
        let mut buf = String::new();
        scrape.bench_function(BenchmarkId::new("prometheus", n), |b| {
            b.iter(|| {
                buf.clear();
                t.write_metrics(MetricsFormat::Prometheus, &mut buf);
                black_box(buf.len())
            })
        });
    }
    scrape.finish();

    let t = tracker_with(1_000);
    let g = t.group("g/0").unwrap();
    c.bench_function("health", |b| b.iter(|| black_box(g.health())));
    c.bench_function("history", |b| b.iter(|| black_box(g.history().len())));

    let mut stats = c.benchmark_group("rdkafka_stats");
    for n in [20usize, 200] {
        let doc = stats_doc(n);
        let t = tracker_with(n);
        let g = t.group("g/0").unwrap();
        stats.bench_function(BenchmarkId::new("record", n), |b| {
            b.iter(|| black_box(g.record_rdkafka_stats(&doc).unwrap()))
        });
        stats.bench_function(BenchmarkId::new("strip", n), |b| {
            b.iter(|| black_box(g.strip_rdkafka_stats(&doc).unwrap().len()))
        });
    }
    stats.finish();

    // An event of k partitions on a group that owns 10 000: what
    // `writes.rs` measures, with the history and health recording included.
    let mut events = c.benchmark_group("event_with_history");
    for k in [100usize, 10_000] {
        let t = tracker_with(10_000);
        let g = t.group("g/0").unwrap();
        let topics: Vec<String> = (0..k.div_ceil(20))
            .map(|i| format!("topic-{i:05}"))
            .collect();
        let list: Vec<(&str, i32)> = (0..k)
            .map(|i| (topics[i / 20].as_str(), (i % 20) as i32))
            .collect();
        events.bench_function(BenchmarkId::new("assigned/n10000", k), |b| {
            b.iter(|| black_box(g.assigned(list.iter().copied()).unwrap()))
        });
    }
    events.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = observability
}
criterion_main!(benches);
