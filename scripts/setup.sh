#!/usr/bin/env bash
# Installs what kat's tests and demo need beyond Rust and gcc, if missing:
# Ruby with its headers and rake (`gem install` builds the Ruby gem's native
# extension), ruby-ffi and minitest (its tests), valgrind (memcheck of the C
# programs), Debian's librdkafka-dev (the C glue is tested against a
# librdkafka that libkat was not built with), binutils (symbol checks),
# Prometheus with promtool plus Python's prometheus_client (metrics tests),
# and python3 with venv (the Python binding is pip-installed into a fresh venv).
set -euo pipefail

packages=(ruby ruby-ffi ruby-minitest valgrind librdkafka-dev zlib1g-dev pkg-config binutils g++ make
  # C packaging tests (tests/install.rs): find_package(kat) from an installed prefix.
  cmake
  # The Ruby gem: `gem install` builds its native extension (headers, rake).
  ruby-dev rake)
# Monitoring: promtool and a real Prometheus (metrics exposition, contrib
# rules, the fleet test) and the Python OpenMetrics parser.
packages+=(prometheus python3-prometheus-client)
# Python binding: pip-installed into a fresh venv.
packages+=(python3 python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

for tool in cargo rustc gcc g++ ruby gem rake valgrind nm pkg-config cmake promtool prometheus python3; do
  command -v "$tool" >/dev/null || { echo "setup: $tool is still missing" >&2; exit 1; }
done
cargo fmt --version >/dev/null && cargo clippy --version >/dev/null
