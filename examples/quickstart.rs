//! The Rust quick start from the README: feed a few rebalances by hand and
//! read the tracker the ways a consumer would.
//!
//! `cargo run --example quickstart`

use kat::Tracker;

fn main() -> Result<(), kat::Error> {
    let tracker = Tracker::global();
    let group = tracker.group("billing")?;

    // What a rebalance callback records (the `rdkafka` feature and
    // include/kat_rdkafka.h do this for librdkafka consumers).
    group.assigned([("orders", 0), ("orders", 1), ("refunds", 0)])?;

    // A long job remembers the generation it started at...
    let handle = group.partition("orders", 1)?;
    let started_at = handle.state().generation;

    group.revoked([("orders", 1)])?; // another member takes it over
    group.assigned([("orders", 1)])?; // and it comes back (A -> B -> A)

    // ...and fences its side effect with one atomic load.
    let state = handle.state();
    println!(
        "orders/1: generation {} (job started at {started_at}), still ours at that generation: {}",
        state.generation,
        state.is_owned_at(started_at)
    );

    let snapshot = tracker.snapshot();
    for g in snapshot.groups() {
        for t in g.topics() {
            for (partition, generation) in t.assigned() {
                println!(
                    "{} {}/{partition} generation {generation}",
                    g.name(),
                    t.name()
                );
            }
        }
    }
    println!("{}", tracker.generations().to_json());
    Ok(())
}
