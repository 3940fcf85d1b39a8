//! The fleet view on a real Prometheus.
//!
//! Three processes each run one consumer of the consumer group `fleet` on ONE
//! librdkafka mock cluster (the first process creates it, the others connect
//! to its bootstrap address) and serve kat's `/metrics` on 127.0.0.1 with
//! [`kat::MetricsServer`]. A real Prometheus (Debian's `prometheus`, run with
//! a generated config, a temporary storage directory, a 1 s scrape and
//! evaluation interval, loopback only) scrapes them with the rules of
//! `contrib/prometheus/kat.rules.yml`, and the test asserts through
//! Prometheus' HTTP query API that:
//! - the partitions owned across the fleet sum to the topic's partitions,
//!   each owned exactly once;
//! - `KatPartitionOwnedTwice` fires while one member is stalled (its poll loop
//!   stopped, nothing expires its ownership) and the group gave its
//!   partitions to the others, and clears once it polls again;
//! - the series of a partition revoked from a member (its consumer closed,
//!   its process still scraped) disappears.
//!
//! The rules are the shipped ones with every `for:` shortened to 2 s so the
//! test runs in well under a minute; the expressions are unchanged
//! (`contrib/prometheus/kat.rules.test.yml` tests them with their real
//! durations through `promtool test rules`, see `promtool_checks_and_tests_the_shipped_rules`).
//!
//! Member processes are this test binary again, running the ignored test
//! `fleet_member_process`, driven through stdin (`pause`, `resume`, `close`,
//! `quit`).

mod mock;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use kat::{MetricsServer, Tracker};
use mock::{Api, Cluster, Consumer, Options, Strategy};

const GROUP: &str = "fleet";
const TOPICS: &[(&str, i32)] = &[("orders", 6)];
const MEMBER_ENV: &str = "KAT_FLEET_MEMBER";
const BOOTSTRAP_ENV: &str = "KAT_FLEET_BOOTSTRAP";
/// How long any condition may take.
const PATIENCE: Duration = Duration::from_secs(60);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tool(name: &str) -> Command {
    let ok = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "{name} is not installed: scripts/setup.sh installs Debian's `prometheus` package"
    );
    Command::new(name)
}

#[test]
fn promtool_checks_and_tests_the_shipped_rules() {
    let dir = root().join("contrib").join("prometheus");
    for args in [
        ["check", "rules", "kat.rules.yml"],
        ["test", "rules", "kat.rules.test.yml"],
    ] {
        let out = tool("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// One member process: a consumer of `fleet`, its tracker served on
/// `/metrics`. Started by `fleet_view_on_a_real_prometheus`.
#[test]
#[ignore = "a member process of fleet_view_on_a_real_prometheus, which starts it"]
fn fleet_member_process() {
    let index: usize = std::env::var(MEMBER_ENV)
        .expect("started by fleet_view_on_a_real_prometheus (KAT_FLEET_MEMBER)")
        .parse()
        .expect("member index");
    let cluster = match std::env::var(BOOTSTRAP_ENV) {
        Ok(b) => Cluster::connect(&b, TOPICS),
        Err(_) => Cluster::new(1, TOPICS),
    };
    let tracker = Tracker::new();
    let server = MetricsServer::start(tracker.clone(), "127.0.0.1:0").expect("bind 127.0.0.1");
    println!("FLEET bootstrap {}", cluster.bootstraps());
    println!("FLEET metrics {}", server.local_addr());
    let options = Options {
        api: Some(Api::Callback),
        settings: vec![("max.poll.interval.ms", "3000")],
        check_lost_when_paused: false,
    };
    // Stalled after 1 s without a poll (max.poll.interval.ms is 3 s).
    tracker
        .group(&format!("{GROUP}/{index}"))
        .unwrap()
        .set_stall_after(Some(Duration::from_secs(1)));
    let mut consumer = Some(Consumer::start_with(
        &cluster,
        &tracker,
        GROUP,
        index,
        Strategy::Range,
        options,
    ));
    for line in std::io::stdin().lines() {
        let line = line.expect("stdin");
        match line.trim() {
            "pause" => consumer.as_ref().expect("running").pause(),
            "resume" => consumer.as_ref().expect("running").resume(),
            "close" => {
                consumer.take().expect("running").close();
            }
            "quit" => break,
            other => panic!("unknown command {other:?}"),
        }
        println!("FLEET done {}", line.trim());
    }
    if let Some(c) = consumer {
        c.close();
    }
    drop(server);
    println!("FLEET done quit");
}

/// A member process and its command pipe.
struct Member {
    child: Child,
    stdin: std::cell::RefCell<ChildStdin>,
    lines: mpsc::Receiver<String>,
    metrics: SocketAddr,
    bootstrap: String,
}

impl Member {
    fn start(index: usize, bootstrap: Option<&str>) -> Member {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--ignored",
            "--exact",
            "fleet_member_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MEMBER_ENV, index.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        if let Some(b) = bootstrap {
            cmd.env(BOOTSTRAP_ENV, b);
        }
        let mut child = cmd.spawn().expect("start a member process");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // The test harness may have written "test … … " on the
                // same line first.
                if let Some(i) = line.find("FLEET ") {
                    let _ = tx.send(line[i + "FLEET ".len()..].to_owned());
                }
            }
        });
        let mut m = Member {
            child,
            stdin: std::cell::RefCell::new(stdin),
            lines: rx,
            metrics: "127.0.0.1:1".parse().unwrap(),
            bootstrap: String::new(),
        };
        m.bootstrap = m.expect("bootstrap ");
        m.metrics = m.expect("metrics ").parse().expect("metrics address");
        m
    }

    /// Waits for the next line starting with `prefix`; returns the rest.
    fn expect(&self, prefix: &str) -> String {
        let line = self
            .lines
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|e| panic!("member: no {prefix:?} line: {e}"));
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("member said {line:?}, expected {prefix:?}…"))
            .to_owned()
    }

    fn command(&self, cmd: &str) {
        let mut stdin = self.stdin.borrow_mut();
        writeln!(stdin, "{cmd}").expect("member stdin");
        stdin.flush().unwrap();
        drop(stdin);
        assert_eq!(self.expect("done "), cmd);
    }

    fn quit(mut self) {
        self.command("quit");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "member exited with {status}");
    }

    fn instance(&self) -> String {
        self.metrics.to_string()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        // Only when a test failed before quit: do not leave it behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The Prometheus process this test started, with its own temporary
/// directory; killed and cleaned up when dropped.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The shipped rules with every `for:` shortened to 2 s.
fn fast_rules() -> String {
    let shipped = std::fs::read_to_string(root().join("contrib/prometheus/kat.rules.yml")).unwrap();
    let mut changed = 0;
    let text: Vec<String> = shipped
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("for: ") {
                changed += 1;
                format!("{}for: 2s", &l[..l.len() - t.len()])
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert!(changed >= 3, "the rules have `for:` clauses");
    text.join("\n") + "\n"
}

fn free_loopback_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn start_prometheus(targets: &[String]) -> Prometheus {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("fleet-prometheus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("kat.rules.yml"), fast_rules()).unwrap();
    let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: kat\n    static_configs:\n      - targets: [{}]\n",
        dir.join("kat.rules.yml").display(),
        targets.join(", ")
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let check = tool("promtool")
        .args(["check", "config"])
        .arg(dir.join("prometheus.yml"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let port = free_loopback_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = tool("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    let p = Prometheus { child, addr, dir };
    wait_for(
        "Prometheus ready",
        || {
            http_get(p.addr, "/-/ready")
                .is_some_and(|r| r.starts_with("HTTP/1.0 200") || r.starts_with("HTTP/1.1 200"))
        },
        || std::fs::read_to_string(p.dir.join("prometheus.log")).unwrap_or_default(),
    );
    p
}

/// One HTTP/1.0 GET (no chunked replies); the whole response.
fn http_get(addr: SocketAddr, target: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {target} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One sample of an instant query: its labels and value.
#[derive(Debug, Clone)]
struct Sample {
    labels: BTreeMap<String, String>,
    value: String,
}

/// Runs an instant query; panics unless Prometheus answers `success`.
fn query(p: &Prometheus, promql: &str) -> Vec<Sample> {
    let reply = http_get(
        p.addr,
        &format!("/api/v1/query?query={}", url_encode(promql)),
    )
    .unwrap_or_else(|| panic!("no answer to {promql}"));
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    assert!(
        body.contains("\"status\":\"success\"") && body.contains("\"resultType\":\"vector\""),
        "{promql}: {body}"
    );
    // Results: [{"metric":{"k":"v",…},"value":[ts,"v"]},…]. Our label
    // values have no quotes, braces or commas, which keeps this simple.
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("\"metric\":{") {
        rest = &rest[i + "\"metric\":{".len()..];
        let end = rest.find('}').expect("metric end");
        let labels = rest[..end]
            .split(',')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once(':').expect("label");
                (
                    k.trim_matches('"').to_owned(),
                    v.trim_matches('"').to_owned(),
                )
            })
            .collect();
        rest = &rest[end..];
        let v = rest.find("\"value\":[").expect("value");
        rest = &rest[v + "\"value\":[".len()..];
        let close = rest.find(']').expect("value end");
        let value = rest[..close]
            .split(',')
            .nth(1)
            .expect("value pair")
            .trim_matches('"')
            .to_owned();
        out.push(Sample { labels, value });
    }
    out
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool, state: impl Fn() -> String) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < PATIENCE,
            "timed out waiting for {what}; {}",
            state()
        );
        thread::sleep(Duration::from_millis(250));
    }
}

const OWNED: &str = "kat_partition_generation{messaging_consumer_group_name=\"fleet\"}";

/// Partition id → number of owners, fleet-wide.
fn owners(p: &Prometheus) -> BTreeMap<String, String> {
    query(
        p,
        &format!("count by (messaging_destination_partition_id) ({OWNED})"),
    )
    .into_iter()
    .map(|s| {
        (
            s.labels["messaging_destination_partition_id"].clone(),
            s.value,
        )
    })
    .collect()
}

/// Partition ids a member's process reports as owned.
fn owned_by(p: &Prometheus, m: &Member) -> Vec<String> {
    let mut v: Vec<String> = query(
        p,
        &format!(
            "kat_partition_generation{{messaging_consumer_group_name=\"fleet\",instance=\"{}\"}}",
            m.instance()
        ),
    )
    .into_iter()
    .map(|s| s.labels["messaging_destination_partition_id"].clone())
    .collect();
    v.sort();
    v
}

fn firing(p: &Prometheus, alert: &str) -> Vec<Sample> {
    query(
        p,
        &format!("ALERTS{{alertname=\"{alert}\",alertstate=\"firing\"}}"),
    )
}

/// Each partition owned exactly once, by the given members, each owning one
/// at least, and the per-process gauges summing to the topic's partitions.
fn settled(p: &Prometheus, members: &[&Member]) -> bool {
    let o = owners(p);
    let all_once = o.len() == 6 && o.values().all(|v| v == "1");
    let sum = query(
        p,
        "sum(kat_assigned_partitions{messaging_consumer_group_name=\"fleet\"})",
    );
    let sum_ok = sum.len() == 1 && sum[0].value == "6";
    all_once && sum_ok && members.iter().all(|m| !owned_by(p, m).is_empty())
}

#[test]
fn fleet_view_on_a_real_prometheus() {
    let m0 = Member::start(0, None);
    let bootstrap = m0.bootstrap.clone();
    let m1 = Member::start(1, Some(&bootstrap));
    let m2 = Member::start(2, Some(&bootstrap));
    assert_eq!(m1.bootstrap, bootstrap, "one mock cluster for all");
    let p = start_prometheus(&[m0.instance(), m1.instance(), m2.instance()]);
    let state = || {
        format!(
            "owners {:?}; m0 {:?} m1 {:?} m2 {:?}; alerts {:?}",
            owners(&p),
            owned_by(&p, &m0),
            owned_by(&p, &m1),
            owned_by(&p, &m2),
            query(&p, "ALERTS")
        )
    };

    // 1. The owned partitions sum to the topic's, each owned once.
    wait_for(
        "the fleet to own every partition once",
        || settled(&p, &[&m0, &m1, &m2]),
        state,
    );
    assert!(
        firing(&p, "KatPartitionOwnedTwice").is_empty(),
        "{}",
        state()
    );
    let targets_up = query(&p, "sum(up{job=\"kat\"})");
    assert_eq!(targets_up[0].value, "3");

    // 2. m1 stops polling (a stalled member, nothing expires its ownership):
    // past max.poll.interval.ms it leaves the group, the others take its
    // partitions, and it still reports them: double ownership.
    let stalled = owned_by(&p, &m1);
    m1.command("pause");
    wait_for(
        "KatPartitionOwnedTwice to fire for m1's partitions",
        || {
            let mut f: Vec<String> = firing(&p, "KatPartitionOwnedTwice")
                .into_iter()
                .map(|s| s.labels["messaging_destination_partition_id"].clone())
                .collect();
            f.sort();
            f == stalled
        },
        state,
    );
    assert_eq!(owned_by(&p, &m1), stalled, "m1 still reports them");
    // Its own process says it is stalled (its poll marks stopped).
    let health = query(
        &p,
        &format!(
            "kat_group_health{{instance=\"{}\",state=\"stalled\"}}",
            m1.instance()
        ),
    );
    assert_eq!(health[0].value, "1", "m1's health: {health:?}");

    // It polls again: the loss reaches it, its series go, the alert clears.
    m1.command("resume");
    wait_for(
        "KatPartitionOwnedTwice to clear and the group to settle",
        || firing(&p, "KatPartitionOwnedTwice").is_empty() && settled(&p, &[&m0, &m1, &m2]),
        state,
    );
    let lost = query(
        &p,
        &format!(
            "kat_rebalance_events_total{{instance=\"{}\",event=\"lost\"}}",
            m1.instance()
        ),
    );
    assert!(
        lost[0].value.parse::<f64>().unwrap() >= 1.0,
        "m1 recorded its loss"
    );

    // 3. m2's consumer closes (its partitions are revoked) while its process
    // is still scraped: their series disappear; the others take them over.
    let revoked = owned_by(&p, &m2);
    assert!(!revoked.is_empty());
    m2.command("close");
    wait_for(
        "m2's partition series to disappear and the others to own everything",
        || owned_by(&p, &m2).is_empty() && settled(&p, &[&m0, &m1]),
        state,
    );
    let m2_gauge = query(
        &p,
        &format!("kat_assigned_partitions{{instance=\"{}\"}}", m2.instance()),
    );
    assert_eq!(m2_gauge.len(), 1, "m2 is still scraped");
    assert_eq!(m2_gauge[0].value, "0");
    for id in &revoked {
        let series = query(
            &p,
            &format!(
                "kat_partition_generation{{instance=\"{}\",messaging_destination_partition_id=\"{id}\"}}",
                m2.instance()
            ),
        );
        assert!(series.is_empty(), "m2's series of partition {id} is gone");
    }
    assert!(
        firing(&p, "KatPartitionOwnedTwice").is_empty(),
        "{}",
        state()
    );

    drop(p);
    m2.quit();
    m1.quit();
    m0.quit(); // last: its process holds the mock cluster
}
