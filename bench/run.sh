#!/bin/sh
# make bench: the benchmark table, and build/bench.json.
set -eu
build=${1:-build}
"$build/bin/bench_mpc" --json "$build/bench.json"
echo "written: $build/bench.json"
