#!/bin/sh
# Run each test binary, show its output, and end with one summary line.
set -u
pass=0; fail=0; failed=""
for t in "$@"; do
	echo "=== $t"
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $t"; fi
done
echo
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
