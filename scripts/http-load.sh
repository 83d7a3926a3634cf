#!/usr/bin/env bash
# Side-by-side load run: kernel_demo's /healthz against a bare hyper
# hello-world (crates/ron-metrics/examples/bare_hyper.rs), interleaved so both
# see the same machine state, then /metrics scrapes. Needs wrk (apt-get install wrk).
#
#   scripts/http-load.sh [rounds] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-8}

cargo build -q --release -p ron-kernel --example kernel_demo
cargo build -q --release -p ron-metrics --example bare_hyper
out=$(mktemp -d)
RON_METRICS_ADDR=127.0.0.1:0 RUST_LOG=warn target/release/examples/kernel_demo >"$out/demo" 2>/dev/null &
demo=$!
target/release/examples/bare_hyper 127.0.0.1:0 >"$out/bare" &
bare=$!
trap 'kill -INT $demo 2>/dev/null; kill $bare 2>/dev/null; rm -rf "$out"' EXIT

addr_of() { for _ in $(seq 100); do sed -n 's/.*http:\/\///p' "$1" | grep . && return; sleep 0.1; done; echo "no address in $1" >&2; exit 1; }
demo_addr=$(addr_of "$out/demo")
bare_addr=$(addr_of "$out/bare")

rps() { wrk -t2 -c"$2" -d"${secs}s" "http://$1" | awk '/Requests\/sec/{print $2}'; }
echo "target req/s"
for _ in $(seq "$rounds"); do
  echo "kernel_demo:/healthz $(rps "$demo_addr/healthz" 50)"
  echo "bare_hyper:/        $(rps "$bare_addr/" 50)"
done
for _ in $(seq "$rounds"); do
  echo "kernel_demo:/metrics $(rps "$demo_addr/metrics" 10)"
done
