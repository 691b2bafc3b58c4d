#!/bin/sh
# Replays the fuzzing regression corpus (tests/fuzz/regress) under AddressSanitizer and UBSan,
# as one of the test programs tests/run.sh runs (TAP). Fails on any sanitizer report of the
# replay process itself, or when the replay fails or takes longer than ten minutes (a hang: each spinning file costs 0.25 s of CPU).
build=${NASH_BUILD:-build}
dir=$(cd "$(dirname "$0")" && pwd)
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
# handle_segv=0: a crash of the replay itself ends it (and fails the test) rather than being
# reported and survived; leaks inside HDF5's own error paths are not nash's (lsan.supp);
# allocator_may_return_null: an absurd size HDF5 asks malloc for fails as it does in a release
# build (HDF5 then reports an error) instead of being a sanitizer report.
ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:detect_leaks=1:allocator_may_return_null=1:exitcode=86 \
	LSAN_OPTIONS=suppressions=$dir/lsan.supp UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	timeout 600 "$build/fuzz/replay" "$dir"/regress/* 2>"$log"
rc=$?
n=$(ls "$dir"/regress | wc -l)
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
	sed 's/^/# /' "$log" | head -60
	echo "not ok $((n + 1)) - sanitizer report while replaying tests/fuzz/regress"
	exit 1
fi
[ $rc -eq 0 ] || { sed 's/^/# /' "$log" | head -30; echo "# replay exited with status $rc"; exit 1; }
