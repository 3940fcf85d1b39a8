#!/usr/bin/env bash
# Runs every check of kat: formatting, lints, the header drift check, the
# Rust unit/integration/property tests, the C and C++ programs (plain,
# valgrind, sanitizers), the librdkafka integration suite on the mock
# cluster, and the Ruby binding's tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --all-features -- -D warnings
echo "== cargo test"
cargo test --all-features
echo "== monitoring: the live demo's /metrics scraped by a real Prometheus"
bash scripts/demo_prometheus.sh
echo "== bounded memory at full size (1 000 000 topics, release)"
cargo test --release --test memory
echo "== ruby"
cargo build --release --lib
KAT_LIBRARY="$(cargo metadata --format-version 1 --no-deps | ruby -rjson -e 'puts JSON.parse(STDIN.read)["target_directory"]')/release/libkat.so" \
  ruby -Ibindings/ruby/lib -Ibindings/ruby/test bindings/ruby/test/all.rb
