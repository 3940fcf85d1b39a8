//! Harness for the `rdkafka_*` tests: real librdkafka consumers (the copy
//! `rdkafka-sys` bundles) against librdkafka's mock cluster, each polling on
//! its own thread and feeding kat through `kat::rdkafka`.
//!
//! Every rebalance goes through a checking wrapper that runs on the consumer's
//! poll thread, where the consumer is quiescent: it calls the kat glue, keeps
//! its own model of what the group owns and how many times each partition was
//! assigned (counted from the callbacks' lists), and then compares librdkafka's
//! `rd_kafka_assignment()`, the model and the tracker. Mismatches are
//! collected (a panic cannot cross librdkafka's C frames) and asserted by
//! [`Consumer::close`].
//!
//! Set `KAT_TEST_RDKAFKA_LOG=1` to see librdkafka's log lines.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use kat::rdkafka::{Protocol, Rebalanced, Recorded};
use kat::{Group, Status, Tracker};
use rdkafka_sys::*;

/// Kafka API keys the tests inject errors into (librdkafka's protocol header
/// is not part of its public API).
pub const API_HEARTBEAT: i16 = 12;
pub const API_CONSUMER_GROUP_HEARTBEAT: i16 = 68;

/// How long any condition may take before a test fails. Mock rounds take
/// well under 2 s; this leaves room for a loaded CI machine.
pub const PATIENCE: Duration = Duration::from_secs(30);

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs the mock tests of one binary one at a time: they rely on session
/// and poll timeouts of 1.5 s, which a starved 2-core machine could miss if
/// several clusters and their consumers ran at once.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

pub type Key = (String, i32);

unsafe extern "C" fn log_cb(
    _rk: *const rd_kafka_t,
    level: c_int,
    fac: *const c_char,
    buf: *const c_char,
) {
    if std::env::var_os("KAT_TEST_RDKAFKA_LOG").is_some() {
        // SAFETY: librdkafka passes NUL-terminated strings.
        let (fac, buf) = unsafe { (text(fac), text(buf)) };
        eprintln!("librdkafka[{level}] {fac}: {buf}");
    }
}

/// Copies a C string.
///
/// # Safety
/// `p` must be NULL or NUL-terminated.
pub unsafe fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: per the contract.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

pub fn err_name(e: rd_kafka_resp_err_t) -> String {
    // SAFETY: returns a static string for any code.
    unsafe { text(rd_kafka_err2name(e)) }
}

/// A new configuration with librdkafka's logging routed through [`log_cb`].
fn conf(pairs: &[(&str, &str)]) -> *mut rd_kafka_conf_t {
    // SAFETY: plain librdkafka calls on a configuration we own.
    unsafe {
        let conf = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(conf, Some(log_cb));
        for (k, v) in pairs {
            set(conf, k, v);
        }
        conf
    }
}

fn set(conf: *mut rd_kafka_conf_t, key: &str, value: &str) {
    let (k, v) = (CString::new(key).unwrap(), CString::new(value).unwrap());
    let mut buf = [0 as c_char; 512];
    // SAFETY: a live configuration and NUL-terminated strings.
    let res =
        unsafe { rd_kafka_conf_set(conf, k.as_ptr(), v.as_ptr(), buf.as_mut_ptr(), buf.len()) };
    assert_eq!(
        res,
        rd_kafka_conf_res_t::RD_KAFKA_CONF_OK,
        "{key}={value}: {}",
        // SAFETY: librdkafka wrote a NUL-terminated message.
        unsafe { text(buf.as_ptr()) }
    );
}

/// A consumer that talks to no broker, for calling the glue by hand.
/// Destroy it with [`destroy_standalone`].
pub fn standalone_consumer(settings: &[(&str, &str)]) -> *mut rd_kafka_t {
    let conf = conf(settings);
    let mut buf = [0 as c_char; 512];
    // SAFETY: we own the configuration; the handle is checked for NULL.
    let rk = unsafe {
        rd_kafka_new(
            rd_kafka_type_t::RD_KAFKA_CONSUMER,
            conf,
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    // SAFETY: librdkafka wrote a NUL-terminated message.
    assert!(!rk.is_null(), "rd_kafka_new: {}", unsafe {
        text(buf.as_ptr())
    });
    rk
}

/// Destroys a [`standalone_consumer`] without the close protocol (there is
/// no group coordinator to talk to).
///
/// # Safety
/// `rk` must be live and not used afterwards.
pub unsafe fn destroy_standalone(rk: *mut rd_kafka_t) {
    // SAFETY: per the contract.
    unsafe { rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE) };
}

/// A partition list we own; free it with `rd_kafka_topic_partition_list_destroy`.
pub fn partition_list(keys: &[(&str, i32)]) -> *mut rd_kafka_topic_partition_list_t {
    // SAFETY: a new list, filled with NUL-terminated topics.
    unsafe {
        let list = rd_kafka_topic_partition_list_new(keys.len() as c_int);
        for (topic, partition) in keys {
            let t = CString::new(*topic).unwrap();
            rd_kafka_topic_partition_list_add(list, t.as_ptr(), *partition);
        }
        list
    }
}

/// librdkafka's mock cluster, created through a producer handle.
pub struct Cluster {
    rk: *mut rd_kafka_t,
    mc: *mut rd_kafka_mock_cluster_t,
    bootstraps: String,
    topics: Vec<(String, i32)>,
}

impl Cluster {
    /// A cluster of `brokers` brokers with the given topics, tuned for
    /// fast rebalances: no initial rebalance delay, and KIP-848 heartbeats
    /// every 100 ms with a 1.5 s session.
    pub fn new(brokers: i32, topics: &[(&str, i32)]) -> Cluster {
        let conf = conf(&[]);
        let mut buf = [0 as c_char; 512];
        // SAFETY: librdkafka calls on handles we own; checked for NULL.
        unsafe {
            let rk = rd_kafka_new(
                rd_kafka_type_t::RD_KAFKA_PRODUCER,
                conf,
                buf.as_mut_ptr(),
                buf.len(),
            );
            assert!(!rk.is_null(), "rd_kafka_new: {}", text(buf.as_ptr()));
            let mc = rd_kafka_mock_cluster_new(rk, brokers);
            assert!(!mc.is_null(), "rd_kafka_mock_cluster_new failed");
            rd_kafka_mock_group_initial_rebalance_delay_ms(mc, 0);
            rd_kafka_mock_set_group_consumer_heartbeat_interval_ms(mc, 100);
            rd_kafka_mock_set_group_consumer_session_timeout_ms(mc, 1500);
            for (name, partitions) in topics {
                let t = CString::new(*name).unwrap();
                let e = rd_kafka_mock_topic_create(mc, t.as_ptr(), *partitions, 1);
                assert_eq!(
                    e,
                    rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR,
                    "create {name}"
                );
            }
            Cluster {
                rk,
                mc,
                bootstraps: text(rd_kafka_mock_cluster_bootstraps(mc)),
                topics: topics.iter().map(|(n, p)| (n.to_string(), *p)).collect(),
            }
        }
    }

    /// A cluster another process created, reached at `bootstraps`, with
    /// these topics: only for starting consumers (the mock controls —
    /// `fail_next`, `broker_down`, `pin_coordinator` — are the creator's).
    pub fn connect(bootstraps: &str, topics: &[(&str, i32)]) -> Cluster {
        Cluster {
            rk: ptr::null_mut(),
            mc: ptr::null_mut(),
            bootstraps: bootstraps.to_owned(),
            topics: topics.iter().map(|(n, p)| (n.to_string(), *p)).collect(),
        }
    }

    /// The bootstrap servers' address.
    pub fn bootstraps(&self) -> &str {
        &self.bootstraps
    }

    /// Every partition of every topic.
    pub fn all_partitions(&self) -> BTreeSet<Key> {
        self.topics
            .iter()
            .flat_map(|(t, n)| (0..*n).map(move |p| (t.clone(), p)))
            .collect()
    }

    /// Makes `broker` the coordinator of `group_id`.
    pub fn pin_coordinator(&self, group_id: &str, broker: i32) {
        assert!(
            !self.mc.is_null(),
            "a connected cluster has no mock controls"
        );
        let (kind, key) = (
            CString::new("group").unwrap(),
            CString::new(group_id).unwrap(),
        );
        // SAFETY: a live cluster and NUL-terminated strings.
        let e =
            unsafe { rd_kafka_mock_coordinator_set(self.mc, kind.as_ptr(), key.as_ptr(), broker) };
        assert_eq!(e, rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR);
    }

    /// The next request of `api_key` (from any client) fails with `err`.
    pub fn fail_next(&self, api_key: i16, err: rd_kafka_resp_err_t) {
        assert!(
            !self.mc.is_null(),
            "a connected cluster has no mock controls"
        );
        let errs = [err];
        // SAFETY: a live cluster and a one-element array.
        unsafe { rd_kafka_mock_push_request_errors_array(self.mc, api_key, 1, errs.as_ptr()) };
    }

    /// Takes `broker` down until the guard is dropped. Drop the guard before
    /// the consumers close: closing while the coordinator is down is not
    /// something librdkafka's mock handles well.
    pub fn broker_down(&self, broker: i32) -> BrokerDown<'_> {
        assert!(
            !self.mc.is_null(),
            "a connected cluster has no mock controls"
        );
        // SAFETY: a live cluster.
        let e = unsafe { rd_kafka_mock_broker_set_down(self.mc, broker) };
        assert_eq!(e, rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR);
        BrokerDown {
            cluster: self,
            broker,
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.mc.is_null() {
            return; // another process's cluster (`connect`)
        }
        // SAFETY: both handles are ours and destroyed once, cluster first.
        unsafe {
            rd_kafka_mock_cluster_destroy(self.mc);
            rd_kafka_destroy(self.rk);
        }
    }
}

/// A broker taken down by [`Cluster::broker_down`]; up again when dropped.
pub struct BrokerDown<'a> {
    cluster: &'a Cluster,
    broker: i32,
}

impl Drop for BrokerDown<'_> {
    fn drop(&mut self) {
        // SAFETY: a live cluster.
        unsafe { rd_kafka_mock_broker_set_up(self.cluster.mc, self.broker) };
    }
}

/// The consumer's group protocol and assignor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Range,
    RoundRobin,
    CooperativeSticky,
    /// KIP-848: `group.protocol=consumer`.
    Consumer,
}

impl Strategy {
    pub fn protocol(self) -> Protocol {
        match self {
            Strategy::Range | Strategy::RoundRobin => Protocol::Eager,
            Strategy::CooperativeSticky | Strategy::Consumer => Protocol::Cooperative,
        }
    }

    fn settings(self) -> Vec<(&'static str, &'static str)> {
        let classic = |assignor| {
            vec![
                ("partition.assignment.strategy", assignor),
                ("session.timeout.ms", "1500"),
                ("heartbeat.interval.ms", "100"),
            ]
        };
        match self {
            Strategy::Range => classic("range"),
            Strategy::RoundRobin => classic("roundrobin"),
            Strategy::CooperativeSticky => classic("cooperative-sticky"),
            // Session and heartbeat come from the (mock) broker under KIP-848.
            Strategy::Consumer => vec![("group.protocol", "consumer")],
        }
    }
}

/// How rebalances reach kat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// A `rebalance_cb` that wraps `kat::rdkafka::rebalance` with checks.
    Callback,
    /// `RD_KAFKA_EVENT_REBALANCE` events from the consumer queue, applied
    /// with `kat::rdkafka::rebalance_event`, with the same checks.
    Event,
    /// `kat::rdkafka::rebalance_cb` itself, opaque = the `Group`: no
    /// per-callback checks (there is no room for them), only the
    /// stable-state ones.
    ReadyCallback,
}

/// What one rebalance callback saw and did.
#[derive(Debug, Clone)]
pub struct Seen {
    pub err: rd_kafka_resp_err_t,
    /// `rd_kafka_assignment_lost()` when the callback started.
    pub lost: bool,
    pub partitions: Vec<Key>,
    pub recorded: Recorded,
    pub changed: bool,
    /// The group's keys in the tracker right after kat recorded it.
    pub after: BTreeMap<Key, (u64, Status)>,
}

const RUN: u8 = 0;
const PAUSE: u8 = 1;
const CLOSE: u8 = 2;

/// State shared by a consumer's poll thread, its callbacks and the test.
pub struct Shared {
    name: String,
    group: Group,
    strategy: Strategy,
    /// Key → (times assigned, status), from the callbacks' own lists.
    model: Mutex<BTreeMap<Key, (u64, Status)>>,
    seen: Mutex<Vec<Seen>>,
    failures: Mutex<Vec<String>>,
    cmd: AtomicU8,
    /// Times `check_lost` reported a loss while paused.
    lost_checks: AtomicUsize,
    /// Whether the paused loop calls `kat::rdkafka::check_lost`.
    check_lost_when_paused: bool,
    /// Error messages `rd_kafka_consumer_poll` returned.
    poll_errors: Mutex<Vec<rd_kafka_resp_err_t>>,
}

impl Shared {
    fn fail(&self, what: String) {
        self.failures.lock().unwrap().push(what);
    }

    /// The checking wrapper around one rebalance. Runs on the poll thread.
    ///
    /// # Safety
    /// librdkafka's callback arguments (or an event's), during the callback.
    unsafe fn on_rebalance(
        &self,
        rk: *mut rd_kafka_t,
        err: rd_kafka_resp_err_t,
        list: *mut rd_kafka_topic_partition_list_t,
        apply: impl FnOnce() -> Result<Rebalanced, kat::rdkafka::RebalanceError>,
    ) {
        // SAFETY: the callback's own arguments.
        let (listed, lost) = unsafe { (read_list(list), rd_kafka_assignment_lost(rk) != 0) };
        let outcome = match apply() {
            Ok(o) => o,
            Err(e) => return self.fail(format!("{}: kat rebalance failed: {e}", self.name)),
        };
        use rd_kafka_resp_err_t::*;
        let cooperative = self.strategy.protocol() == Protocol::Cooperative;
        let expected = match err {
            RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS if cooperative => Recorded::Assigned,
            RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => Recorded::Replaced,
            RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS if !lost => Recorded::Revoked,
            _ => Recorded::Lost,
        };
        if outcome.recorded != expected || outcome.protocol != self.strategy.protocol() {
            self.fail(format!(
                "{}: {} (lost={lost}) recorded {:?}/{:?}, expected {expected:?}/{:?}",
                self.name,
                err_name(err),
                outcome.recorded,
                outcome.protocol,
                self.strategy.protocol()
            ));
        }
        {
            let mut model = self.model.lock().unwrap();
            match expected {
                Recorded::Assigned | Recorded::Replaced => {
                    if expected == Recorded::Replaced {
                        for (_, status) in model.values_mut() {
                            if *status == Status::Assigned {
                                *status = Status::Revoked;
                            }
                        }
                    }
                    for key in &listed {
                        let entry = model.entry(key.clone()).or_insert((0, Status::Assigned));
                        entry.0 += 1;
                        entry.1 = Status::Assigned;
                    }
                }
                Recorded::Revoked => {
                    for key in &listed {
                        if let Some((_, status @ Status::Assigned)) = model.get_mut(key) {
                            *status = Status::Revoked;
                        }
                    }
                }
                Recorded::Lost => mark_lost(&mut model),
            }
        }
        self.seen.lock().unwrap().push(Seen {
            err,
            lost,
            partitions: listed,
            recorded: outcome.recorded,
            changed: outcome.changed,
            after: tracked(&self.group),
        });
        // SAFETY: the live consumer, on its poll thread.
        unsafe { self.verify(rk, &err_name(err)) };
    }

    /// Compares librdkafka's assignment, the model and the tracker.
    ///
    /// # Safety
    /// `rk` must be live.
    unsafe fn verify(&self, rk: *mut rd_kafka_t, after: &str) {
        let model = self.model.lock().unwrap().clone();
        let owned: BTreeSet<Key> = model
            .iter()
            .filter(|(_, (_, s))| *s == Status::Assigned)
            .map(|(k, _)| k.clone())
            .collect();
        // Once the final unassign of `rd_kafka_consumer_close` is done, the
        // group handler is gone and `rd_kafka_assignment()` never returns
        // (librdkafka 2.12): during close, only the tracker is compared.
        let closing = self.cmd.load(Ordering::SeqCst) == CLOSE;
        let librdkafka = if closing {
            Ok(owned.clone())
        } else {
            // SAFETY: per the contract.
            unsafe { assignment(rk) }
        };
        match librdkafka {
            Ok(a) if a == owned => {}
            Ok(a) => self.fail(format!(
                "{} after {after}: rd_kafka_assignment {a:?} != partitions assigned by the callbacks {owned:?}",
                self.name
            )),
            Err(e) => self.fail(format!("{} after {after}: rd_kafka_assignment: {e}", self.name)),
        }
        let tracked = tracked(&self.group);
        if tracked != model {
            self.fail(format!(
                "{} after {after}: tracker {tracked:?} != callbacks' counts {model:?}",
                self.name
            ));
        }
    }
}

fn mark_lost(model: &mut BTreeMap<Key, (u64, Status)>) {
    for (_, status) in model.values_mut() {
        if *status == Status::Assigned {
            *status = Status::Lost;
        }
    }
}

/// The group's keys in the tracker: (generation, status).
pub fn tracked(group: &Group) -> BTreeMap<Key, (u64, Status)> {
    group
        .tracker()
        .generations()
        .entries()
        .filter(|e| e.group() == group.name())
        .map(|e| {
            (
                (e.topic().to_string(), e.partition),
                (e.generation, e.status),
            )
        })
        .collect()
}

/// The partitions the tracker says the group owns now (from a snapshot).
pub fn owned(group: &Group) -> BTreeSet<Key> {
    let snapshot = group.tracker().snapshot();
    snapshot
        .group(group.name())
        .map(|g| {
            g.topics()
                .iter()
                .flat_map(|t| {
                    t.partitions()
                        .iter()
                        .map(|p| (t.name().to_string(), p.partition))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Copies a partition list.
///
/// # Safety
/// `list` must be NULL or live.
unsafe fn read_list(list: *const rd_kafka_topic_partition_list_t) -> Vec<Key> {
    // SAFETY: per the contract.
    let Some(list) = (unsafe { list.as_ref() }) else {
        return Vec::new();
    };
    if list.cnt == 0 {
        return Vec::new();
    }
    // SAFETY: librdkafka lists hold `cnt` valid elements.
    let elems = unsafe { std::slice::from_raw_parts(list.elems, list.cnt as usize) };
    // SAFETY: element topics are NUL-terminated.
    elems
        .iter()
        .map(|e| (unsafe { text(e.topic) }, e.partition))
        .collect()
}

/// `rd_kafka_assignment()` as a set.
///
/// # Safety
/// `rk` must be live.
pub unsafe fn assignment(rk: *mut rd_kafka_t) -> Result<BTreeSet<Key>, String> {
    let mut list = ptr::null_mut();
    // SAFETY: a live handle; the list is ours to destroy.
    unsafe {
        let e = rd_kafka_assignment(rk, &mut list);
        if e != rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(err_name(e));
        }
        let set = read_list(list).into_iter().collect();
        rd_kafka_topic_partition_list_destroy(list);
        Ok(set)
    }
}

unsafe extern "C" fn checking_rebalance_cb(
    rk: *mut rd_kafka_t,
    err: rd_kafka_resp_err_t,
    list: *mut rd_kafka_topic_partition_list_t,
    opaque: *mut c_void,
) {
    // SAFETY: the opaque is the consumer's `Shared`, alive until after
    // rd_kafka_destroy (the poll thread holds an Arc).
    let shared = unsafe { &*(opaque as *const Shared) };
    let run = AssertUnwindSafe(|| {
        // SAFETY: librdkafka's arguments, during the callback.
        unsafe {
            shared.on_rebalance(rk, err, list, || {
                kat::rdkafka::rebalance(&shared.group, rk, err, list)
            })
        }
    });
    if catch_unwind(run).is_err() {
        shared.fail(format!("{}: panic in the rebalance callback", shared.name));
    }
}

#[derive(Clone, Copy)]
struct SendPtr(*mut rd_kafka_t);
// SAFETY: librdkafka handles may be used from any thread.
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

/// Options beyond the strategy.
#[derive(Default, Clone)]
pub struct Options {
    pub api: Option<Api>,
    /// Extra librdkafka settings.
    pub settings: Vec<(&'static str, &'static str)>,
    /// Call `kat::rdkafka::check_lost` while paused.
    pub check_lost_when_paused: bool,
}

/// One consumer, subscribed to every topic of the cluster, polling on its
/// own thread. Its kat group is named `<group.id>/<member>`: one kat group per
/// `rd_kafka_t` membership (SPEC §2).
pub struct Consumer {
    shared: Arc<Shared>,
    /// Keeps the `Group` the ready callback's opaque points to alive.
    _ready_group: Option<Box<Group>>,
    rk: SendPtr,
    thread: Option<JoinHandle<()>>,
    closed: bool,
}

impl Consumer {
    pub fn start(
        cluster: &Cluster,
        tracker: &Tracker,
        group_id: &str,
        member: usize,
        strategy: Strategy,
    ) -> Consumer {
        Consumer::start_with(
            cluster,
            tracker,
            group_id,
            member,
            strategy,
            Options::default(),
        )
    }

    pub fn start_with(
        cluster: &Cluster,
        tracker: &Tracker,
        group_id: &str,
        member: usize,
        strategy: Strategy,
        options: Options,
    ) -> Consumer {
        let name = format!("{group_id}/{member}");
        let api = options.api.unwrap_or(Api::Callback);
        let shared = Arc::new(Shared {
            group: tracker.group(&name).unwrap(),
            name: name.clone(),
            strategy,
            model: Mutex::new(BTreeMap::new()),
            seen: Mutex::new(Vec::new()),
            failures: Mutex::new(Vec::new()),
            cmd: AtomicU8::new(RUN),
            lost_checks: AtomicUsize::new(0),
            check_lost_when_paused: options.check_lost_when_paused,
            poll_errors: Mutex::new(Vec::new()),
        });
        let mut settings = vec![
            ("bootstrap.servers", cluster.bootstraps.as_str()),
            ("group.id", group_id),
            ("client.id", name.as_str()),
            ("enable.auto.commit", "false"),
            ("auto.offset.reset", "earliest"),
            ("reconnect.backoff.ms", "10"),
            ("reconnect.backoff.max.ms", "100"),
        ];
        settings.extend(strategy.settings());
        settings.extend(options.settings.iter().copied());
        let conf = conf(&settings);
        let ready_group =
            (api == Api::ReadyCallback).then(|| Box::new(tracker.group(&name).unwrap()));
        // SAFETY: librdkafka calls on a configuration and handle we own. The
        // opaques (the Arc'd `Shared`, the boxed `Group`) outlive the
        // consumer: the poll thread destroys it before dropping its Arc, and
        // `Consumer` joins that thread before dropping the box.
        let rk = unsafe {
            match api {
                Api::Callback => {
                    rd_kafka_conf_set_opaque(conf, Arc::as_ptr(&shared) as *mut c_void);
                    rd_kafka_conf_set_rebalance_cb(conf, Some(checking_rebalance_cb));
                }
                Api::Event => rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_REBALANCE),
                Api::ReadyCallback => {
                    let group: &Group = ready_group.as_deref().unwrap();
                    rd_kafka_conf_set_opaque(conf, group as *const Group as *mut c_void);
                    rd_kafka_conf_set_rebalance_cb(conf, Some(kat::rdkafka::rebalance_cb));
                }
            }
            let mut buf = [0 as c_char; 512];
            let rk = rd_kafka_new(
                rd_kafka_type_t::RD_KAFKA_CONSUMER,
                conf,
                buf.as_mut_ptr(),
                buf.len(),
            );
            assert!(!rk.is_null(), "rd_kafka_new: {}", text(buf.as_ptr()));
            rd_kafka_poll_set_consumer(rk);
            let list = rd_kafka_topic_partition_list_new(cluster.topics.len() as c_int);
            for (topic, _) in &cluster.topics {
                let t = CString::new(topic.as_str()).unwrap();
                rd_kafka_topic_partition_list_add(list, t.as_ptr(), -1);
            }
            let e = rd_kafka_subscribe(rk, list);
            rd_kafka_topic_partition_list_destroy(list);
            assert_eq!(
                e,
                rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR,
                "subscribe"
            );
            SendPtr(rk)
        };
        let thread_shared = shared.clone();
        let thread = thread::Builder::new()
            .name(name)
            .spawn(move || poll_loop(rk, thread_shared, api))
            .unwrap();
        Consumer {
            shared,
            _ready_group: ready_group,
            rk,
            thread: Some(thread),
            closed: false,
        }
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    pub fn group(&self) -> &Group {
        &self.shared.group
    }

    pub fn rk(&self) -> *mut rd_kafka_t {
        self.rk.0
    }

    /// The rebalances seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Lost revokes delivered to the callback so far.
    pub fn lost_revokes(&self) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.recorded == Recorded::Lost)
            .count()
    }

    pub fn lost_checks(&self) -> usize {
        self.shared.lost_checks.load(Ordering::SeqCst)
    }

    pub fn poll_errors(&self) -> Vec<rd_kafka_resp_err_t> {
        self.shared.poll_errors.lock().unwrap().clone()
    }

    /// Stops calling the poll function (the consumer looks stuck in a job).
    pub fn pause(&self) {
        self.shared.cmd.store(PAUSE, Ordering::SeqCst);
    }

    pub fn resume(&self) {
        self.shared.cmd.store(RUN, Ordering::SeqCst);
    }

    /// Closes the consumer on its poll thread (the final revoke runs there),
    /// then checks: every callback check passed, and the tracker holds
    /// nothing for this group any more.
    pub fn close(mut self) -> Vec<Seen> {
        assert!(self.stop(), "{}: close did not finish", self.shared.name);
        let failures = self.shared.failures.lock().unwrap().clone();
        assert!(failures.is_empty(), "{}: {failures:#?}", self.shared.name);
        assert_eq!(
            owned(&self.shared.group),
            BTreeSet::new(),
            "{}: the tracker still has partitions after close",
            self.shared.name
        );
        let model = self.shared.model.lock().unwrap();
        assert!(
            model.values().all(|(_, s)| *s != Status::Assigned),
            "{}: the callbacks left partitions assigned after close: {model:?}",
            self.shared.name
        );
        drop(model);
        self.seen()
    }

    /// Asks the poll thread to close the consumer and waits for it; false
    /// if it did not finish within [`PATIENCE`] (the thread is then left
    /// behind, with its consumer).
    fn stop(&mut self) -> bool {
        if self.closed {
            return true;
        }
        self.closed = true;
        self.shared.cmd.store(CLOSE, Ordering::SeqCst);
        let Some(t) = self.thread.take() else {
            return true;
        };
        let started = Instant::now();
        while !t.is_finished() {
            if started.elapsed() > PATIENCE {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
        t.join().is_ok()
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn poll_loop(rk: SendPtr, shared: Arc<Shared>, api: Api) {
    let rk = rk.0;
    // SAFETY: `rk` is live until rd_kafka_destroy at the end of this
    // function, and only this thread polls it.
    unsafe {
        let queue = rd_kafka_queue_get_consumer(rk);
        loop {
            match shared.cmd.load(Ordering::SeqCst) {
                CLOSE => break,
                PAUSE => {
                    if shared.check_lost_when_paused
                        && kat::rdkafka::check_lost(&shared.group, rk)
                        && shared.lost_checks.fetch_add(1, Ordering::SeqCst) == 0
                    {
                        mark_lost(&mut shared.model.lock().unwrap());
                    }
                    thread::sleep(Duration::from_millis(10));
                    continue;
                }
                _ => {}
            }
            // What an application's poll loop does: mark each poll (health
            // reports `stalled` when the marks stop).
            shared.group.mark_poll();
            if api == Api::Event {
                let ev = rd_kafka_queue_poll(queue, 50);
                if !ev.is_null() {
                    handle_event(rk, &shared, ev);
                }
            } else {
                let msg = rd_kafka_consumer_poll(rk, 50);
                if !msg.is_null() {
                    if (*msg).err != rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                        shared.poll_errors.lock().unwrap().push((*msg).err);
                    }
                    rd_kafka_message_destroy(msg);
                }
            }
        }
        if api == Api::Event {
            let error = rd_kafka_consumer_close_queue(rk, queue);
            if !error.is_null() {
                shared.fail(format!(
                    "close_queue: {}",
                    text(rd_kafka_error_string(error))
                ));
                rd_kafka_error_destroy(error);
            }
            let started = Instant::now();
            while rd_kafka_consumer_closed(rk) == 0 && started.elapsed() < PATIENCE {
                let ev = rd_kafka_queue_poll(queue, 50);
                if !ev.is_null() {
                    handle_event(rk, &shared, ev);
                }
            }
        } else {
            let e = rd_kafka_consumer_close(rk);
            if e != rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                shared.fail(format!(
                    "{}: rd_kafka_consumer_close: {}",
                    shared.name,
                    err_name(e)
                ));
            }
        }
        rd_kafka_queue_destroy(queue);
        rd_kafka_destroy(rk);
    }
}

/// # Safety
/// A live consumer and a live event, which this destroys.
unsafe fn handle_event(rk: *mut rd_kafka_t, shared: &Shared, ev: *mut rd_kafka_event_t) {
    // SAFETY: per the contract.
    unsafe {
        if rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE {
            let (err, list) = (
                rd_kafka_event_error(ev),
                rd_kafka_event_topic_partition_list(ev),
            );
            let run = AssertUnwindSafe(|| {
                shared.on_rebalance(rk, err, list, || {
                    kat::rdkafka::rebalance_event(&shared.group, rk, ev)
                        .map(|o| o.expect("a rebalance event is applied"))
                })
            });
            if catch_unwind(run).is_err() {
                shared.fail(format!(
                    "{}: panic while applying a rebalance event",
                    shared.name
                ));
            }
        }
        rd_kafka_event_destroy(ev);
    }
}

/// Waits until `done` holds, failing the test with `what` and `state()`
/// after [`PATIENCE`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool, state: impl Fn() -> String) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < PATIENCE,
            "timed out waiting for {what}; {}",
            state()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Whether the members of one consumer group have settled: between them,
/// per the tracker, they own every partition exactly once, balanced within
/// one partition, and each one's tracked partitions equal its
/// `rd_kafka_assignment()`.
pub fn settled(cluster: &Cluster, members: &[&Consumer]) -> bool {
    let all = cluster.all_partitions();
    let n = members.len();
    let (lo, hi) = (all.len() / n, all.len().div_ceil(n));
    let mut union = BTreeSet::new();
    for m in members {
        let mine = owned(m.group());
        if mine.len() < lo || mine.len() > hi {
            return false;
        }
        // SAFETY: a live consumer (not closed yet).
        if unsafe { assignment(m.rk()) }.as_ref() != Ok(&mine) {
            return false;
        }
        for key in mine {
            if !union.insert(key) {
                return false;
            }
        }
    }
    union == all
}

/// Waits for [`settled`].
pub fn wait_settled(what: &str, cluster: &Cluster, members: &[&Consumer]) {
    wait_until(what, || settled(cluster, members), || describe(members));
}

pub fn describe(members: &[&Consumer]) -> String {
    members
        .iter()
        .map(|m| {
            // SAFETY: a live consumer.
            let a = unsafe { assignment(m.rk()) };
            format!(
                "\n  {}: tracker {:?}, rd_kafka_assignment {:?}, seen {:?}",
                m.name(),
                owned(m.group()),
                a,
                m.seen()
                    .iter()
                    .map(|s| (err_name(s.err), s.lost, s.partitions.len()))
                    .collect::<Vec<_>>()
            )
        })
        .collect()
}
