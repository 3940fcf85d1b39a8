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
echo "== ruby (the .gem built, installed into a temporary GEM_HOME, every test run against it)"
ruby_tmp="$(mktemp -d)"
trap 'rm -rf "$ruby_tmp"' EXIT
(cd bindings/ruby && rake stage && gem build kat.gemspec --output "$ruby_tmp/kat.gem")
# The extension's cargo build shares this checkout's target directory, so the
# compiled dependencies are reused; the gem itself carries the crate sources.
CARGO_TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | ruby -rjson -e 'puts JSON.parse(STDIN.read)["target_directory"]')" \
  GEM_HOME="$ruby_tmp/gems" gem install --local --no-document "$ruby_tmp/kat.gem"
GEM_HOME="$ruby_tmp/gems" GEM_PATH="$ruby_tmp/gems:$(ruby -e 'print Gem.path.join(":")')" KAT_TEST_INSTALLED_GEM=1 \
  ruby -Ibindings/ruby/test bindings/ruby/test/all.rb
