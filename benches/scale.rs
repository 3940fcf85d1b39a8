//! At scale and under hostile input: what one event or one read costs when
//! the tracker holds something a friendly benchmark never builds.
//!
//! - **Colliding names.** 20 000 topic names (72 bytes) crafted so that the
//!   key hash kat used up to commit c61ed20 (reimplemented below, unseeded)
//!   gives all of them the same 64-bit key for group [`GROUP`]: each is two
//!   32-byte segments whose second 16-byte block zeroes the hash state, so
//!   a × b names come from a + b searched segments. Time to assign them all
//!   (one event per topic, as a pattern subscription picks new topics up),
//!   one by-name read (cycling over all of them), one revoke; against the
//!   same with ordinary names of the same length.
//! - **100 000 groups.** One 1-partition event in a tracker that has seen
//!   100 000 groups (per-member names, each assigned then revoked, handle
//!   dropped), against the same event in a tracker with one group.
//! - **Events at the limit.** A 1-topic event with 50 000 owned topics and a
//!   generations limit of 60 000, at the limit (every event evicts an entry);
//!   with 20 000 owned and a limit of 1 000 (over the limit, nothing owned is
//!   evictable); each against the same tracker with the default limit.
//!
//! Setup is bounded: each setup stops at `KAT_SCALE_BUDGET_SECS` (default
//! 60 s) and measures what it reached, marked `over_budget` in the results;
//! a single call that runs past three times the budget ends the process
//! (exit status 3) after writing what was measured. The bench exits with
//! status 2 when any setup was over its budget, so a run never silently
//! reports a shrunken case. Results: `$KAT_BENCH_OUT/scale.json`.
//!
//! `cargo bench --bench scale`

mod common;

use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{write_results, GROUP};

// ---------------------------------------------------------------------------
// The previous key hash (git show c61ed20:src/name.rs), reimplemented here so
// the crafted names do not depend on kat's internals.

const OLD_SEED: u64 = 0x6b61_745f_6b65_7973;
const OLD_K: [u64; 4] = [
    0xa076_1d64_78bd_642f,
    0xe703_7ed1_a0b4_28db,
    0x8ebc_6af0_9c88_c6e3,
    0x9f89_9d8b_ade1_cbc3,
];

fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

fn load8(s: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(s[at..at + 8].try_into().unwrap())
}

fn load4(s: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes(s[at..at + 4].try_into().unwrap()))
}

fn old_bytes_hash(s: &[u8], seed: u64) -> u64 {
    let n = s.len();
    let len = n as u64;
    let (a, b) = match n {
        0 => (0, 0),
        1..=3 => (
            u64::from(s[0]) | u64::from(s[n / 2]) << 8 | u64::from(s[n - 1]) << 16,
            0,
        ),
        4..=7 => (load4(s, 0), load4(s, n - 4)),
        8..=16 => (load8(s, 0), load8(s, n - 8)),
        17..=32 => {
            let x = fold_mul(load8(s, 0) ^ OLD_K[0] ^ seed, load8(s, 8) ^ OLD_K[1]);
            let y = fold_mul(
                load8(s, n - 16) ^ OLD_K[2],
                load8(s, n - 8) ^ OLD_K[3] ^ len,
            );
            return x ^ y.rotate_left(29);
        }
        _ => return old_long_hash(s, seed),
    };
    fold_mul(
        a ^ OLD_K[0] ^ seed,
        b ^ OLD_K[1] ^ len.wrapping_mul(OLD_K[2]),
    )
}

fn old_long_hash(s: &[u8], seed: u64) -> u64 {
    let n = s.len();
    let mut acc = seed ^ (n as u64).wrapping_mul(OLD_K[3]);
    let mut at = 0;
    while at + 16 <= n {
        acc = fold_mul(load8(s, at) ^ OLD_K[0] ^ acc, load8(s, at + 8) ^ OLD_K[1]);
        at += 16;
    }
    fold_mul(
        load8(s, n - 16) ^ OLD_K[2] ^ acc,
        load8(s, n - 8) ^ OLD_K[3],
    )
}

/// The previous (group, topic) key hash.
fn old_key_hash(group: &str, topic: &str) -> u64 {
    old_bytes_hash(topic.as_bytes(), old_bytes_hash(group.as_bytes(), OLD_SEED))
}

/// The 64 bytes used to spell names (all legal in Kafka topic names).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

fn legal(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-'
}

/// Length of every name in the colliding-names case (crafted and ordinary):
/// two 32-byte segments, then an 8-byte tail.
const NAME_LEN: usize = 72;
/// The second half of each segment's zeroing block (free: any legal bytes).
const ZEROING_TAIL: &[u8; 8] = b"fixedblk";
const NAME_TAIL: &[u8; 8] = b"-collide";

/// `count` 32-byte segments that each leave the previous hash's state at
/// zero when hashed from `state`: a free 16-byte block, kept when the state
/// after it XORed with the first constant is 8 legal bytes (about one block
/// in 58 000), then a block starting with those 8 bytes, which zeroes the
/// state (so nothing before it counts any more).
fn zeroing_segments(state: u64, count: usize, salt: u8) -> Vec<[u8; 32]> {
    let mut is_legal = [false; 256];
    for b in 0..=255u8 {
        is_legal[b as usize] = legal(b);
    }
    let mut found = Vec::with_capacity(count);
    // Bytes 8..15 vary as an odometer over the alphabet.
    let mut digits = [0usize; 7];
    let mut block = *b"hostile.AAAAAAAA";
    block[15] = salt;
    let first = load8(&block, 0) ^ OLD_K[0] ^ state;
    while found.len() < count {
        let mut i = 0;
        loop {
            digits[i] += 1;
            if digits[i] < 64 {
                block[8 + i] = ALPHABET[digits[i]];
                break;
            }
            digits[i] = 0;
            block[8 + i] = ALPHABET[0];
            i += 1;
            assert!(i < 7, "alphabet exhausted");
        }
        let acc = fold_mul(first, load8(&block, 8) ^ OLD_K[1]);
        let zeroing = (acc ^ OLD_K[0]).to_le_bytes();
        if !zeroing.iter().all(|&b| is_legal[b as usize]) {
            continue;
        }
        let mut seg = [0u8; 32];
        seg[..16].copy_from_slice(&block);
        seg[16..24].copy_from_slice(&zeroing);
        seg[24..].copy_from_slice(ZEROING_TAIL);
        found.push(seg);
    }
    found
}

/// `count` distinct legal topic names of [`NAME_LEN`] bytes with the same
/// previous key hash for `group`: a segment zeroing the state left by the
/// group's seed and the length, a segment zeroing the state from zero, and
/// a fixed tail. With a segments of the first kind and b of the second,
/// a × b names collide, so about 2 √count segments are searched.
fn colliding_names(group: &str, count: usize) -> Vec<String> {
    let acc0 =
        old_bytes_hash(group.as_bytes(), OLD_SEED) ^ (NAME_LEN as u64).wrapping_mul(OLD_K[3]);
    let a = (count as f64).sqrt().ceil() as usize;
    let b = count.div_ceil(a);
    let firsts = zeroing_segments(acc0, a, b'F');
    let seconds = zeroing_segments(0, b, b'S');
    let mut names = Vec::with_capacity(count);
    'all: for x in &firsts {
        for y in &seconds {
            if names.len() == count {
                break 'all;
            }
            let mut name = Vec::with_capacity(NAME_LEN);
            name.extend_from_slice(x);
            name.extend_from_slice(y);
            name.extend_from_slice(NAME_TAIL);
            names.push(String::from_utf8(name).expect("ASCII"));
        }
    }
    // The names are what they claim: legal, distinct, one key.
    let key = old_key_hash(group, &names[0]);
    let mut seen = std::collections::HashSet::new();
    for n in &names {
        assert_eq!(n.len(), NAME_LEN);
        assert!(n.bytes().all(legal), "{n:?} is not a legal topic name");
        assert!(seen.insert(n.as_str()), "{n:?} crafted twice");
        assert_eq!(old_key_hash(group, n), key, "{n:?} does not collide");
    }
    assert_eq!(names.len(), count);
    names
}

/// `count` ordinary names of the same length, for comparison.
fn ordinary_names(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("orders.eu-west.partitioned.by-customer-region.and-cal-day-{i:011}.v1"))
        .inspect(|n| assert_eq!(n.len(), NAME_LEN))
        .collect()
}

// ---------------------------------------------------------------------------
// Budgets, the watchdog and the results.

fn budget() -> Duration {
    let s = std::env::var("KAT_SCALE_BUDGET_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(60.0);
    Duration::from_secs_f64(s)
}

/// Seconds spent measuring each row (samples are taken until it is spent).
fn measure_time() -> Duration {
    let s = std::env::var("KAT_SCALE_MEASURE_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(2.0);
    Duration::from_secs_f64(s)
}

/// Result rows so far (JSON objects), written at the end or by the watchdog.
static ROWS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// What is running now and when it must be over (the watchdog's view).
static PHASE: Mutex<Option<(String, Instant)>> = Mutex::new(None);

fn watchdog() {
    std::thread::spawn(|| loop {
        std::thread::sleep(Duration::from_millis(200));
        let phase = PHASE.lock().unwrap().clone();
        if let Some((what, deadline)) = phase {
            if Instant::now() > deadline {
                eprintln!(
                    "\n*** scale: `{what}` is still running {:.0} s past its hard limit; giving up ***\n",
                    (Instant::now() - deadline).as_secs_f64()
                );
                let mut rows = ROWS.lock().unwrap();
                rows.push(format!(
                    "{{\"row\":\"{what}\",\"case\":\"aborted\",\"status\":\"aborted\",\"note\":\"one call ran past 3x the {:.0} s budget; the process was ended\"}}",
                    budget().as_secs_f64()
                ));
                write_results("scale.json", &rows);
                std::process::exit(3);
            }
        }
    });
}

/// Marks the start of a phase the watchdog must not let run forever.
fn phase(what: &str) {
    *PHASE.lock().unwrap() = Some((what.to_owned(), Instant::now() + 3 * budget()));
}

fn json_str(s: &str) -> String {
    format!("{s:?}")
}

/// One result: `row` (the case), `case` (the variant), the median figure in
/// ns, the number of samples, and whether its setup fit the budget.
fn record(row: &str, case: &str, m: &Measured, setup: &Setup) {
    let status = if setup.complete { "ok" } else { "over_budget" };
    eprintln!(
        "scale {row:<22} {case:<28} median {:>14.1} ns  ({} samples; setup {:.2} s, {} of {}{})",
        m.median_ns,
        m.samples,
        setup.secs,
        setup.done,
        setup.of,
        if setup.complete {
            String::new()
        } else {
            "  *** SETUP OVER BUDGET ***".to_owned()
        }
    );
    ROWS.lock().unwrap().push(format!(
        "{{\"row\":{},\"case\":{},\"status\":\"{status}\",\"ns\":{:.3},\"samples\":{},\"setup_secs\":{:.3},\"done\":{},\"of\":{}}}",
        json_str(row),
        json_str(case),
        m.median_ns,
        m.samples,
        setup.secs,
        setup.done,
        setup.of
    ));
}

/// How far a setup got.
struct Setup {
    done: usize,
    of: usize,
    secs: f64,
    complete: bool,
}

/// Runs `step(i)` for i in 0..of unless the budget runs out first.
fn bounded_setup(what: &str, of: usize, mut step: impl FnMut(usize)) -> Setup {
    phase(what);
    let limit = budget();
    let start = Instant::now();
    let mut done = 0;
    while done < of {
        step(done);
        done += 1;
        if done % 64 == 0 && start.elapsed() > limit {
            eprintln!(
                "\n*** scale: setup of `{what}` over its {:.0} s budget after {done} of {of}; measuring what it reached ***\n",
                limit.as_secs_f64()
            );
            break;
        }
    }
    Setup {
        done,
        of,
        secs: start.elapsed().as_secs_f64(),
        complete: done == of,
    }
}

struct Measured {
    median_ns: f64,
    samples: usize,
}

/// Takes samples (each `sample(i)` returns the ns per operation it timed)
/// until the measuring time is spent or `max` samples were taken; at least 5.
fn measure(what: &str, max: usize, mut sample: impl FnMut(usize) -> f64) -> Measured {
    phase(what);
    let until = Instant::now() + measure_time();
    let mut v = Vec::new();
    while v.len() < max && (v.len() < 5 || Instant::now() < until) {
        v.push(sample(v.len()));
    }
    v.sort_by(f64::total_cmp);
    Measured {
        median_ns: v[v.len() / 2],
        samples: v.len(),
    }
}

fn ns(d: Duration) -> f64 {
    d.as_nanos() as f64
}

// ---------------------------------------------------------------------------
// The cases.

const COLLIDING: usize = 20_000;

fn colliding(case: &str, names: &[String]) {
    let tracker = kat::Tracker::new();
    let g = tracker.group(GROUP).expect("group");
    // Assign them all: one event per topic.
    let setup = bounded_setup(&format!("assign all ({case})"), names.len(), |i| {
        g.assigned([(names[i].as_str(), 0)]).expect("legal name");
    });
    let all = Measured {
        median_ns: setup.secs * 1e9,
        samples: 1,
    };
    record("collide_assign_all", case, &all, &setup);
    let reached = &names[..setup.done];

    // One by-name read, in batches of 64 over the topics in a fixed order.
    let mut at = 0;
    let read = measure(&format!("by-name read ({case})"), 100_000, |_| {
        let t0 = Instant::now();
        for _ in 0..64 {
            black_box(tracker.generation(black_box(GROUP), black_box(&reached[at]), black_box(0)));
            at = (at + 7919) % reached.len();
        }
        ns(t0.elapsed()) / 64.0
    });
    record("collide_read", case, &read, &setup);

    // One revoke of one topic (timed), assigned again after (not timed).
    let mut at = 0;
    let revoke = measure(&format!("revoke ({case})"), 10_000, |_| {
        let t = reached[at].as_str();
        at = (at + 7919) % reached.len();
        let t0 = Instant::now();
        g.revoked([(t, 0)]).expect("legal name");
        let d = t0.elapsed();
        g.assigned([(t, 0)]).expect("legal name");
        ns(d)
    });
    record("collide_revoke", case, &revoke, &setup);
}

/// One 1-partition event (a re-assign, so each is a real change).
fn one_event(what: &str, tracker: &kat::Tracker) -> Measured {
    let g = tracker.group("billing.measured").expect("group");
    g.assigned([("events", 0)]).expect("legal");
    measure(what, 10_000, |_| {
        let t0 = Instant::now();
        g.assigned([("events", 0)]).expect("legal");
        ns(t0.elapsed())
    })
}

const GROUPS: usize = 100_000;

fn many_groups() {
    let one = kat::Tracker::new();
    let setup = Setup {
        done: 1,
        of: 1,
        secs: 0.0,
        complete: true,
    };
    let m = one_event("1-partition event, 1 group", &one);
    record("groups_event", "1 group", &m, &setup);
    drop(one);

    let many = kat::Tracker::new();
    let setup = bounded_setup("100 000 groups", GROUPS, |i| {
        let g = many
            .group(&format!("{GROUP}/consumer-{i:06}-6f1c2d"))
            .expect("group");
        g.assigned([("orders", (i % 12) as i32)]).expect("legal");
        g.revoked([("orders", (i % 12) as i32)]).expect("legal");
    });
    let m = one_event("1-partition event, 100 000 groups", &many);
    record("groups_event", "100 000 groups seen", &m, &setup);
}

/// A tracker whose group owns `owned` one-partition topics, then assigns and
/// revokes `retired` more (kept as revoked generations, up to the limit).
fn limit_case(row: &str, case: &str, limit: usize, owned: usize, retired: usize) {
    let tracker = kat::Tracker::with_generations_topics_limit(limit);
    let g = tracker.group(GROUP).expect("group");
    let owned_names: Vec<String> = (0..owned).map(|i| format!("owned.topic-{i:06}")).collect();
    let retired_names: Vec<String> = (0..retired)
        .map(|i| format!("retired.topic-{i:06}"))
        .collect();
    // Three events; the watchdog ends the process if one never returns.
    let setup = bounded_setup(&format!("{row} setup ({case})"), 3, |step| match step {
        0 => {
            g.assigned(owned_names.iter().map(|t| (t.as_str(), 0)))
                .expect("legal");
        }
        1 => {
            g.assigned(retired_names.iter().map(|t| (t.as_str(), 0)))
                .expect("legal");
        }
        _ => {
            g.revoked(retired_names.iter().map(|t| (t.as_str(), 0)))
                .expect("legal");
        }
    });
    // The event: a new topic assigned (timed), revoked after (not timed), so
    // every event brings one more entry and the tracker stays where it is.
    let m = measure(&format!("{row} ({case})"), 10_000, |i| {
        let t = format!("fresh.topic-{i:06}");
        let t0 = Instant::now();
        g.assigned([(t.as_str(), 0)]).expect("legal");
        let d = t0.elapsed();
        g.revoked([(t.as_str(), 0)]).expect("legal");
        ns(d)
    });
    record(row, case, &m, &setup);
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("scale: bench");
        return;
    }
    watchdog();

    phase("crafting colliding names");
    let t0 = Instant::now();
    let crafted = colliding_names(GROUP, COLLIDING);
    eprintln!(
        "scale: {COLLIDING} names colliding under the previous hash crafted in {:.2} s (e.g. {:?})",
        t0.elapsed().as_secs_f64(),
        crafted[0]
    );
    colliding("ordinary names", &ordinary_names(COLLIDING));
    colliding("colliding names", &crafted);
    drop(crafted);

    many_groups();

    limit_case(
        "limit_50k",
        "limit 100 000 (below)",
        100_000,
        50_000,
        10_000,
    );
    limit_case(
        "limit_50k",
        "limit 60 000 (at the limit)",
        60_000,
        50_000,
        10_000,
    );
    limit_case("limit_20k", "limit 100 000 (below)", 100_000, 20_000, 0);
    limit_case(
        "limit_20k",
        "limit 1 000 (over, all owned)",
        1_000,
        20_000,
        0,
    );

    *PHASE.lock().unwrap() = None;
    let rows = ROWS.lock().unwrap().clone();
    write_results("scale.json", &rows);
    if rows.iter().any(|r| r.contains("\"over_budget\"")) {
        eprintln!("*** scale: at least one setup was over its budget (see above) ***");
        std::process::exit(2);
    }
}
