//! librdkafka statistics handed to kat, with hand-written documents shaped
//! like librdkafka's (real consumers: `tests/rdkafka_stats.rs`): the cgrp
//! fields, stripping, bad input, the exposition and the C ABI.

use std::io::Write;
use std::process::{Command, Stdio};

use kat::ffi::*;
use kat::{MetricsFormat, Tracker};

const STATS: &str = r#"{ "name": "c#consumer-1", "type": "consumer", "ts":123456, "brokers":{ "b/1": { "name":"b/1", "toppars":{ "orders-0": { "topic":"orders", "partition":0}, "orders-1": { "topic":"orders", "partition":1} } } }, "topics":{ "orders": { "topic":"orders", "age":10, "partitions":{ "0": { "partition":0, "consumer_lag":5 }, "1": { "partition":1, "consumer_lag":7 }, "-1": { "partition":-1, "consumer_lag":-1 } } } }, "cgrp": { "state":"up", "stateage":100, "join_state":"steady", "rebalance_age":2500, "rebalance_cnt":4, "rebalance_reason":"group \"x\" is rebalancing", "assignment_size":1 } }"#;

#[test]
fn cgrp_fields_are_kept_per_group_and_replaced_by_newer_statistics() {
    let tracker = Tracker::new();
    let g = tracker.group("billing/0").unwrap();
    assert!(g.rdkafka_cgrp().is_none());
    let c = g.record_rdkafka_stats(STATS).unwrap().unwrap();
    assert_eq!(c.state, "up");
    assert_eq!(c.join_state, "steady");
    assert_eq!(c.rebalance_age_ms, 2500);
    assert_eq!(c.rebalance_cnt, 4);
    assert_eq!(c.rebalance_reason, "group \"x\" is rebalancing");
    assert_eq!(c.assignment_size, Some(1));
    assert_eq!(*g.rdkafka_cgrp().unwrap(), c);
    assert!(tracker.group("billing/1").unwrap().rdkafka_cgrp().is_none());
    let newer = STATS.replace("\"rebalance_cnt\":4", "\"rebalance_cnt\":5");
    g.record_rdkafka_stats(&newer).unwrap();
    assert_eq!(g.rdkafka_cgrp().unwrap().rebalance_cnt, 5);
    // A producer's statistics have no cgrp: nothing kept, nothing changed.
    assert_eq!(
        g.record_rdkafka_stats("{\"type\":\"producer\"}").unwrap(),
        None
    );
    assert_eq!(g.rdkafka_cgrp().unwrap().rebalance_cnt, 5);
    // Statistics alone do not make a group joined.
    assert_eq!(g.health().health, kat::Health::NeverJoined);
}

#[test]
fn malformed_statistics_are_rejected_and_change_nothing() {
    let tracker = Tracker::new();
    let g = tracker.group("g").unwrap();
    g.record_rdkafka_stats(STATS).unwrap();
    let cut = &STATS[..STATS.len() - 10];
    let e = g.record_rdkafka_stats(cut).unwrap_err();
    assert!(e.to_string().contains("statistics JSON"), "{e}");
    assert!(e.to_string().contains("at byte"), "{e}");
    assert_eq!(g.rdkafka_cgrp().unwrap().rebalance_cnt, 4);
    assert!(g.strip_rdkafka_stats(cut).is_err());
    assert!(g.strip_rdkafka_stats("[1]").is_err());
    assert!(g.record_rdkafka_stats("[1]").is_err());
}

#[test]
fn stripping_keeps_only_owned_partitions_and_everything_else() {
    let tracker = Tracker::new();
    let g = tracker.group("g").unwrap();
    let none = g.strip_rdkafka_stats(STATS).unwrap();
    assert!(none.contains("\"partitions\":{}"), "{none}");
    assert!(none.contains("\"toppars\":{}"), "{none}");
    g.assigned([("orders", 1)]).unwrap();
    let one = g.strip_rdkafka_stats(STATS).unwrap();
    assert!(
        one.contains("\"partitions\":{\"1\":{\"partition\":1,\"consumer_lag\":7}}"),
        "{one}"
    );
    assert!(
        one.contains("\"toppars\":{\"orders-1\":{\"topic\":\"orders\",\"partition\":1}}"),
        "{one}"
    );
    // Everything else is there, values and order unchanged.
    assert!(one.starts_with("{\"name\":\"c#consumer-1\",\"type\":\"consumer\",\"ts\":123456,"));
    assert!(one.contains("\"rebalance_reason\":\"group \\\"x\\\" is rebalancing\""));
    // Another group owning orders/0 does not count for this one.
    tracker
        .group("other")
        .unwrap()
        .assigned([("orders", 0)])
        .unwrap();
    assert_eq!(g.strip_rdkafka_stats(STATS).unwrap(), one);
    g.revoked([("orders", 1)]).unwrap();
    assert_eq!(g.strip_rdkafka_stats(STATS).unwrap(), none);
}

#[test]
fn cgrp_metrics_pass_promtool_and_the_openmetrics_parser() {
    let tracker = Tracker::new();
    let g = tracker.group("billing/0").unwrap();
    g.assigned([("orders", 0)]).unwrap();
    g.record_rdkafka_stats(STATS).unwrap();
    let text = tracker.metrics(MetricsFormat::Prometheus);
    assert!(text.contains("kat_rdkafka_cgrp_info{messaging_consumer_group_name=\"billing\",kat_group=\"billing/0\",state=\"up\",join_state=\"steady\",rebalance_reason=\"group \\\"x\\\" is rebalancing\"} 1\n"), "{text}");
    assert!(text.contains("kat_rdkafka_cgrp_rebalance_total{messaging_consumer_group_name=\"billing\",kat_group=\"billing/0\"} 4\n"));
    assert!(text.contains("kat_rdkafka_cgrp_rebalance_age_seconds{messaging_consumer_group_name=\"billing\",kat_group=\"billing/0\"} 2.5\n"));
    assert!(text.contains("kat_rdkafka_cgrp_assigned_partitions{messaging_consumer_group_name=\"billing\",kat_group=\"billing/0\"} 1\n"));
    if std::env::var_os("KAT_SKIP_METRICS_PARSERS").is_some() {
        return;
    }
    for (cmd, args, input) in [
        ("promtool", vec!["check", "metrics"], text.clone()),
        (
            "/usr/bin/python3",
            vec![
                "-c",
                "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\nlist(p(sys.stdin.read()))",
            ],
            tracker.metrics(MetricsFormat::OpenMetrics),
        ),
    ] {
        let mut child = Command::new(cmd)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd}: {e} (scripts/setup.sh installs it)"));
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success() && report.trim().is_empty(), "{cmd}: {report}\n{input}");
    }
}

#[test]
fn c_abi_records_strips_and_reports_with_snprintf_sizes() {
    let tracker = kat_tracker_new();
    let mut group = std::ptr::null_mut();
    // SAFETY: live handles, valid pointers and lengths, writable outputs.
    unsafe {
        kat_tracker_group(tracker, c"g".as_ptr(), &mut group);
        let mut len = 0;
        let mut buf = vec![0 as std::ffi::c_char; 4096];
        assert_eq!(
            kat_group_rdkafka_cgrp_json(group, buf.as_mut_ptr(), buf.len(), &mut len),
            kat_result::KAT_OK
        );
        assert_eq!(std::ffi::CStr::from_ptr(buf.as_ptr()).to_str(), Ok("null"));

        let json = STATS.as_ptr().cast::<std::ffi::c_char>();
        assert_eq!(
            kat_group_rdkafka_stats(group, json, STATS.len()),
            kat_result::KAT_OK
        );
        assert_eq!(
            kat_group_rdkafka_cgrp_json(group, buf.as_mut_ptr(), buf.len(), &mut len),
            kat_result::KAT_OK
        );
        let cgrp = std::ffi::CStr::from_ptr(buf.as_ptr()).to_str().unwrap();
        assert!(cgrp.starts_with("{\"state\":\"up\",\"join_state\":\"steady\",\"rebalance_age\":2500,\"rebalance_cnt\":4,"), "{cgrp}");
        assert_eq!(cgrp.len(), len);

        let parts = [0];
        kat_group_assigned_partitions(group, c"orders".as_ptr(), parts.as_ptr(), 1);
        let mut need = 0;
        assert_eq!(
            kat_group_rdkafka_stats_strip(
                group,
                json,
                STATS.len(),
                std::ptr::null_mut(),
                0,
                &mut need
            ),
            kat_result::KAT_OK
        );
        let mut small = [0 as std::ffi::c_char; 8];
        let mut need2 = 0;
        assert_eq!(
            kat_group_rdkafka_stats_strip(
                group,
                json,
                STATS.len(),
                small.as_mut_ptr(),
                8,
                &mut need2
            ),
            kat_result::KAT_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(need, need2);
        assert_eq!(
            kat_group_rdkafka_stats_strip(
                group,
                json,
                STATS.len(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut len
            ),
            kat_result::KAT_OK
        );
        let stripped = std::ffi::CStr::from_ptr(buf.as_ptr()).to_str().unwrap();
        assert_eq!(stripped.len(), need);
        assert!(stripped.contains("\"partitions\":{\"0\":{\"partition\":0,\"consumer_lag\":5}}"));

        // Bad input: clear errors, nothing changed.
        let cut = STATS.len() - 10;
        assert_eq!(
            kat_group_rdkafka_stats(group, json, cut),
            kat_result::KAT_ERR_INVALID_ARGUMENT
        );
        let bad = [b'{', 0xff, b'}'];
        assert_eq!(
            kat_group_rdkafka_stats(group, bad.as_ptr().cast(), 3),
            kat_result::KAT_ERR_INVALID_UTF8
        );
        assert_eq!(
            kat_group_rdkafka_stats(group, std::ptr::null(), 5),
            kat_result::KAT_ERR_NULL_POINTER
        );
        assert_eq!(
            kat_group_rdkafka_stats(group, std::ptr::null(), 0),
            kat_result::KAT_ERR_INVALID_ARGUMENT,
            "an empty text is not JSON"
        );
        assert_eq!(
            kat_group_rdkafka_stats(std::ptr::null_mut(), json, STATS.len()),
            kat_result::KAT_ERR_NULL_POINTER
        );
        let mut untouched = 99;
        assert_eq!(
            kat_group_rdkafka_stats_strip(
                group,
                json,
                cut,
                std::ptr::null_mut(),
                0,
                &mut untouched
            ),
            kat_result::KAT_ERR_INVALID_ARGUMENT
        );
        assert_eq!(untouched, 99);
        assert_eq!(
            kat_group_rdkafka_cgrp_json(group, buf.as_mut_ptr(), buf.len(), &mut len),
            kat_result::KAT_OK
        );
        let after = std::ffi::CStr::from_ptr(buf.as_ptr()).to_str().unwrap();
        assert!(after.contains("\"rebalance_cnt\":4,"), "{after}");
        kat_group_free(group);
        kat_tracker_free(tracker);
    }
}
