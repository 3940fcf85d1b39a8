#!/usr/bin/env bash
# Runs the live demo (examples/live.rs) with a real Prometheus scraping its
# /metrics every second, and checks through Prometheus' HTTP query API that
# the scrapes succeed and that, at some point, the demo's two consumer groups
# own every partition of their three topics (2 x 14), each exactly once.
# Needs Debian's prometheus (scripts/setup.sh) and python3; takes about 30 s.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q --features rdkafka --example live
target_dir="$(cargo metadata --format-version 1 --no-deps | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
demo_port="$(free_port)"
prom_port="$(free_port)"

cat > "$work/prometheus.yml" <<CONF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $PWD/contrib/prometheus/kat.rules.yml
scrape_configs:
  - job_name: kat-live
    static_configs:
      - targets: ['127.0.0.1:$demo_port']
CONF
promtool check config "$work/prometheus.yml" >/dev/null

prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn 2>"$work/prometheus.log" &
pids+=($!)
"$target_dir/debug/examples/live" --duration 24 --metrics "127.0.0.1:$demo_port" >"$work/live.out" 2>&1 &
demo=$!
pids+=($demo)

/usr/bin/python3 - "$prom_port" <<'PY'
import json, sys, time, urllib.parse, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}/api/v1/query?query="
def q(expr):
    try:
        with urllib.request.urlopen(base + urllib.parse.quote(expr), timeout=5) as r:
            return json.load(r)["data"]["result"]
    except OSError:
        return None
deadline = time.time() + 60
seen_up = seen_all = False
while time.time() < deadline and not (seen_up and seen_all):
    up = q('up{job="kat-live"}')
    seen_up = seen_up or bool(up and up[0]["value"][1] == "1")
    owners = q('count by (messaging_consumer_group_name, messaging_destination_name, messaging_destination_partition_id) (kat_partition_generation{job="kat-live"})')
    seen_all = seen_all or bool(owners and len(owners) == 28 and all(o["value"][1] == "1" for o in owners))
    time.sleep(0.5)
print(f"demo scraped by Prometheus: up={seen_up}, all 28 partitions owned once={seen_all}")
sys.exit(0 if seen_up and seen_all else 1)
PY
wait "$demo" || { cat "$work/live.out"; exit 1; }
grep -q "Prometheus metrics at http://127.0.0.1:$demo_port/metrics" "$work/live.out"
echo "demo_prometheus: ok"
