#!/bin/sh
# The layer check must fail on what it forbids: run it on copies of this tree
# with one defect each (an include up the order, a relative include, a
# function body in a header, an over-long function) and expect a failure
# naming the file. Exits 1 if the check lets one through.
set -u
cd "$(dirname "$0")/.." || exit 2
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
status=0
# expect DESCRIPTION FILE TEXT: append TEXT to FILE in a fresh copy, check it.
expect() {
	rm -rf "$tmp/t" && mkdir "$tmp/t" || exit 2
	for d in runtime net protocols circuits jobs node tools examples bench tests scripts; do
		[ -d "$d" ] && cp -R "$d" "$tmp/t/"
	done
	printf '%s\n' "$3" >>"$tmp/t/$2"
	if sh scripts/layers.sh "$tmp/t" >"$tmp/out" 2>&1; then
		echo "layers-selftest: FAILED: $1 was not caught"
		status=1
	elif ! grep -q "^$2:" "$tmp/out"; then
		echo "layers-selftest: FAILED: $1 was reported without naming $2:"
		cat "$tmp/out"
		status=1
	else
		echo "layers-selftest: caught $1: $(grep "^$2:" "$tmp/out" | head -n 1)"
	fi
}
expect "an include up the order" runtime/mpc_ring.h '#include "net/mpc_net.h"'
expect "a relative include" protocols/core/mpc_party.c '#include "../../runtime/mpc_err.h"'
expect "a body in a header" runtime/mpc_err.h 'int mpc_selftest_body(void) { return 0; }'
expect "a loader including a protocol" circuits/mpc_bristol.h '#include "protocols/core/mpc_party.h"'
long="static int selftest_long(void)
{
	int x = 0;"
i=0
while [ $i -lt 125 ]; do long="$long
	x++;"; i=$((i + 1)); done
long="$long
	return x;
}"
expect "a function over the limit" runtime/mpc_wipe.c "$long"
exit $status
