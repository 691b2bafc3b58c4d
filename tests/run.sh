#!/bin/sh
# Runs the layering check (tests/check_layers.sh), the C unit test programs given (default:
# every build/tests/test_*) and every Bats file, printing TAP as it goes; the last line is "N passed, N failed". Exits non-zero when
# anything failed or a test program crashed.
# Usage: tests/run.sh BUILD [TEST_PROGRAM...]
build=${1:-build}
[ $# -gt 0 ] && shift
top=$(cd "$(dirname "$0")/.." && pwd)
case $build in
/*) NASH_BUILD=$build ;;
*) NASH_BUILD=$top/$build ;;
esac
PATH="$NASH_BUILD/bin:$PATH"
export NASH_BUILD PATH
log=$(mktemp) || exit 1
one=$(mktemp) || exit 1
trap 'rm -f "$log" "$one" "$one.rc"' EXIT
# The layering rules first: one test, its violations printed as diagnostics.
echo "# layers"
if "$top/tests/check_layers.sh" >"$one" 2>&1; then
	echo "ok - $(cat "$one")" | tee -a "$log" # "layers: every include points down; ..."
else
	sed 's/^/# /' "$one"
	echo "not ok - layers: $(grep -c . "$one") violation(s) of tests/check_layers.sh" | tee -a "$log"
fi
[ $# -gt 0 ] || set -- "$NASH_BUILD"/tests/test_*
for t in "$@"; do
	[ -x "$t" ] || continue
	echo "# $(basename "$t")"
	{ "$t" 2>&1; echo $? >"$one.rc"; } | tee "$one"
	rc=$(cat "$one.rc")
	grep -E '^(not )?ok ' "$one" >>"$log"
	if [ $rc -ne 0 ] && ! grep -q '^not ok' "$one"; then
		echo "not ok - $(basename "$t") exited with status $rc" | tee -a "$log"
	fi
done
if ls "$top"/tests/bats/*.bats >/dev/null 2>&1; then
	echo "# bats"
	{ bats --tap "$top"/tests/bats/*.bats 2>&1; echo $? >"$one.rc"; } | tee "$one"
	grep -E '^(not )?ok ' "$one" >>"$log"
	if [ "$(cat "$one.rc")" -ne 0 ] && ! grep -q '^not ok' "$one"; then
		echo "not ok - bats exited with status $(cat "$one.rc")" | tee -a "$log"
	fi
fi
# A skipped test is neither passed nor failed: it is counted on its own.
skipped=$(grep -ciE '^ok .*# skip' "$log")
passed=$(($(grep -cE '^ok ' "$log") - skipped))
failed=$(grep -cE '^not ok' "$log")
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
