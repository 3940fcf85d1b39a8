//! kat live: real librdkafka consumers in two consumer groups on librdkafka's
//! built-in mock cluster, rebalancing while a table shows what kat tracks.
//!
//! ```text
//! cargo run --release --features rdkafka --example live
//! cargo run --release --features rdkafka --example live -- --protocol consumer --duration 40
//! ```
//!
//! Group `billing` is EAGER (`range`, rebalance callback); group `shipping`
//! uses `--protocol` (`cooperative`: cooperative-sticky, `eager`:
//! roundrobin, `consumer`: KIP-848) through the event API. Each consumer
//! polls on its own thread and is its own kat group, `<group.id>/<member>`.
//! The script: members join one by one, one leaves, one gets stuck past
//! `max.poll.interval.ms` (kat's poll-deadline timer expires it on time,
//! with no call from the stuck loop), one revoke is drained (it waits for a
//! job's lease before the unassign call),
//! a heartbeat is answered with an error, the member that left comes back
//! (same kat group, generations go on), and everyone closes.
//!
//! Meanwhile a reader thread hammers the tracker with partition-handle and
//! by-name reads, and an observer thread redraws the table from wait-free
//! snapshots.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use kat::{Group, Status, Tracker};
use rdkafka_sys::*;

const TOPICS: &[(&str, i32)] = &[("orders", 8), ("payments", 4), ("audit", 2)];
/// A stuck member is noticed after this long without a poll.
const MAX_POLL_MS: u64 = 3000;
const HELP: &str = "\
kat live: real librdkafka consumers on librdkafka's mock cluster, and what kat tracks

usage: cargo run --release --features rdkafka --example live -- [options]

  --duration SECS      how long the script runs (default 30, at least 20)
  --consumers N        members per consumer group (default 3, 2..=8)
  --protocol P         the second group's protocol: eager (roundrobin),
                       cooperative (cooperative-sticky, default) or
                       consumer (KIP-848 group.protocol=consumer)
  --metrics ADDR       serve Prometheus /metrics on ADDR (default 127.0.0.1:0,
                       any free loopback port; the address is printed)
  --verbose            show librdkafka's log lines, with consumer group debugging
  --help               this text
";

struct Args {
    duration: Duration,
    consumers: usize,
    protocol: &'static str,
    verbose: bool,
    metrics: String,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        duration: Duration::from_secs(30),
        consumers: 3,
        protocol: "cooperative",
        verbose: false,
        metrics: "127.0.0.1:0".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--verbose" | "-v" => args.verbose = true,
            "--metrics" => args.metrics = value("--metrics")?,
            "--duration" => {
                let secs: u64 = value("--duration")?
                    .parse()
                    .map_err(|e| format!("--duration: {e}"))?;
                if secs < 20 {
                    return Err("--duration must be at least 20 seconds".into());
                }
                args.duration = Duration::from_secs(secs);
            }
            "--consumers" => {
                let n: usize = value("--consumers")?
                    .parse()
                    .map_err(|e| format!("--consumers: {e}"))?;
                if !(2..=8).contains(&n) {
                    return Err("--consumers must be between 2 and 8".into());
                }
                args.consumers = n;
            }
            "--protocol" => {
                args.protocol = match value("--protocol")?.as_str() {
                    "eager" => "eager",
                    "cooperative" => "cooperative",
                    "consumer" => "consumer",
                    other => return Err(format!("--protocol: unknown protocol {other:?}")),
                };
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    Ok(Some(args))
}

static VERBOSE: AtomicBool = AtomicBool::new(false);

unsafe extern "C" fn log_cb(
    _rk: *const rd_kafka_t,
    level: c_int,
    fac: *const c_char,
    buf: *const c_char,
) {
    if VERBOSE.load(Ordering::Relaxed) {
        // SAFETY: librdkafka passes NUL-terminated strings.
        let (fac, buf) = unsafe { (CStr::from_ptr(fac), CStr::from_ptr(buf)) };
        eprintln!(
            "librdkafka[{level}] {}: {}",
            fac.to_string_lossy(),
            buf.to_string_lossy()
        );
    }
}

/// A librdkafka configuration with the quiet-unless-verbose logger.
fn conf(pairs: &[(&str, &str)]) -> *mut rd_kafka_conf_t {
    // SAFETY: calls on a configuration we own; strings are NUL-terminated.
    unsafe {
        let conf = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(conf, Some(log_cb));
        for (k, v) in pairs {
            let (k, v) = (CString::new(*k).unwrap(), CString::new(*v).unwrap());
            let mut err = [0 as c_char; 256];
            let res = rd_kafka_conf_set(conf, k.as_ptr(), v.as_ptr(), err.as_mut_ptr(), err.len());
            assert_eq!(
                res,
                rd_kafka_conf_res_t::RD_KAFKA_CONF_OK,
                "{}",
                CStr::from_ptr(err.as_ptr()).to_string_lossy()
            );
        }
        conf
    }
}

/// librdkafka's mock cluster (3 brokers), owned through a producer handle.
struct Cluster {
    rk: *mut rd_kafka_t,
    mc: *mut rd_kafka_mock_cluster_t,
    bootstraps: String,
}

impl Cluster {
    fn new() -> Cluster {
        let mut err = [0 as c_char; 256];
        // SAFETY: handles we own, checked for NULL; NUL-terminated strings.
        unsafe {
            let rk = rd_kafka_new(
                rd_kafka_type_t::RD_KAFKA_PRODUCER,
                conf(&[]),
                err.as_mut_ptr(),
                err.len(),
            );
            assert!(
                !rk.is_null(),
                "{}",
                CStr::from_ptr(err.as_ptr()).to_string_lossy()
            );
            let mc = rd_kafka_mock_cluster_new(rk, 3);
            assert!(!mc.is_null(), "rd_kafka_mock_cluster_new failed");
            rd_kafka_mock_group_initial_rebalance_delay_ms(mc, 0);
            rd_kafka_mock_set_group_consumer_heartbeat_interval_ms(mc, 100);
            rd_kafka_mock_set_group_consumer_session_timeout_ms(mc, 3000);
            for (topic, partitions) in TOPICS {
                let t = CString::new(*topic).unwrap();
                rd_kafka_mock_topic_create(mc, t.as_ptr(), *partitions, 1);
            }
            let bootstraps = CStr::from_ptr(rd_kafka_mock_cluster_bootstraps(mc))
                .to_string_lossy()
                .into_owned();
            Cluster { rk, mc, bootstraps }
        }
    }

    /// The next request of `api_key` fails with `err`.
    fn fail_next(&self, api_key: i16, err: rd_kafka_resp_err_t) {
        let errs = [err];
        // SAFETY: a live cluster and a one-element array.
        unsafe { rd_kafka_mock_push_request_errors_array(self.mc, api_key, 1, errs.as_ptr()) };
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // SAFETY: ours, destroyed once, the cluster before its handle.
        unsafe {
            rd_kafka_mock_cluster_destroy(self.mc);
            rd_kafka_destroy(self.rk);
        }
    }
}

const POLLING: u8 = 0;
const STUCK: u8 = 1;
const CLOSING: u8 = 2;
const CLOSED: u8 = 3;

/// One consumer: its kat group and what its rebalances did.
struct Member {
    group: Group,
    label: &'static str,
    event_api: bool,
    state: AtomicU8,
    rebalances: AtomicU64,
    losses: AtomicU64,
    errors: AtomicU64,
}

impl Member {
    /// Applies a rebalance through kat and counts it. Runs on the poll thread.
    fn record(
        &self,
        result: Result<Option<kat::rdkafka::Rebalanced>, kat::rdkafka::RebalanceError>,
    ) {
        match result {
            Ok(Some(r)) => {
                self.rebalances.fetch_add(1, Ordering::Relaxed);
                if r.recorded == kat::rdkafka::Recorded::Lost {
                    self.losses.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(None) => {}
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("{}: {e}", self.group.name());
            }
        }
    }
}

unsafe extern "C" fn rebalance_cb(
    rk: *mut rd_kafka_t,
    err: rd_kafka_resp_err_t,
    partitions: *mut rd_kafka_topic_partition_list_t,
    opaque: *mut c_void,
) {
    // SAFETY: the opaque is the member, which its poll thread keeps alive
    // until after rd_kafka_destroy.
    let member = unsafe { &*(opaque as *const Member) };
    // SAFETY: librdkafka's own arguments, during the callback.
    member.record(unsafe { kat::rdkafka::rebalance(&member.group, rk, err, partitions) }.map(Some));
}

#[derive(Clone, Copy)]
struct Handle(*mut rd_kafka_t);
// SAFETY: librdkafka handles may be used from any thread.
unsafe impl Send for Handle {}

/// A running consumer and its poll thread.
struct Running {
    member: Arc<Member>,
    thread: JoinHandle<()>,
}

impl Running {
    fn start(
        cluster: &Cluster,
        member: Arc<Member>,
        group_id: &str,
        settings: &[(&'static str, &'static str)],
    ) -> Running {
        let name = member.group.name().to_string();
        let max_poll = MAX_POLL_MS.to_string();
        let mut pairs: Vec<(&str, &str)> = vec![
            ("bootstrap.servers", &cluster.bootstraps),
            ("group.id", group_id),
            ("client.id", &name),
            ("enable.auto.commit", "false"),
            ("max.poll.interval.ms", &max_poll),
        ];
        pairs.extend(settings.iter().copied());
        if VERBOSE.load(Ordering::Relaxed) {
            pairs.push(("debug", "cgrp"));
        }
        let conf = conf(&pairs);
        let mut err = [0 as c_char; 256];
        // SAFETY: the opaque (the member) outlives the consumer: the poll
        // thread holds an Arc until after rd_kafka_destroy.
        let rk = unsafe {
            if member.event_api {
                rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_REBALANCE);
            } else {
                rd_kafka_conf_set_opaque(conf, Arc::as_ptr(&member) as *mut c_void);
                rd_kafka_conf_set_rebalance_cb(conf, Some(rebalance_cb));
            }
            let rk = rd_kafka_new(
                rd_kafka_type_t::RD_KAFKA_CONSUMER,
                conf,
                err.as_mut_ptr(),
                err.len(),
            );
            assert!(
                !rk.is_null(),
                "{}",
                CStr::from_ptr(err.as_ptr()).to_string_lossy()
            );
            rd_kafka_poll_set_consumer(rk);
            let list = rd_kafka_topic_partition_list_new(TOPICS.len() as c_int);
            for (topic, _) in TOPICS {
                let t = CString::new(*topic).unwrap();
                rd_kafka_topic_partition_list_add(list, t.as_ptr(), -1);
            }
            rd_kafka_subscribe(rk, list);
            rd_kafka_topic_partition_list_destroy(list);
            Handle(rk)
        };
        member.state.store(POLLING, Ordering::SeqCst);
        let m = member.clone();
        let thread = thread::Builder::new()
            .name(name)
            .spawn(move || poll_loop(rk, m))
            .unwrap();
        Running { member, thread }
    }

    fn close(self) {
        self.member.state.store(CLOSING, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

fn poll_loop(rk: Handle, member: Arc<Member>) {
    let rk = rk.0;
    // SAFETY: `rk` is live until rd_kafka_destroy below; only this thread polls it.
    unsafe {
        let queue = rd_kafka_queue_get_consumer(rk);
        let handle_event = |ev: *mut rd_kafka_event_t| {
            member.record(kat::rdkafka::rebalance_event(&member.group, rk, ev));
            rd_kafka_event_destroy(ev);
        };
        // kat expires this member on its own if the loop stops polling for
        // max.poll.interval.ms (the timer thread; no call from here).
        if let Err(e) = kat::rdkafka::set_poll_deadline(&member.group, rk, Duration::ZERO) {
            eprintln!("{}: {e}", member.group.name());
        }
        loop {
            let state = member.state.load(Ordering::SeqCst);
            if state != STUCK {
                // What a job loop does between batches: the poll mark, and
                // one atomic load when nothing is lost.
                kat::rdkafka::check_lost(&member.group, rk);
            }
            match state {
                CLOSING => break,
                // "In a long job": no poll, no kat call at all.
                STUCK => thread::sleep(Duration::from_millis(20)),
                _ if member.event_api => {
                    // A poll mark per poll: health says `stalled` when they stop.
                    member.group.mark_poll();
                    let ev = rd_kafka_queue_poll(queue, 100);
                    if !ev.is_null() {
                        handle_event(ev);
                    }
                }
                _ => {
                    member.group.mark_poll();
                    let msg = rd_kafka_consumer_poll(rk, 100);
                    if !msg.is_null() {
                        rd_kafka_message_destroy(msg);
                    }
                }
            }
        }
        if member.event_api {
            let error = rd_kafka_consumer_close_queue(rk, queue);
            if !error.is_null() {
                rd_kafka_error_destroy(error);
            }
            while rd_kafka_consumer_closed(rk) == 0 {
                let ev = rd_kafka_queue_poll(queue, 100);
                if !ev.is_null() {
                    handle_event(ev);
                }
            }
        } else {
            rd_kafka_consumer_close(rk);
        }
        rd_kafka_queue_destroy(queue);
        rd_kafka_destroy(rk);
    }
    let _ = member
        .group
        .set_poll_deadline(Duration::ZERO, Duration::ZERO);
    member.state.store(CLOSED, Ordering::SeqCst);
}

/// The members, for the table, and the script's recent steps.
struct Board {
    started: Instant,
    metrics_url: Option<String>,
    members: Mutex<Vec<Arc<Member>>>,
    log: Mutex<Vec<String>>,
}

impl Board {
    fn note(&self, what: String) {
        let line = format!("{:5.1}s  {what}", self.started.elapsed().as_secs_f64());
        self.log.lock().unwrap().push(line);
    }
}

fn status_mark(status: Status) -> &'static str {
    match status {
        Status::Assigned => "",
        Status::Revoked => "r",
        Status::Lost => "L",
    }
}

/// One frame of the table, from one snapshot (wait-free to take).
fn render(tracker: &Tracker, board: &Board, total: Duration) -> String {
    let snapshot = tracker.snapshot();
    let mut out = String::new();
    if let Some(url) = board.metrics_url.as_deref() {
        out += &format!("Prometheus metrics: {url}\n");
    }
    let owned = snapshot.partition_count();
    out += &format!(
        "kat live  {:5.1}s / {}s   epoch {}   {} partitions owned   (p:gen; r = revoked, L = lost)\n\n",
        board.started.elapsed().as_secs_f64(),
        total.as_secs(),
        snapshot.epoch(),
        owned
    );
    out += &format!(
        "{:<12} {:<20} {:<9} {:<12} {:<9} {}\n",
        "group", "protocol", "state", "kat health", "topic", "partitions"
    );
    for member in board.members.lock().unwrap().iter() {
        let name = member.group.name();
        let state = match member.state.load(Ordering::Relaxed) {
            POLLING => "polling",
            STUCK => "STUCK",
            CLOSING => "closing",
            _ => "closed",
        };
        // One wait-free read: never joined, standby, assigned, rebalancing, lost.
        let health = member.group.health().health.as_str();
        let mut first = true;
        let mut line = |topic: &str, cells: String| {
            let (g, p, s, h) = if first {
                (name, member.label, state, health)
            } else {
                ("", "", "", "")
            };
            first = false;
            out.push_str(&format!(
                "{g:<12} {p:<20} {s:<9} {h:<12} {topic:<9} {cells}\n"
            ));
        };
        match snapshot.group(name) {
            Some(view) if !view.known_topics().is_empty() => {
                for topic in view.known_topics() {
                    let cells: Vec<String> = topic
                        .records()
                        .iter()
                        .map(|r| {
                            format!("{}:{}{}", r.partition, r.generation, status_mark(r.status))
                        })
                        .collect();
                    line(topic.name(), cells.join(" "));
                }
            }
            _ => line("-", String::new()),
        }
    }
    out += "\n";
    let log = board.log.lock().unwrap();
    for entry in log.iter().skip(log.len().saturating_sub(6)) {
        out += &format!("  {entry}\n");
    }
    out
}

/// Reads per second, by handle and by name, measured by the reader thread.
struct ReadStats {
    handle_reads: u64,
    handle_secs: f64,
    name_reads: u64,
    name_secs: f64,
}

fn reader(tracker: &'static Tracker, names: Vec<String>, stop: Arc<AtomicBool>) -> ReadStats {
    let mut handles = Vec::new();
    let mut keys = Vec::new();
    for name in &names {
        let group = tracker.group(name).unwrap();
        for (topic, partitions) in TOPICS {
            for p in 0..*partitions {
                handles.push(group.partition(topic, p).unwrap());
                keys.push((name.as_str(), *topic, p));
            }
        }
    }
    let mut stats = ReadStats {
        handle_reads: 0,
        handle_secs: 0.0,
        name_reads: 0,
        name_secs: 0.0,
    };
    let mut sink = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        for _ in 0..64 {
            for h in &handles {
                sink = sink.wrapping_add(h.state().generation);
            }
        }
        stats.handle_secs += t.elapsed().as_secs_f64();
        stats.handle_reads += 64 * handles.len() as u64;
        let t = Instant::now();
        for _ in 0..64 {
            for (g, topic, p) in &keys {
                sink = sink.wrapping_add(tracker.generation(g, topic, *p));
            }
        }
        stats.name_secs += t.elapsed().as_secs_f64();
        stats.name_reads += 64 * keys.len() as u64;
    }
    std::hint::black_box(sink);
    stats
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("live: {e}\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
    VERBOSE.store(args.verbose, Ordering::Relaxed);
    let tty = std::io::stdout().is_terminal();
    let tracker = Tracker::global();
    // Prometheus scrapes of what kat tracks, for as long as the demo runs.
    let metrics = match kat::MetricsServer::start(tracker.clone(), args.metrics.as_str()) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("live: cannot serve metrics on {}: {e}", args.metrics);
            return ExitCode::from(2);
        }
    };
    let metrics_url = format!("http://{}/metrics", metrics.local_addr());
    println!("kat live: Prometheus metrics at {metrics_url}");
    let cluster = Cluster::new();
    let n = args.consumers;

    let (second_label, second_settings): (&'static str, Vec<(&'static str, &'static str)>) =
        match args.protocol {
            "eager" => ("roundrobin, events", classic("roundrobin")),
            "consumer" => ("KIP-848, events", vec![("group.protocol", "consumer")]),
            _ => ("coop-sticky, events", classic("cooperative-sticky")),
        };
    let billing_settings = classic("range");
    let member = |group_id: &str, i: usize, label: &'static str, event_api: bool| {
        let group = tracker.group(&format!("{group_id}/{i}")).unwrap();
        // Health turns `stalled` after half of max.poll.interval.ms without a poll.
        group.set_stall_after(Some(Duration::from_millis(MAX_POLL_MS / 2)));
        Arc::new(Member {
            group,
            label,
            event_api,
            state: AtomicU8::new(CLOSED),
            rebalances: AtomicU64::new(0),
            losses: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        })
    };
    let billing: Vec<Arc<Member>> = (0..n)
        .map(|i| member("billing", i, "range, callback", false))
        .collect();
    let shipping: Vec<Arc<Member>> = (0..n)
        .map(|i| member("shipping", i, second_label, true))
        .collect();
    let board = Arc::new(Board {
        started: Instant::now(),
        metrics_url: Some(metrics_url),
        members: Mutex::new(billing.iter().chain(shipping.iter()).cloned().collect()),
        log: Mutex::new(Vec::new()),
    });

    // The reader and the observer.
    let stop = Arc::new(AtomicBool::new(false));
    let names: Vec<String> = board
        .members
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.group.name().to_string())
        .collect();
    let reader_thread = {
        let stop = stop.clone();
        thread::spawn(move || reader(tracker, names, stop))
    };
    let observer = {
        let (stop, board, total) = (stop.clone(), board.clone(), args.duration);
        thread::spawn(move || {
            let every = if tty {
                Duration::from_millis(250)
            } else {
                Duration::from_secs(5)
            };
            let mut last = Instant::now();
            let mut epoch = 0;
            while !stop.load(Ordering::Relaxed) {
                epoch = tracker.wait_for_change(epoch, Duration::from_millis(100));
                if last.elapsed() < every {
                    continue;
                }
                last = Instant::now();
                let frame = render(tracker, &board, total);
                let mut out = std::io::stdout().lock();
                if tty {
                    let _ = write!(out, "\x1b[2J\x1b[H{frame}");
                } else {
                    let _ = writeln!(out, "{frame}");
                }
                let _ = out.flush();
            }
        })
    };

    // The script, in fractions of the duration.
    let total = args.duration.as_secs_f64();
    let at = |fraction: f64| {
        let when = board.started + Duration::from_secs_f64(total * fraction);
        if let Some(left) = when.checked_duration_since(Instant::now()) {
            thread::sleep(left);
        }
    };
    let mut running_billing: Vec<Option<Running>> = (0..n).map(|_| None).collect();
    let mut running_shipping: Vec<Option<Running>> = (0..n).map(|_| None).collect();
    for i in 0..n {
        at(0.30 * i as f64 / n as f64);
        running_billing[i] = Some(Running::start(
            &cluster,
            billing[i].clone(),
            "billing",
            &billing_settings,
        ));
        running_shipping[i] = Some(Running::start(
            &cluster,
            shipping[i].clone(),
            "shipping",
            &second_settings,
        ));
        board.note(format!("billing/{i} and shipping/{i} join"));
    }
    let leaver = n - 1;
    at(0.35);
    if let Some(r) = running_billing[leaver].take() {
        r.close();
    }
    board.note(format!(
        "billing/{leaver} closes (final revoke: its partitions become revoked)"
    ));

    at(0.42);
    // After billing/2 left, billing/0 must own partitions again before it
    // gets stuck, or there is nothing to expire.
    let owns = |g: &Group| {
        tracker
            .snapshot()
            .group(g.name())
            .is_some_and(|v| v.partition_count() > 0)
    };
    wait_for(Duration::from_secs(15), || owns(&billing[0].group));
    billing[0].state.store(STUCK, Ordering::SeqCst);
    board.note(format!(
        "billing/0 stops polling (no call at all); kat's deadline timer expires it at max.poll.interval.ms ({MAX_POLL_MS} ms)"
    ));
    let expired = wait_for(Duration::from_millis(MAX_POLL_MS + 5000), || {
        billing[0].group.poll_stats().expirations > 0
    });
    let ps = billing[0].group.poll_stats();
    if expired {
        board.note(format!(
            "billing/0 expired by kat {:.2} ms after its deadline (librdkafka notices at its next once-a-second check)",
            ps.last_expiry_delay.unwrap_or_default().as_secs_f64() * 1e3
        ));
    }
    thread::sleep(Duration::from_millis(2000));
    billing[0].state.store(POLLING, Ordering::SeqCst);
    board.note(
        "billing/0 polls again: _MAX_POLL_EXCEEDED, lost revoke (changes nothing more), rejoin"
            .into(),
    );

    // A drained revoke: billing/1 waits for an in-flight job's lease before
    // it gives its partitions back when billing/{leaver} rejoins.
    at(0.76);
    let drained = &billing[1];
    drained.group.set_drain_timeout(Duration::from_secs(2));
    let job = lease_job(drained.group.clone(), board.clone());

    at(0.72);
    if args.protocol == "consumer" {
        cluster.fail_next(
            68,
            rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_FENCED_MEMBER_EPOCH,
        );
        board.note(
            "next ConsumerGroupHeartbeat answered FENCED_MEMBER_EPOCH: a shipping member is lost"
                .into(),
        );
    } else {
        cluster.fail_next(
            12,
            rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION,
        );
        board.note(
            "next Heartbeat answered ILLEGAL_GENERATION: its member's assignment is lost".into(),
        );
    }

    at(0.80);
    running_billing[leaver] = Some(Running::start(
        &cluster,
        billing[leaver].clone(),
        "billing",
        &billing_settings,
    ));
    board.note(format!(
        "billing/{leaver} comes back: same kat group, generations go on"
    ));
    if let Some(job) = job {
        let _ = job.join();
    }
    let ds = drained.group.drain_stats();
    board.note(format!(
        "billing/1: {} drain(s), {} timed out with leases held",
        ds.drains, ds.timeouts
    ));

    at(1.0);
    board.note("everyone closes".into());
    for r in running_shipping
        .into_iter()
        .chain(running_billing)
        .flatten()
    {
        r.close();
    }
    let final_owned = tracker.snapshot().partition_count();
    stop.store(true, Ordering::SeqCst);
    let reads = reader_thread.join().unwrap();
    let _ = observer.join();
    let frame = render(tracker, &board, args.duration);
    if tty {
        print!("\x1b[2J\x1b[H");
    }
    println!("{frame}");

    // Summary.
    let members = board.members.lock().unwrap();
    let sum = |f: fn(&Member) -> u64| members.iter().map(|m| f(m)).sum::<u64>();
    let rebalances = sum(|m| m.rebalances.load(Ordering::Relaxed));
    let losses = sum(|m| m.losses.load(Ordering::Relaxed));
    let errors = sum(|m| m.errors.load(Ordering::Relaxed));
    let generations = tracker.generations();
    let count = |s: Status| generations.entries().filter(|e| e.status == s).count();
    println!("summary");
    println!(
        "  rebalances applied      {rebalances} ({losses} of them lost revokes), {errors} errors"
    );
    for g in tracker.snapshot().groups() {
        let st = g.stats();
        if st.lost_events > 0 {
            println!("  {:<22}  lost {} time(s)", g.name(), st.lost_events);
        }
    }
    println!(
        "  keys tracked            {} ({} revoked, {} lost, {} assigned) at epoch {}",
        generations.len(),
        count(Status::Revoked),
        count(Status::Lost),
        count(Status::Assigned),
        generations.epoch()
    );
    println!("  owned after close       {final_owned} partitions");
    let ps = billing[0].group.poll_stats();
    println!(
        "  poll deadline           billing/0 expired {} time(s), last {:.2} ms after its deadline",
        ps.expirations,
        ps.last_expiry_delay.unwrap_or_default().as_secs_f64() * 1e3
    );
    let ds = billing[1].group.drain_stats();
    println!(
        "  drain barrier           billing/1 drained {} revoke(s), {} timed out",
        ds.drains, ds.timeouts
    );
    let rate = |n: u64, s: f64| if s > 0.0 { n as f64 / s / 1e6 } else { 0.0 };
    println!(
        "  reader thread           {:.1} M handle reads/s, {:.1} M by-name reads/s ({} + {} reads)",
        rate(reads.handle_reads, reads.handle_secs),
        rate(reads.name_reads, reads.name_secs),
        reads.handle_reads,
        reads.name_reads
    );
    drop(members);
    drop(metrics);
    drop(cluster);
    if errors > 0 || final_owned != 0 || losses == 0 {
        eprintln!("live: unexpected outcome (errors {errors}, owned after close {final_owned}, losses {losses})");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Polls `done` every 5 ms until it is true or `timeout` passes.
fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > timeout {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
    true
}

/// A job on one partition the group owns: takes a lease at its generation,
/// and when the partition's revoke starts (the handle shows it not owned,
/// the lease stays valid while the revoke drains) works 500 ms more, then
/// releases it; the glue makes the unassign call only after that.
fn lease_job(group: Group, board: Arc<Board>) -> Option<JoinHandle<()>> {
    let snap = group.tracker().snapshot();
    let view = snap.group(group.name())?;
    let topic = view.topics().iter().next()?;
    let partition = topic.partitions().first()?.partition;
    let handle = group.partition(topic.name(), partition).ok()?;
    let label = format!("{}/{partition}", topic.name());
    Some(thread::spawn(move || {
        let generation = handle.state().generation;
        let Some(lease) = handle.lease(generation) else {
            return;
        };
        board.note(format!(
            "{} holds a lease on {label} (a job in flight)",
            group.name()
        ));
        if !wait_for(Duration::from_secs(20), || !handle.state().is_assigned()) {
            return;
        }
        board.note(format!(
            "{}'s revoke waits for the lease on {label} (new leases fail, lease still valid: {})",
            group.name(),
            lease.valid()
        ));
        thread::sleep(Duration::from_millis(500));
        drop(lease);
        board.note(format!("{label}: lease released; the unassign follows"));
    }))
}

/// Classic-protocol settings. The mock cluster gives members that must
/// rejoin `session.timeout.ms - 1 s` to do it before it moves on without
/// them (and they are lost): 3 s keeps joins clean even on a busy machine.
fn classic(assignor: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("partition.assignment.strategy", assignor),
        ("session.timeout.ms", "3000"),
        ("heartbeat.interval.ms", "100"),
    ]
}
