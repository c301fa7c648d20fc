#!/bin/bash
# Start N parties (and optionally a dealer) as separate processes on this
# machine, each with its own log file; wait for all; exit non-zero if any
# failed, showing the end of its log.
#
#   launch.sh --parties N --logs DIR [--dealer 'CMD'] -- PARTY-CMD...
#
# In PARTY-CMD, {i} is replaced by the party's index (0..N-1). The dealer
# command, if any, is started first.
set -u
parties=0; logs=; dealer=
while [ $# -gt 0 ]; do
	case "$1" in
	--parties) parties=$2; shift 2 ;;
	--logs) logs=$2; shift 2 ;;
	--dealer) dealer=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "launch.sh: unknown option $1" >&2; exit 1 ;;
	esac
done
if [ "$parties" -lt 2 ] || [ -z "$logs" ] || [ $# -eq 0 ]; then
	echo "usage: launch.sh --parties N --logs DIR [--dealer 'CMD'] -- PARTY-CMD ({i} = index)" >&2
	exit 1
fi
mkdir -p "$logs"
pids=(); names=()
trap 'kill "${pids[@]}" 2>/dev/null' INT TERM
if [ -n "$dealer" ]; then
	$dealer >"$logs/dealer.log" 2>&1 &
	pids+=($!); names+=(dealer)
fi
for ((i = 0; i < parties; i++)); do
	args=()
	for a in "$@"; do args+=("${a//\{i\}/$i}"); done
	"${args[@]}" >"$logs/party$i.log" 2>&1 &
	pids+=($!); names+=("party$i")
done
failed=0
for k in "${!pids[@]}"; do
	wait "${pids[$k]}"; rc=$?
	if [ "$rc" -ne 0 ]; then
		failed=1
		echo "launch.sh: ${names[$k]} exited with code $rc; end of $logs/${names[$k]}.log:" >&2
		tail -n 5 "$logs/${names[$k]}.log" | sed 's/^/    /' >&2
	fi
done
exit $failed
