#!/bin/sh
# make bench: the benchmark table, and build/bench.json.
#   sh bench/run.sh [BUILD] [bench_mpc options...]
#   BENCH_ONLY=cmp,sigmoid make bench    only the rows whose op name contains
#                                        one of the words (bench_mpc --only)
set -eu
build=${1:-build}
[ $# -gt 0 ] && shift
if [ -n "${BENCH_ONLY:-}" ]; then
	set -- --only "$BENCH_ONLY" "$@"
fi
"$build/bin/bench_mpc" --json "$build/bench.json" "$@"
echo "written: $build/bench.json"
