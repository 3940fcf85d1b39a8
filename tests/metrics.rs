//! The Prometheus / OpenMetrics exposition: series follow ownership, the text
//! is valid for real parsers (`promtool check metrics` from Prometheus, and
//! the OpenMetrics parser of the Python `prometheus_client`), and the C ABI
//! sizes its buffer like `snprintf`.
//!
//! `scripts/setup.sh` installs `prometheus` (promtool) and
//! `python3-prometheus-client`; without them the parser tests fail, saying
//! what is missing (set `KAT_SKIP_METRICS_PARSERS=1` to skip them knowingly).

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use kat::ffi::*;
use kat::{MetricsFormat, Tracker};

/// The samples of an exposition: `name{labels}` → value, in text order.
fn samples(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').expect("sample line");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn partition_series(text: &str) -> BTreeMap<String, String> {
    samples(text)
        .into_iter()
        .filter(|(k, _)| k.starts_with("kat_partition_generation{"))
        .collect()
}

fn key(group: &str, topic: &str, partition: i32) -> String {
    let cg = group.split('/').next().unwrap();
    format!(
        "kat_partition_generation{{messaging_consumer_group_name=\"{cg}\",kat_group=\"{group}\",messaging_destination_name=\"{topic}\",messaging_destination_partition_id=\"{partition}\"}}"
    )
}

#[test]
fn one_series_per_owned_partition_carrying_its_generation() {
    let tracker = Tracker::new();
    let a = tracker.group("billing/0").unwrap();
    let b = tracker.group("billing/1").unwrap();
    a.assigned([("orders", 0), ("orders", 1), ("audit", 0)])
        .unwrap();
    b.assigned([("orders", 2)]).unwrap();
    let text = tracker.metrics(MetricsFormat::Prometheus);
    let series = partition_series(&text);
    let want: BTreeMap<String, String> = [
        (key("billing/0", "audit", 0), "1"),
        (key("billing/0", "orders", 0), "1"),
        (key("billing/0", "orders", 1), "1"),
        (key("billing/1", "orders", 2), "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect();
    assert_eq!(series, want, "{text}");
    let s = samples(&text);
    assert_eq!(
        s["kat_assigned_partitions{messaging_consumer_group_name=\"billing\",kat_group=\"billing/0\"}"],
        "3"
    );

    // A revoked partition's series is gone from the next scrape; one that
    // comes back carries its new generation.
    a.revoked([("orders", 1)]).unwrap();
    b.assigned([("orders", 1)]).unwrap();
    let series = partition_series(&tracker.metrics(MetricsFormat::Prometheus));
    assert!(!series.contains_key(&key("billing/0", "orders", 1)));
    assert_eq!(series[&key("billing/1", "orders", 1)], "1");
    b.revoked([("orders", 1)]).unwrap();
    a.assigned([("orders", 1)]).unwrap();
    let series = partition_series(&tracker.metrics(MetricsFormat::Prometheus));
    assert!(!series.contains_key(&key("billing/1", "orders", 1)));
    assert_eq!(series[&key("billing/0", "orders", 1)], "2");

    // Lost and reset remove every series of the group; counters remain.
    a.lost();
    b.reset();
    let text = tracker.metrics(MetricsFormat::OpenMetrics);
    assert_eq!(partition_series(&text), BTreeMap::new(), "{text}");
    let s = samples(&text);
    let ev = |g: &str, e: &str| {
        s[&format!(
            "kat_rebalance_events_total{{messaging_consumer_group_name=\"billing\",kat_group=\"{g}\",event=\"{e}\"}}"
        )]
            .clone()
    };
    assert_eq!(ev("billing/0", "assigned"), "2");
    assert_eq!(ev("billing/0", "revoked"), "1");
    assert_eq!(ev("billing/0", "lost"), "1");
    assert_eq!(ev("billing/1", "reset"), "1");
    assert_eq!(
        s["kat_rebalance_total{messaging_consumer_group_name=\"billing\",kat_group=\"billing/1\"}"],
        "2"
    );
    assert_eq!(
        s["kat_assigned_partitions{messaging_consumer_group_name=\"billing\",kat_group=\"billing/0\"}"],
        "0"
    );
    assert_eq!(s["kat_epoch"], tracker.epoch().to_string());
}

#[test]
fn glue_failures_are_counted_per_group_as_failed_rebalances() {
    let tracker = Tracker::new();
    let a = tracker.group("billing/0").unwrap();
    let b = tracker.group("billing/1").unwrap();
    a.record_glue_failure();
    a.record_glue_failure();
    let epoch = tracker.epoch();
    let s = samples(&tracker.metrics(MetricsFormat::Prometheus));
    let series = |g: &str| {
        format!(
            "kat_failed_rebalance_total{{messaging_consumer_group_name=\"billing\",kat_group=\"{g}\"}}"
        )
    };
    assert_eq!(s.get(&series("billing/0")).map(String::as_str), Some("2"));
    // A group that never failed (nor had an event) still has its series, at 0.
    assert_eq!(s.get(&series("billing/1")).map(String::as_str), Some("0"));
    assert_eq!(b.glue_failures(), 0);
    assert_eq!(
        tracker.epoch(),
        epoch,
        "counting failures changes no assignment"
    );
}

#[test]
fn seconds_ago_and_timestamp_agree_with_the_last_change() {
    let tracker = Tracker::new();
    let g = tracker.group("g").unwrap();
    g.assigned([("t", 0)]).unwrap();
    let last = g.stats().last_change_unix_ms as f64 / 1000.0;
    let s = samples(&tracker.metrics(MetricsFormat::Prometheus));
    let labels = "{messaging_consumer_group_name=\"g\",kat_group=\"g\"}";
    let ts: f64 = s[&format!("kat_last_rebalance_timestamp_seconds{labels}")]
        .parse()
        .unwrap();
    assert!((ts - last).abs() < 1e-6, "{ts} vs {last}");
    let ago: f64 = s[&format!("kat_last_rebalance_seconds_ago{labels}")]
        .parse()
        .unwrap();
    assert!((0.0..3600.0).contains(&ago), "{ago}");
}

#[test]
fn openmetrics_has_counter_families_without_total_and_ends_with_eof() {
    let tracker = Tracker::new();
    tracker.group("g").unwrap().assigned([("t", 0)]).unwrap();
    let om = tracker.metrics(MetricsFormat::OpenMetrics);
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# TYPE kat_rebalance counter\n"), "{om}");
    assert!(om.contains("\nkat_rebalance_total{"), "{om}");
    let prom = tracker.metrics(MetricsFormat::Prometheus);
    assert!(!prom.contains("# EOF"));
    assert!(
        prom.contains("# TYPE kat_rebalance_total counter\n"),
        "{prom}"
    );
    assert_eq!(
        MetricsFormat::negotiate(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        )),
        MetricsFormat::OpenMetrics
    );
    assert_eq!(
        MetricsFormat::negotiate(Some("text/plain")),
        MetricsFormat::Prometheus
    );
    assert_eq!(MetricsFormat::negotiate(None), MetricsFormat::Prometheus);
}

/// A tracker with awkward names, many groups and topics, and every status.
fn busy_tracker() -> Tracker {
    let tracker = Tracker::new();
    let names = [
        "plain",
        "with/slash/s",
        "quote\"back\\slash",
        "new\nline",
        "ünïcødé ✓",
        "spaces and, commas={}",
    ];
    for (i, name) in names.iter().enumerate() {
        let g = tracker.group(name).unwrap();
        let topics = ["orders", "a.b-c_d", "X"];
        let list: Vec<(&str, i32)> = topics
            .iter()
            .flat_map(|t| (0..(i as i32 + 2)).map(move |p| (*t, p)))
            .collect();
        g.assigned(list.iter().copied()).unwrap();
        g.revoked([("orders", 0)]).unwrap();
        if i % 3 == 1 {
            g.lost();
        }
    }
    tracker
}

fn skip_parsers() -> bool {
    std::env::var_os("KAT_SKIP_METRICS_PARSERS").is_some()
}

/// Runs `cmd` with `input` on stdin; returns (success, stdout + stderr).
fn run_with_stdin(cmd: &mut Command, input: &str) -> (bool, String) {
    let mut child = match cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot run {cmd:?}: {e} (scripts/setup.sh installs it; KAT_SKIP_METRICS_PARSERS=1 skips)"
        ),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn promtool_accepts_the_prometheus_text_without_lint_findings() {
    if skip_parsers() {
        return;
    }
    let text = busy_tracker().metrics(MetricsFormat::Prometheus);
    let (ok, report) = run_with_stdin(Command::new("promtool").args(["check", "metrics"]), &text);
    assert!(
        ok,
        "promtool check metrics failed:\n{report}\n--- input\n{text}"
    );
    assert!(report.trim().is_empty(), "promtool findings:\n{report}");
}

/// Parses OpenMetrics with `prometheus_client`'s strict parser and prints
/// one line per sample: `name labels-as-json value`.
const OM_PARSE: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        print(fam.type, s.name, json.dumps(s.labels, sort_keys=True, ensure_ascii=False), float(s.value))
"#;

#[test]
fn openmetrics_parser_accepts_the_openmetrics_text_and_reads_back_the_labels() {
    if skip_parsers() {
        return;
    }
    let tracker = busy_tracker();
    let text = tracker.metrics(MetricsFormat::OpenMetrics);
    let (ok, parsed) = run_with_stdin(
        Command::new("/usr/bin/python3").args(["-c", OM_PARSE]),
        &text,
    );
    assert!(
        ok,
        "OpenMetrics parser failed:\n{parsed}\n--- input\n{text}"
    );
    // Every owned partition comes back with its exact labels and generation.
    let mut want = Vec::new();
    let snap = tracker.snapshot();
    for g in snap.groups() {
        for t in g.topics() {
            for p in t.partitions() {
                want.push(format!(
                    "gauge kat_partition_generation {{\"kat_group\": {}, \"messaging_consumer_group_name\": {}, \"messaging_destination_name\": \"{}\", \"messaging_destination_partition_id\": \"{}\"}} {}.0",
                    json(g.name()),
                    json(kat::consumer_group_of(g.name())),
                    t.name(),
                    p.partition,
                    p.generation
                ));
            }
        }
    }
    let mut got: Vec<String> = parsed
        .lines()
        .filter(|l| l.starts_with("gauge kat_partition_generation "))
        .map(str::to_owned)
        .collect();
    want.sort();
    got.sort();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    assert!(parsed.contains("counter kat_rebalance_total "), "{parsed}");
}

/// Python's `json.dumps(ensure_ascii=False)` of a string.
fn json(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[test]
fn c_abi_sizes_like_snprintf_and_rejects_bad_arguments() {
    let tracker = kat_tracker_new();
    let mut group = std::ptr::null_mut();
    // SAFETY: live tracker, NUL-terminated strings, writable outputs.
    unsafe {
        assert_eq!(
            kat_tracker_group(tracker, c"billing/0".as_ptr(), &mut group),
            kat_result::KAT_OK
        );
        let parts = [0, 1, 2];
        kat_group_assigned_partitions(group, c"orders".as_ptr(), parts.as_ptr(), 3);

        let mut len = usize::MAX;
        let f = kat_metrics_format::KAT_METRICS_PROMETHEUS as u32;
        assert_eq!(
            kat_tracker_metrics(tracker, f, std::ptr::null_mut(), 0, &mut len),
            kat_result::KAT_OK
        );
        let expected = len;
        assert!(expected > 0);

        // Too small: the error, the needed size, and the buffer untouched.
        let mut small = vec![b'x' as std::ffi::c_char; 16];
        let mut len2 = 0;
        assert_eq!(
            kat_tracker_metrics(tracker, f, small.as_mut_ptr(), small.len(), &mut len2),
            kat_result::KAT_ERR_BUFFER_TOO_SMALL
        );
        assert!(
            len2 >= expected - 8 && len2 <= expected + 8,
            "{len2} vs {expected}"
        );
        assert!(small.iter().all(|&c| c == b'x' as std::ffi::c_char));

        // Big enough: the text and its NUL.
        let mut buf = vec![0 as std::ffi::c_char; len2 + 64];
        let mut len3 = 0;
        assert_eq!(
            kat_tracker_metrics(tracker, f, buf.as_mut_ptr(), buf.len(), &mut len3),
            kat_result::KAT_OK
        );
        let text = std::ffi::CStr::from_ptr(buf.as_ptr()).to_str().unwrap();
        assert_eq!(text.len(), len3);
        assert!(text.contains("messaging_destination_partition_id=\"2\"} 1\n"));

        // Bad arguments: a clear error, nothing written.
        let mut untouched = 7usize;
        assert_eq!(
            kat_tracker_metrics(tracker, 9, std::ptr::null_mut(), 0, &mut untouched),
            kat_result::KAT_ERR_INVALID_ARGUMENT
        );
        assert_eq!(untouched, 7);
        assert_eq!(
            kat_tracker_metrics(std::ptr::null(), f, std::ptr::null_mut(), 0, &mut untouched),
            kat_result::KAT_ERR_NULL_POINTER
        );
        assert_eq!(
            kat_tracker_metrics(tracker, f, std::ptr::null_mut(), 10, &mut untouched),
            kat_result::KAT_ERR_NULL_POINTER
        );
        assert_eq!(
            kat_tracker_metrics(
                tracker,
                f,
                buf.as_mut_ptr(),
                buf.len(),
                std::ptr::null_mut()
            ),
            kat_result::KAT_ERR_NULL_POINTER
        );
        assert_eq!(untouched, 7);

        let om = kat_metrics_format::KAT_METRICS_OPENMETRICS as u32;
        assert_eq!(
            std::ffi::CStr::from_ptr(kat_metrics_content_type(om)).to_str(),
            Ok(kat::OPENMETRICS_CONTENT_TYPE)
        );
        assert_eq!(
            std::ffi::CStr::from_ptr(kat_metrics_content_type(f)).to_str(),
            Ok(kat::PROMETHEUS_CONTENT_TYPE)
        );
        assert!(kat_metrics_content_type(5).is_null());

        kat_group_free(group);
        kat_tracker_free(tracker);
    }
}

/// One HTTP/1.1 request; returns the whole response.
fn http_get(addr: std::net::SocketAddr, path: &str, accept: Option<&str>) -> String {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n{accept}\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn the_metrics_server_answers_scrapes_in_the_format_asked_for() {
    let tracker = Tracker::new();
    let g = tracker.group("g").unwrap();
    g.assigned([("t", 3)]).unwrap();
    let server = kat::MetricsServer::start(tracker.clone(), "127.0.0.1:0").unwrap();
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback());

    let plain = http_get(addr, "/metrics", None);
    let (head, body) = plain.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains(&format!("Content-Type: {}", kat::PROMETHEUS_CONTENT_TYPE)));
    assert!(head.contains(&format!("Content-Length: {}", body.len())));
    assert!(
        body.contains("messaging_destination_partition_id=\"3\"} 1\n"),
        "{body}"
    );

    // What Prometheus sends: OpenMetrics first.
    let om = http_get(
        addr,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
    );
    assert!(om.contains(kat::OPENMETRICS_CONTENT_TYPE), "{om}");
    assert!(om.ends_with("# EOF\n"));

    // Ownership changes show at the next scrape.
    g.revoked([("t", 3)]).unwrap();
    let after = http_get(addr, "/metrics", None);
    assert!(
        !after.contains("messaging_destination_partition_id=\"3\""),
        "{after}"
    );

    assert!(http_get(addr, "/other", None).starts_with("HTTP/1.1 404 "));
    drop(server);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "stopped when dropped"
    );
}
