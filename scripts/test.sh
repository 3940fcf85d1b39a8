#!/usr/bin/env bash
# Runs every check of kat: formatting, lints, the header drift check, the
# Rust unit/integration/property tests, the C and C++ programs (plain,
# valgrind, sanitizers), the librdkafka integration suite on the mock
# cluster, the Ruby binding's tests, and the Python binding's (bindings/python).
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

# --- Python binding (bindings/python) -----------------------------------------
# A fresh venv, as a user would: pip-install the package from source (maturin
# builds the native module), build a wheel with maturin, check the stubs with
# mypy (stubtest and --strict), then run pytest (confluent-kafka on its mock
# cluster). Everything it needs comes from PyPI into the venv.
echo "== python"
py_tmp="$(mktemp -d)"
trap 'rm -rf "${ruby_tmp:-}" "$py_tmp"' EXIT
python3 -m venv "$py_tmp/venv"
(cd bindings/python && cargo fmt -- --check)
py="$py_tmp/venv/bin/python"
"$py" -m pip install -q --upgrade pip
"$py" -m pip install -q maturin pytest mypy confluent-kafka==2.16.1
(cd bindings/python && PYO3_PYTHON="$py" cargo clippy --release --all-targets -- -D warnings)
"$py" -m pip install -q ./bindings/python
(cd bindings/python && "$py_tmp/venv/bin/maturin" build --release --quiet --interpreter "$py" --out "$py_tmp/wheels")
"$py" - "$py_tmp/wheels" <<'PY'
import pathlib, sys, zipfile
wheels = list(pathlib.Path(sys.argv[1]).glob("kafka_assignments_tracker-*.whl"))
assert len(wheels) == 1, wheels
names = zipfile.ZipFile(wheels[0]).namelist()
for need in ("kat/__init__.py", "kat/_kat.pyi", "kat/py.typed", "kat/confluent.py"):
    assert need in names, (need, names)
assert any(n.startswith("kat/_kat.") and n.endswith(".so") for n in names), names
print("wheel:", wheels[0].name)
PY
(cd "$py_tmp" && "$py" -m mypy.stubtest kat._kat)
(cd bindings/python && MYPYPATH=tests "$py" -m mypy --strict --exclude tests/typing/ python/kat tests bench)
set +e
(cd bindings/python && "$py" -m pytest -q -p no:cacheprovider tests)
py_rc=$?
set -e
if [ "$py_rc" -eq 5 ]; then echo "python: pytest collected no tests" >&2; exit 1; fi
if [ "$py_rc" -ne 0 ]; then echo "python: pytest failed ($py_rc)" >&2; exit "$py_rc"; fi
# The benchmark script still runs (a few calls, nothing written; timings are not checked).
"$py" bindings/python/bench/bench.py --no-write --number 1000 --repeat 1 >/dev/null
# --- end of Python binding -----------------------------------------------------
