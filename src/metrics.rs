//! Prometheus and OpenMetrics text exposition of what the tracker knows.
//!
//! Everything comes from one published [`Snapshot`] (a wait-free load), so a
//! scrape is consistent at one epoch, and a partition that is revoked or lost
//! is simply not in the next scrape: series are generated from the current
//! assignment, never remembered.
//!
//! Metric names follow the Java client's consumer coordinator metrics where
//! one exists (`assigned-partitions` → `kat_assigned_partitions`,
//! `rebalance-total` → `kat_rebalance_total`, `last-rebalance-seconds-ago` →
//! `kat_last_rebalance_seconds_ago`), prefixed `kat_`, with units in the name
//! and `_total` on counters. Labels follow OpenTelemetry's messaging
//! attributes: `messaging_consumer_group_name`, `messaging_destination_name`
//! (the topic) and `messaging_destination_partition_id`; `kat_group` carries
//! the kat group (one consumer membership) the series belongs to.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::history::{Health, Registry};
use crate::name::Name;
use crate::{Snapshot, Tracker};

/// Which text format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricsFormat {
    /// Prometheus' text exposition format, version 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.0 text (counter families without `_total`, `# EOF`).
    OpenMetrics,
}

/// The `Content-Type` of [`MetricsFormat::Prometheus`] output.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The `Content-Type` of [`MetricsFormat::OpenMetrics`] output.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl MetricsFormat {
    /// The HTTP `Content-Type` a server sends with this format.
    pub fn content_type(self) -> &'static str {
        match self {
            MetricsFormat::Prometheus => PROMETHEUS_CONTENT_TYPE,
            MetricsFormat::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }

    /// The format to answer a scrape with, from its `Accept` header:
    /// OpenMetrics when the scraper lists `application/openmetrics-text`,
    /// Prometheus' text format otherwise (what Prometheus itself asks for
    /// first is OpenMetrics).
    pub fn negotiate(accept: Option<&str>) -> MetricsFormat {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => MetricsFormat::OpenMetrics,
            _ => MetricsFormat::Prometheus,
        }
    }
}

/// The consumer group a kat group belongs to: its name up to the first `/`
/// (kat groups are named `<group.id>` or `<group.id>/<member>`).
pub fn consumer_group_of(kat_group: &str) -> &str {
    kat_group.split('/').next().unwrap_or(kat_group)
}

/// Label names (OpenTelemetry messaging attributes, dots as underscores).
const L_CONSUMER_GROUP: &str = "messaging_consumer_group_name";
const L_KAT_GROUP: &str = "kat_group";
const L_TOPIC: &str = "messaging_destination_name";
const L_PARTITION: &str = "messaging_destination_partition_id";

/// Writes metric families one after the other, in either format.
pub(crate) struct Writer<'a> {
    out: &'a mut String,
    format: MetricsFormat,
}

/// The kind of a metric family.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Gauge,
    Counter,
    Summary,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(out: &'a mut String, format: MetricsFormat) -> Writer<'a> {
        Writer { out, format }
    }

    /// Starts a family. `name` is the sample name (counters end in `_total`).
    pub(crate) fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let family = match (kind, self.format) {
            (Kind::Counter, MetricsFormat::OpenMetrics) => {
                name.strip_suffix("_total").unwrap_or(name)
            }
            _ => name,
        };
        let kind = match kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Summary => "summary",
        };
        let _ = writeln!(self.out, "# HELP {family} {help}");
        let _ = writeln!(self.out, "# TYPE {family} {kind}");
    }

    /// Writes one sample: `name{labels} value`.
    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: Value) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                push_label_value(self.out, v);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        match value {
            Value::Int(v) => {
                let _ = write!(self.out, "{v}");
            }
            Value::Float(v) => push_float(self.out, v),
        }
        self.out.push('\n');
    }

    /// Ends the exposition (`# EOF` in OpenMetrics).
    pub(crate) fn finish(self) {
        if self.format == MetricsFormat::OpenMetrics {
            self.out.push_str("# EOF\n");
        }
    }
}

/// A sample value.
#[derive(Clone, Copy)]
pub(crate) enum Value {
    Int(u64),
    Float(f64),
}

/// Escapes a label value: backslash, double quote and line feed (the same
/// in both formats).
fn push_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn push_float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == v.trunc() && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

pub(crate) fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Writes the families that come from a snapshot. `now_ms` is the wall time
/// the "seconds ago" gauges are computed against.
pub(crate) fn write_snapshot(w: &mut Writer<'_>, snapshot: &Snapshot, now_ms: u64) {
    let groups = snapshot.groups();

    w.family(
        "kat_assigned_partitions",
        Kind::Gauge,
        "Partitions the group owns now (Java client: assigned-partitions).",
    );
    for g in groups {
        let labels = [
            (L_CONSUMER_GROUP, consumer_group_of(g.name())),
            (L_KAT_GROUP, g.name()),
        ];
        w.sample(
            "kat_assigned_partitions",
            &labels,
            Value::Int(g.partition_count() as u64),
        );
    }

    w.family(
        "kat_partition_generation",
        Kind::Gauge,
        "One series per partition the group owns now; the value is its generation (times assigned). Revoked and lost partitions have no series.",
    );
    let mut partition = String::new();
    for g in groups {
        let cg = consumer_group_of(g.name());
        for t in g.topics() {
            for p in t.partitions() {
                partition.clear();
                let _ = write!(partition, "{}", p.partition);
                w.sample(
                    "kat_partition_generation",
                    &[
                        (L_CONSUMER_GROUP, cg),
                        (L_KAT_GROUP, g.name()),
                        (L_TOPIC, t.name()),
                        (L_PARTITION, &partition),
                    ],
                    Value::Int(p.generation),
                );
            }
        }
    }

    w.family(
        "kat_rebalance_total",
        Kind::Counter,
        "Rebalances that assigned partitions to the group (Java client: rebalance-total; only assignments that changed something count).",
    );
    for g in groups {
        let labels = [
            (L_CONSUMER_GROUP, consumer_group_of(g.name())),
            (L_KAT_GROUP, g.name()),
        ];
        w.sample(
            "kat_rebalance_total",
            &labels,
            Value::Int(g.stats().assigned_events),
        );
    }

    w.family(
        "kat_rebalance_events_total",
        Kind::Counter,
        "Events that changed the group's assignment, by event: assigned, revoked, lost, reset.",
    );
    for g in groups {
        let s = g.stats();
        for (event, n) in [
            ("assigned", s.assigned_events),
            ("revoked", s.revoked_events),
            ("lost", s.lost_events),
            ("reset", s.reset_events),
        ] {
            w.sample(
                "kat_rebalance_events_total",
                &[
                    (L_CONSUMER_GROUP, consumer_group_of(g.name())),
                    (L_KAT_GROUP, g.name()),
                    ("event", event),
                ],
                Value::Int(n),
            );
        }
    }

    w.family(
        "kat_last_rebalance_seconds_ago",
        Kind::Gauge,
        "Seconds since the group's assignment last changed (Java client: last-rebalance-seconds-ago).",
    );
    for g in groups {
        let last = g.stats().last_change_unix_ms;
        let ago = now_ms.saturating_sub(last) as f64 / 1000.0;
        w.sample(
            "kat_last_rebalance_seconds_ago",
            &[
                (L_CONSUMER_GROUP, consumer_group_of(g.name())),
                (L_KAT_GROUP, g.name()),
            ],
            Value::Float(ago),
        );
    }

    w.family(
        "kat_last_rebalance_timestamp_seconds",
        Kind::Gauge,
        "Unix time of the group's last assignment change.",
    );
    for g in groups {
        w.sample(
            "kat_last_rebalance_timestamp_seconds",
            &[
                (L_CONSUMER_GROUP, consumer_group_of(g.name())),
                (L_KAT_GROUP, g.name()),
            ],
            Value::Float(g.stats().last_change_unix_ms as f64 / 1000.0),
        );
    }

    w.family(
        "kat_epoch",
        Kind::Gauge,
        "The tracker's epoch: advances by one on every event that changes something.",
    );
    w.sample("kat_epoch", &[], Value::Int(snapshot.epoch()));

    w.family(
        "kat_generations_topics",
        Kind::Gauge,
        "(group, topic) entries holding generations (bounded by generations_topics_limit).",
    );
    w.sample(
        "kat_generations_topics",
        &[],
        Value::Int(snapshot.generations_topics() as u64),
    );
}

/// Writes the count of rebalances the librdkafka glue failed to handle, per
/// group (Java client: `failed-rebalance-total`).
fn write_glue_failures(w: &mut Writer<'_>, counts: &[(Name, u64)]) {
    w.family(
        "kat_failed_rebalance_total",
        Kind::Counter,
        "Rebalances the librdkafka glue failed to handle for the group: an assign call librdkafka refused, a list kat rejected, a missing argument (Java client: failed-rebalance-total).",
    );
    for (name, n) in counts {
        w.sample(
            "kat_failed_rebalance_total",
            &[
                (L_CONSUMER_GROUP, consumer_group_of(name.as_str())),
                (L_KAT_GROUP, name.as_str()),
            ],
            Value::Int(*n),
        );
    }
}

/// Writes the families that come from the groups' health and history.
pub(crate) fn write_observed(w: &mut Writer<'_>, registry: &Registry) {
    let groups = registry.sorted();

    w.family(
        "kat_group_health",
        Kind::Gauge,
        "The group's health, one series per state, 1 for the current one: never_joined, standby, assigned, rebalancing, lost, stalled.",
    );
    for (name, log) in &groups {
        let now = log.health().health;
        for h in Health::ALL {
            w.sample(
                "kat_group_health",
                &[
                    (L_CONSUMER_GROUP, consumer_group_of(name.as_str())),
                    (L_KAT_GROUP, name.as_str()),
                    ("state", h.as_str()),
                ],
                Value::Int(u64::from(h == now)),
            );
        }
    }

    w.family(
        "kat_last_poll_seconds_ago",
        Kind::Gauge,
        "Seconds since the consumer's last poll mark (groups whose polls are marked).",
    );
    for (name, log) in &groups {
        if let Some(idle) = log.since_last_poll() {
            w.sample(
                "kat_last_poll_seconds_ago",
                &[
                    (L_CONSUMER_GROUP, consumer_group_of(name.as_str())),
                    (L_KAT_GROUP, name.as_str()),
                ],
                Value::Float((idle.as_millis() as f64) / 1000.0),
            );
        }
    }

    w.family(
        "kat_rebalance_latency_seconds",
        Kind::Summary,
        "Rebalances timed from a revoke (or loss) to the next assign: count and total seconds (Java client: rebalance-latency-total).",
    );
    for (name, log) in &groups {
        let (count, total_ms, _) = log.latency();
        let labels = [
            (L_CONSUMER_GROUP, consumer_group_of(name.as_str())),
            (L_KAT_GROUP, name.as_str()),
        ];
        w.sample(
            "kat_rebalance_latency_seconds_sum",
            &labels,
            Value::Float(total_ms as f64 / 1000.0),
        );
        w.sample(
            "kat_rebalance_latency_seconds_count",
            &labels,
            Value::Int(count),
        );
    }

    w.family(
        "kat_rebalance_latency_max_seconds",
        Kind::Gauge,
        "The longest timed rebalance among the group's recent history (Java client: rebalance-latency-max).",
    );
    for (name, log) in &groups {
        if let (_, _, Some(max_ms)) = log.latency() {
            w.sample(
                "kat_rebalance_latency_max_seconds",
                &[
                    (L_CONSUMER_GROUP, consumer_group_of(name.as_str())),
                    (L_KAT_GROUP, name.as_str()),
                ],
                Value::Float(max_ms as f64 / 1000.0),
            );
        }
    }
}

/// Writes the families that come from librdkafka's statistics (groups that
/// were handed some).
pub(crate) fn write_rdkafka(w: &mut Writer<'_>, registry: &Registry) {
    let groups: Vec<_> = registry
        .sorted()
        .into_iter()
        .filter_map(|(n, log)| log.cgrp.load_full().map(|c| (n, c)))
        .collect();
    if groups.is_empty() {
        return;
    }
    w.family(
        "kat_rdkafka_cgrp_info",
        Kind::Gauge,
        "librdkafka's consumer group state from its last statistics (1): cgrp.state, cgrp.join_state, cgrp.rebalance_reason.",
    );
    for (name, c) in &groups {
        w.sample(
            "kat_rdkafka_cgrp_info",
            &[
                (L_CONSUMER_GROUP, consumer_group_of(name.as_str())),
                (L_KAT_GROUP, name.as_str()),
                ("state", &c.state),
                ("join_state", &c.join_state),
                ("rebalance_reason", &c.rebalance_reason),
            ],
            Value::Int(1),
        );
    }
    w.family(
        "kat_rdkafka_cgrp_rebalance_total",
        Kind::Counter,
        "librdkafka's cgrp.rebalance_cnt: rebalances (assign or revoke) librdkafka counted.",
    );
    for (name, c) in &groups {
        w.sample(
            "kat_rdkafka_cgrp_rebalance_total",
            &[
                (L_CONSUMER_GROUP, consumer_group_of(name.as_str())),
                (L_KAT_GROUP, name.as_str()),
            ],
            Value::Int(c.rebalance_cnt),
        );
    }
    w.family(
        "kat_rdkafka_cgrp_rebalance_age_seconds",
        Kind::Gauge,
        "librdkafka's cgrp.rebalance_age: seconds since its last rebalance, as of its last statistics.",
    );
    for (name, c) in &groups {
        w.sample(
            "kat_rdkafka_cgrp_rebalance_age_seconds",
            &[
                (L_CONSUMER_GROUP, consumer_group_of(name.as_str())),
                (L_KAT_GROUP, name.as_str()),
            ],
            Value::Float(c.rebalance_age_ms as f64 / 1000.0),
        );
    }
    w.family(
        "kat_rdkafka_cgrp_assigned_partitions",
        Kind::Gauge,
        "librdkafka's cgrp.assignment_size: partitions librdkafka has assigned, as of its last statistics.",
    );
    for (name, c) in &groups {
        if let Some(n) = c.assignment_size {
            w.sample(
                "kat_rdkafka_cgrp_assigned_partitions",
                &[
                    (L_CONSUMER_GROUP, consumer_group_of(name.as_str())),
                    (L_KAT_GROUP, name.as_str()),
                ],
                Value::Int(n),
            );
        }
    }
    w.family(
        "kat_rdkafka_stats_age_seconds",
        Kind::Gauge,
        "Seconds since the group's last librdkafka statistics reached kat.",
    );
    let now = now_unix_ms();
    for (name, c) in &groups {
        w.sample(
            "kat_rdkafka_stats_age_seconds",
            &[
                (L_CONSUMER_GROUP, consumer_group_of(name.as_str())),
                (L_KAT_GROUP, name.as_str()),
            ],
            Value::Float(now.saturating_sub(c.received_unix_ms) as f64 / 1000.0),
        );
    }
}

impl Tracker {
    /// The tracker's metrics in Prometheus text format or OpenMetrics (see
    /// the README's "Monitoring" section for the list). Built from one
    /// snapshot (a wait-free load), then allocates the text: for scrapes,
    /// never for hot paths. Any thread.
    pub fn metrics(&self, format: MetricsFormat) -> String {
        let mut out = String::new();
        self.write_metrics(format, &mut out);
        out
    }

    /// [`metrics`](Tracker::metrics) appended to `out` (reuse one buffer
    /// across scrapes).
    pub fn write_metrics(&self, format: MetricsFormat, out: &mut String) {
        let snapshot = self.snapshot();
        out.reserve(2048 + 160 * snapshot.partition_count());
        let mut w = Writer::new(out, format);
        write_snapshot(&mut w, &snapshot, now_unix_ms());
        write_observed(&mut w, self.observed());
        write_glue_failures(&mut w, &self.glue_failure_counts());
        write_rdkafka(&mut w, self.observed());
        w.finish();
    }
}

/// A minimal HTTP server for Prometheus scrapes: `GET /metrics` answers with
/// the tracker's exposition (OpenMetrics when the scraper's `Accept` asks for
/// it, Prometheus text otherwise), anything else with 404.
///
/// One thread, one connection at a time (a scrape takes microseconds); a
/// client gets two seconds to send its request. Stops when dropped. For
/// loopback or trusted networks: no TLS, no authentication. Programs that
/// already run an HTTP server should call [`Tracker::metrics`] from it
/// instead.
pub struct MetricsServer {
    addr: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsServer {
    /// Binds `addr` (e.g. `"127.0.0.1:9464"`, or port 0 for any free port)
    /// and serves `tracker` on a thread of its own.
    pub fn start(
        tracker: Tracker,
        addr: impl std::net::ToSocketAddrs,
    ) -> std::io::Result<MetricsServer> {
        let listener = std::net::TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("kat-metrics".into())
            .spawn(move || {
                let mut body = String::new();
                for conn in listener.incoming() {
                    if flag.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = conn {
                        let _ = serve_one(&tracker, stream, &mut body);
                    }
                }
            })?;
        Ok(MetricsServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept call up.
        let _ = std::net::TcpStream::connect_timeout(&self.addr, std::time::Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Answers one HTTP/1.x request on `stream`, then closes it.
fn serve_one(
    tracker: &Tracker,
    mut stream: std::net::TcpStream,
    body: &mut String,
) -> std::io::Result<()> {
    use std::io::{Read, Write as _};
    let timeout = Some(std::time::Duration::from_secs(2));
    stream.set_read_timeout(timeout)?;
    stream.set_write_timeout(timeout)?;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk)?;
        if n == 0 || head.len() + n > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split("\r\n");
    let request = lines.next().unwrap_or("");
    let mut parts = request.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let accept = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("accept"))
        .map(|(_, v)| v.trim().to_owned());
    let path = target.split('?').next().unwrap_or("");
    if (method != "GET" && method != "HEAD") || path != "/metrics" {
        let msg = "only GET /metrics is served here\n";
        write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}",
            msg.len()
        )?;
        return stream.flush();
    }
    let format = MetricsFormat::negotiate(accept.as_deref());
    body.clear();
    tracker.write_metrics(format, body);
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        format.content_type(),
        body.len()
    )?;
    if method == "GET" {
        stream.write_all(body.as_bytes())?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_group_is_the_name_before_the_first_slash() {
        assert_eq!(consumer_group_of("billing"), "billing");
        assert_eq!(consumer_group_of("billing/0"), "billing");
        assert_eq!(consumer_group_of("a/b/c"), "a");
        assert_eq!(consumer_group_of("/x"), "");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut s = String::new();
        push_label_value(&mut s, "a\\b\"c\nd é");
        assert_eq!(s, "a\\\\b\\\"c\\nd é");
    }

    #[test]
    fn floats_are_written_as_prometheus_reads_them() {
        let f = |v: f64| {
            let mut s = String::new();
            push_float(&mut s, v);
            s
        };
        assert_eq!(f(3.0), "3");
        assert_eq!(f(1.5), "1.5");
        assert_eq!(f(f64::NAN), "NaN");
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(1_700_000_000.123), "1700000000.123");
    }

    #[test]
    fn counters_drop_total_from_the_family_name_in_openmetrics_only() {
        let mut s = String::new();
        let mut w = Writer::new(&mut s, MetricsFormat::OpenMetrics);
        w.family("x_total", Kind::Counter, "h");
        w.sample("x_total", &[], Value::Int(1));
        w.finish();
        assert_eq!(s, "# HELP x h\n# TYPE x counter\nx_total 1\n# EOF\n");
        let mut s = String::new();
        let mut w = Writer::new(&mut s, MetricsFormat::Prometheus);
        w.family("x_total", Kind::Counter, "h");
        w.sample("x_total", &[], Value::Int(1));
        w.finish();
        assert_eq!(s, "# HELP x_total h\n# TYPE x_total counter\nx_total 1\n");
    }
}
