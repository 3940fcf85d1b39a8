//! librdkafka's statistics handed to kat by real consumers on the mock
//! cluster (their `stats_cb`, every 100 ms): kat keeps and exposes the
//! `cgrp` fields, and the stripped JSON lists exactly the partitions each
//! member owns, through cooperative rebalances as a second member joins.

mod mock;

use std::collections::BTreeSet;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use kat::{Group, MetricsFormat, Tracker};
use mock::Cluster;
use rdkafka_sys::*;

const TOPICS: &[(&str, i32)] = &[("orders", 6)];

/// What one consumer's callbacks share.
struct Probe {
    group: Group,
    raw: Mutex<String>,
    stripped: Mutex<String>,
    stats: AtomicUsize,
    failures: Mutex<Vec<String>>,
    stop: AtomicBool,
}

unsafe extern "C" fn rebalance_cb(
    rk: *mut rd_kafka_t,
    err: rd_kafka_resp_err_t,
    list: *mut rd_kafka_topic_partition_list_t,
    opaque: *mut c_void,
) {
    // SAFETY: the opaque is the consumer's Probe, alive until rd_kafka_destroy.
    let probe = unsafe { &*(opaque as *const Probe) };
    // SAFETY: librdkafka's own arguments, during the callback.
    if let Err(e) = unsafe { kat::rdkafka::rebalance(&probe.group, rk, err, list) } {
        probe.failures.lock().unwrap().push(e.to_string());
    }
}

unsafe extern "C" fn stats_cb(
    _rk: *mut rd_kafka_t,
    json: *mut c_char,
    json_len: usize,
    opaque: *mut c_void,
) -> c_int {
    // SAFETY: as above; librdkafka passes `json_len` readable bytes.
    let (probe, bytes) = unsafe {
        (
            &*(opaque as *const Probe),
            std::slice::from_raw_parts(json as *const u8, json_len),
        )
    };
    let text = String::from_utf8_lossy(bytes).into_owned();
    match (
        probe.group.record_rdkafka_stats(&text),
        probe.group.strip_rdkafka_stats(&text),
    ) {
        (Ok(_), Ok(stripped)) => {
            *probe.raw.lock().unwrap() = text;
            *probe.stripped.lock().unwrap() = stripped;
            probe.stats.fetch_add(1, Ordering::SeqCst);
        }
        (Err(e), _) | (_, Err(e)) => probe.failures.lock().unwrap().push(e.to_string()),
    }
    0 // librdkafka frees the JSON
}

struct Rk(*mut rd_kafka_t);
// SAFETY: librdkafka handles may be used from any thread.
unsafe impl Send for Rk {}

struct Member {
    probe: Arc<Probe>,
    thread: Option<JoinHandle<()>>,
}

impl Member {
    fn start(cluster: &Cluster, tracker: &Tracker, index: usize) -> Member {
        let probe = Arc::new(Probe {
            group: tracker.group(&format!("stats/{index}")).unwrap(),
            raw: Mutex::new(String::new()),
            stripped: Mutex::new(String::new()),
            stats: AtomicUsize::new(0),
            failures: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let settings = [
            ("bootstrap.servers", cluster.bootstraps()),
            ("group.id", "stats"),
            ("client.id", "stats-member"),
            ("enable.auto.commit", "false"),
            ("partition.assignment.strategy", "cooperative-sticky"),
            ("session.timeout.ms", "1500"),
            ("heartbeat.interval.ms", "100"),
            ("statistics.interval.ms", "100"),
        ];
        // SAFETY: a configuration and handle we own; the opaque (the Arc'd
        // Probe) outlives the consumer, destroyed on the poll thread first.
        let rk = unsafe {
            let conf = rd_kafka_conf_new();
            for (k, v) in settings {
                let (k, v) = (CString::new(k).unwrap(), CString::new(v).unwrap());
                let mut err = [0 as c_char; 256];
                let r = rd_kafka_conf_set(conf, k.as_ptr(), v.as_ptr(), err.as_mut_ptr(), 256);
                assert_eq!(r, rd_kafka_conf_res_t::RD_KAFKA_CONF_OK);
            }
            rd_kafka_conf_set_opaque(conf, Arc::as_ptr(&probe) as *mut c_void);
            rd_kafka_conf_set_rebalance_cb(conf, Some(rebalance_cb));
            rd_kafka_conf_set_stats_cb(conf, Some(stats_cb));
            let mut err = [0 as c_char; 256];
            let rk = rd_kafka_new(
                rd_kafka_type_t::RD_KAFKA_CONSUMER,
                conf,
                err.as_mut_ptr(),
                256,
            );
            assert!(!rk.is_null(), "{:?}", CStr::from_ptr(err.as_ptr()));
            rd_kafka_poll_set_consumer(rk);
            let list = mock::partition_list(&[("orders", -1)]);
            assert_eq!(
                rd_kafka_subscribe(rk, list),
                rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
            );
            rd_kafka_topic_partition_list_destroy(list);
            Rk(rk)
        };
        let p = probe.clone();
        let thread = thread::spawn(move || {
            let rk = rk;
            // SAFETY: only this thread polls `rk`, destroyed at the end.
            unsafe {
                while !p.stop.load(Ordering::SeqCst) {
                    let msg = rd_kafka_consumer_poll(rk.0, 50);
                    if !msg.is_null() {
                        rd_kafka_message_destroy(msg);
                    }
                }
                rd_kafka_consumer_close(rk.0);
                rd_kafka_destroy(rk.0);
            }
        });
        Member {
            probe,
            thread: Some(thread),
        }
    }

    fn owned(&self) -> BTreeSet<i32> {
        mock::owned(&self.probe.group)
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// The partition keys under `topics.orders.partitions` of a statistics
    /// document.
    fn listed(json: &str) -> BTreeSet<i32> {
        let json = &compact(json);
        let Some(t) = json.find("\"topics\":{\"orders\":{") else {
            return BTreeSet::new();
        };
        let rest = &json[t..];
        let start = rest.find("\"partitions\":{").expect("partitions") + "\"partitions\":{".len();
        let mut keys = BTreeSet::new();
        let (mut depth, mut in_str, mut key_start) = (0, false, None);
        for (i, c) in rest[start..].char_indices() {
            match c {
                '"' => {
                    in_str = !in_str;
                    if depth == 0 {
                        if in_str {
                            key_start = Some(start + i + 1);
                        } else if let Some(k) = key_start.take() {
                            keys.insert(rest[k..start + i].parse().expect("partition key"));
                        }
                    }
                }
                '{' if !in_str => depth += 1,
                '}' if !in_str => {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                }
                _ => {}
            }
        }
        keys
    }

    /// Waits for statistics taken after the tracker settled at `owned`.
    fn fresh_stats(&self, owned: &BTreeSet<i32>) -> (String, String) {
        let started = Instant::now();
        loop {
            let failures = self.probe.failures.lock().unwrap().clone();
            assert!(failures.is_empty(), "{failures:?}");
            let stripped = self.probe.stripped.lock().unwrap().clone();
            let cgrp = self.probe.group.rdkafka_cgrp();
            let steady = cgrp.as_ref().is_some_and(|c| {
                c.join_state == "steady" && c.assignment_size == Some(owned.len() as u64)
            });
            if steady && Self::listed(&stripped) == *owned {
                return (self.probe.raw.lock().unwrap().clone(), stripped);
            }
            assert!(
                started.elapsed() < mock::PATIENCE,
                "no statistics matching {owned:?}: cgrp {cgrp:?}, stripped partitions {:?}",
                Self::listed(&stripped)
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn close(mut self) {
        self.probe.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        let failures = self.probe.failures.lock().unwrap().clone();
        assert!(failures.is_empty(), "{failures:?}");
    }
}

/// `json` without the whitespace outside strings (librdkafka pads its JSON).
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_str, mut escaped) = (false, false);
    for c in json.chars() {
        if in_str {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
        } else if !c.is_whitespace() {
            in_str = c == '"';
            out.push(c);
        }
    }
    out
}

fn wait(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < mock::PATIENCE, "timed out: {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn statistics_of_real_consumers_are_kept_and_stripped_to_what_each_owns() {
    let _serial = mock::serial();
    let cluster = Cluster::new(1, TOPICS);
    let tracker = Tracker::new();
    let a = Member::start(&cluster, &tracker, 0);
    wait("a owns everything", || a.owned().len() == 6);
    let (raw, stripped) = a.fresh_stats(&a.owned());
    assert!(stripped.len() < raw.len());
    assert!(
        compact(&raw).contains("\"-1\":{"),
        "librdkafka lists its internal partition"
    );
    assert!(!stripped.contains("\"-1\":{"));
    let cgrp = a.probe.group.rdkafka_cgrp().unwrap();
    assert_eq!(cgrp.state, "up");
    assert!(cgrp.rebalance_cnt >= 1, "{cgrp:?}");

    let b = Member::start(&cluster, &tracker, 1);
    wait("a and b share the topic", || {
        let (oa, ob) = (a.owned(), b.owned());
        oa.len() == 3 && ob.len() == 3 && oa.is_disjoint(&ob)
    });
    let (raw_a, stripped_a) = a.fresh_stats(&a.owned());
    let (_, stripped_b) = b.fresh_stats(&b.owned());
    // librdkafka reports every partition to both; kat keeps each one's own.
    assert_eq!(
        Member::listed(&raw_a).len(),
        7,
        "0..6 and -1 in the raw stats"
    );
    assert_eq!(Member::listed(&stripped_a), a.owned());
    assert_eq!(Member::listed(&stripped_b), b.owned());
    assert!(a.probe.group.rdkafka_cgrp().unwrap().rebalance_cnt >= 2);
    assert!(a.probe.stats.load(Ordering::SeqCst) > 2);

    let text = tracker.metrics(MetricsFormat::Prometheus);
    assert!(
        text.contains("kat_rdkafka_cgrp_info{messaging_consumer_group_name=\"stats\",kat_group=\"stats/0\",state=\"up\",join_state=\"steady\""),
        "{text}"
    );
    assert!(text.contains("kat_rdkafka_cgrp_assigned_partitions{messaging_consumer_group_name=\"stats\",kat_group=\"stats/1\"} 3\n"), "{text}");
    b.close();
    a.close();
}
