//! kat against `rd_kafka_assignment()`, the only "which partitions do I own"
//! query librdkafka offers, on a real consumer of librdkafka's mock cluster
//! that owns 1 000 partitions (50 topics of 20). The consumer's rebalance
//! callback also feeds a kat tracker, so both answer for the same partitions.
//!
//! Measured idle (nobody polls the consumer) and while another thread keeps
//! polling it, as an application's consumer loop would.

mod common;

use std::ffi::{c_void, CStr, CString};
use std::hint::black_box;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use criterion::{criterion_group, criterion_main, Criterion};
use rdkafka_sys::*;

const PARTITIONS: usize = 1_000;

/// A librdkafka handle shared with the polling thread.
#[derive(Clone, Copy)]
struct Rk(*mut rd_kafka_t);
// SAFETY: librdkafka handles may be used from any thread; the handle outlives
// the polling thread (it is joined before the handle is destroyed).
unsafe impl Send for Rk {}

fn set(conf: *mut rd_kafka_conf_t, key: &str, value: &str) {
    let (k, v) = (CString::new(key).unwrap(), CString::new(value).unwrap());
    let mut err = [0 as std::ffi::c_char; 256];
    // SAFETY: conf is a live configuration; strings are NUL-terminated.
    let r = unsafe { rd_kafka_conf_set(conf, k.as_ptr(), v.as_ptr(), err.as_mut_ptr(), err.len()) };
    assert_eq!(r, rd_kafka_conf_res_t::RD_KAFKA_CONF_OK, "{key}={value}");
}

/// The (topic, partition) pairs of a librdkafka list.
///
/// # Safety
/// `list` must be a live partition list.
unsafe fn pairs(list: *const rd_kafka_topic_partition_list_t) -> Vec<(String, i32)> {
    // SAFETY: per the contract, `elems` holds `cnt` initialised elements.
    let elems = unsafe { std::slice::from_raw_parts((*list).elems, (*list).cnt as usize) };
    elems
        .iter()
        // SAFETY: each element's topic is a NUL-terminated string.
        .map(|e| {
            (
                unsafe { CStr::from_ptr(e.topic) }
                    .to_str()
                    .unwrap()
                    .to_owned(),
                e.partition,
            )
        })
        .collect()
}

/// Assigns what the group coordinator hands out and records it in kat.
unsafe extern "C" fn rebalance_cb(
    rk: *mut rd_kafka_t,
    err: rd_kafka_resp_err_t,
    partitions: *mut rd_kafka_topic_partition_list_t,
    opaque: *mut c_void,
) {
    // SAFETY: the opaque is the `kat::Group` owned by `Consumer`, alive as
    // long as the consumer; the partition list is live during the callback.
    let group = unsafe { &*(opaque as *const kat::Group) };
    let list = unsafe { pairs(partitions) };
    let list = list.iter().map(|(t, p)| (t.as_str(), *p));
    match err {
        rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
            // SAFETY: rk and partitions come from librdkafka for this call.
            let r = unsafe { rd_kafka_assign(rk, partitions) };
            assert_eq!(r, rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR);
            group.replace(list).expect("valid list");
        }
        _ => {
            // SAFETY: as above.
            unsafe { rd_kafka_assign(rk, ptr::null()) };
            group.revoked(list).expect("valid list");
        }
    }
}

struct Consumer {
    rk: *mut rd_kafka_t,
    mock_owner: *mut rd_kafka_t,
    mcluster: *mut rd_kafka_mock_cluster_t,
    group: Box<kat::Group>,
}

impl Consumer {
    /// A consumer of a fresh mock cluster, polled until it owns all
    /// [`PARTITIONS`] partitions.
    fn start(tracker: &kat::Tracker) -> Consumer {
        let group = Box::new(tracker.group(GROUP).unwrap());
        let mut errstr = [0 as std::ffi::c_char; 512];
        // SAFETY: plain librdkafka setup calls with live arguments; every
        // handle is released in `Drop`.
        unsafe {
            let pconf = rd_kafka_conf_new();
            set(pconf, "log_level", "3");
            let mock_owner = rd_kafka_new(
                rd_kafka_type_t::RD_KAFKA_PRODUCER,
                pconf,
                errstr.as_mut_ptr(),
                errstr.len(),
            );
            assert!(!mock_owner.is_null(), "producer for the mock cluster");
            let mcluster = rd_kafka_mock_cluster_new(mock_owner, 1);
            assert!(!mcluster.is_null(), "mock cluster");
            rd_kafka_mock_group_initial_rebalance_delay_ms(mcluster, 0);
            let topics = Dataset::new(PARTITIONS, TOPICS).topics;
            for t in &topics {
                let ct = CString::new(t.as_str()).unwrap();
                let r = rd_kafka_mock_topic_create(
                    mcluster,
                    ct.as_ptr(),
                    (PARTITIONS / TOPICS) as i32,
                    1,
                );
                assert_eq!(r, rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR);
            }
            let bootstraps = CStr::from_ptr(rd_kafka_mock_cluster_bootstraps(mcluster))
                .to_str()
                .unwrap()
                .to_owned();

            let conf = rd_kafka_conf_new();
            set(conf, "bootstrap.servers", &bootstraps);
            set(conf, "group.id", GROUP);
            set(conf, "log_level", "3");
            set(conf, "enable.auto.commit", "false");
            rd_kafka_conf_set_rebalance_cb(conf, Some(rebalance_cb));
            rd_kafka_conf_set_opaque(conf, &*group as *const kat::Group as *mut c_void);
            let rk = rd_kafka_new(
                rd_kafka_type_t::RD_KAFKA_CONSUMER,
                conf,
                errstr.as_mut_ptr(),
                errstr.len(),
            );
            assert!(!rk.is_null(), "consumer");
            rd_kafka_poll_set_consumer(rk);

            let list = rd_kafka_topic_partition_list_new(TOPICS as i32);
            for t in &topics {
                let ct = CString::new(t.as_str()).unwrap();
                rd_kafka_topic_partition_list_add(list, ct.as_ptr(), -1); // RD_KAFKA_PARTITION_UA
            }
            let r = rd_kafka_subscribe(rk, list);
            rd_kafka_topic_partition_list_destroy(list);
            assert_eq!(r, rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR);

            let consumer = Consumer {
                rk,
                mock_owner,
                mcluster,
                group,
            };
            let deadline = Instant::now() + Duration::from_secs(60);
            while consumer.owned() < PARTITIONS {
                assert!(
                    Instant::now() < deadline,
                    "consumer never got its assignment"
                );
                let msg = rd_kafka_consumer_poll(rk, 100);
                if !msg.is_null() {
                    rd_kafka_message_destroy(msg);
                }
            }
            consumer
        }
    }

    /// `rd_kafka_assignment()` and the destruction of the list it returns.
    fn owned(&self) -> usize {
        let mut list = ptr::null_mut();
        // SAFETY: rk is live; the list is destroyed before returning.
        unsafe {
            let r = rd_kafka_assignment(self.rk, &mut list);
            assert_eq!(r, rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR);
            let n = (*list).cnt as usize;
            rd_kafka_topic_partition_list_destroy(list);
            n
        }
    }

    /// `rd_kafka_assignment()`, then a visit of each element.
    fn owned_sum(&self) -> u64 {
        let mut list = ptr::null_mut();
        // SAFETY: as in `owned`; elements are read before the list is destroyed.
        unsafe {
            rd_kafka_assignment(self.rk, &mut list);
            let elems = std::slice::from_raw_parts((*list).elems, (*list).cnt as usize);
            let sum = elems
                .iter()
                .map(|e| e.partition as u64 + (*e.topic) as u64)
                .sum();
            rd_kafka_topic_partition_list_destroy(list);
            sum
        }
    }

    /// Whether one partition is owned, the librdkafka way.
    fn owns(&self, topic: &CStr, partition: i32) -> bool {
        let mut list = ptr::null_mut();
        // SAFETY: as in `owned`.
        unsafe {
            rd_kafka_assignment(self.rk, &mut list);
            let found =
                !rd_kafka_topic_partition_list_find(list, topic.as_ptr(), partition).is_null();
            rd_kafka_topic_partition_list_destroy(list);
            found
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        // SAFETY: handles created in `start`, released once, consumer first.
        unsafe {
            rd_kafka_consumer_close(self.rk);
            rd_kafka_destroy(self.rk);
            rd_kafka_mock_cluster_destroy(self.mcluster);
            rd_kafka_destroy(self.mock_owner);
        }
    }
}

/// Keeps polling the consumer from another thread until dropped.
struct Poller {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Poller {
    fn start(rk: Rk) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let rk = rk;
            while !flag.load(Ordering::Relaxed) {
                // SAFETY: the consumer outlives this thread (joined on drop).
                let msg = unsafe { rd_kafka_consumer_poll(rk.0, 10) };
                if !msg.is_null() {
                    // SAFETY: a message returned by poll, destroyed once.
                    unsafe { rd_kafka_message_destroy(msg) };
                }
            }
        });
        Poller {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("polling thread");
        }
    }
}

fn bench(c: &mut Criterion) {
    let tracker = kat::Tracker::new();
    let consumer = Consumer::start(&tracker);
    let snap = tracker.snapshot();
    assert_eq!(
        snap.partition_count(),
        PARTITIONS,
        "kat saw the same assignment"
    );
    drop(snap);
    let (topic, partition) = (topic_name(TOPICS / 2), 7);
    let ctopic = CString::new(topic.as_str()).unwrap();
    let handle = consumer.group.partition(&topic, partition).unwrap();
    assert!(handle.state().is_assigned());
    assert!(consumer.owns(&ctopic, partition));

    let mut g = c.benchmark_group("rdkafka_owned");
    for mode in ["idle", "polling"] {
        let _poller = (mode == "polling").then(|| Poller::start(Rk(consumer.rk)));
        g.bench_function(format!("rd_kafka_assignment/{mode}"), |b| {
            b.iter(|| black_box(consumer.owned()))
        });
        g.bench_function(format!("rd_kafka_assignment_iterate/{mode}"), |b| {
            b.iter(|| black_box(consumer.owned_sum()))
        });
        g.bench_function(format!("rd_kafka_assignment_find/{mode}"), |b| {
            b.iter(|| black_box(consumer.owns(black_box(&ctopic), black_box(partition))))
        });
        g.bench_function(format!("kat_snapshot/{mode}"), |b| {
            b.iter(|| black_box(tracker.snapshot()))
        });
        g.bench_function(format!("kat_snapshot_iterate/{mode}"), |b| {
            b.iter(|| {
                let snap = tracker.snapshot();
                let mut sum = 0u64;
                for grp in snap.groups() {
                    for t in grp.topics() {
                        for p in t.partitions() {
                            sum += p.partition as u64 + t.name().as_bytes()[0] as u64;
                        }
                    }
                }
                black_box(sum)
            })
        });
        g.bench_function(format!("kat_is_assigned/{mode}"), |b| {
            b.iter(|| {
                black_box(tracker.is_assigned(
                    black_box(GROUP),
                    black_box(&topic),
                    black_box(partition),
                ))
            })
        });
        g.bench_function(format!("kat_handle_state/{mode}"), |b| {
            b.iter(|| black_box(handle.state()))
        });
    }
    g.finish();
    drop(handle);
    drop(consumer);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = bench
}
criterion_main!(benches);
