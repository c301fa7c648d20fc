#!/bin/sh
# make bench: the benchmark table, and build/bench.json.
#   sh bench/run.sh [BUILD] [bench_mpc options...]
#   BENCH_ONLY=cmp,sigmoid make bench    only the rows whose op name contains
#                                        one of the words (bench_mpc --only)
#   BENCH_ONLY=agg,score make bench      the merchant applications only:
#                                        statistics (10^6 rows), median (10^5),
#                                        scoring 10^4 x 32 end to end and
#                                        online, one request's latency, and
#                                        the node's scoring API under load,
#                                        statistics from 100 input parties
#   BENCH_ONLY=fed make bench            federated training (fed_train) per
#                                        round, without and with DP
set -eu
build=${1:-build}
[ $# -gt 0 ] && shift
if [ -n "${BENCH_ONLY:-}" ]; then
	set -- --only "$BENCH_ONLY" "$@"
fi
"$build/bin/bench_mpc" --json "$build/bench.json" "$@"
# the standing nodes' scoring API under load (a short run, its stock made
# first; the README's figures are the 60 s run:
# STOCK=12500 bash bench/node_load.sh build 60 200)
case ",${BENCH_ONLY:-node}," in
*node* | *score*) bash bench/node_load.sh "$build" 10 200 ;;
esac
# statistics with input parties, end to end (100 x 10^4 rows, 3 compute
# parties; mpc-party submit and run as processes)
case ",${BENCH_ONLY:-inputs}," in
*inputs* | *agg*) bash bench/inputs_stats.sh "$build" 100 10000 ;;
esac
# federated training through mpc-party: 3 merchants over TLS, d = 40 and
# 1,000, without and with DP (about 75 s)
case ",${BENCH_ONLY:-fed}," in
*fed*) bash bench/fed_train.sh "$build" ;;
esac
echo "written: $build/bench.json"
