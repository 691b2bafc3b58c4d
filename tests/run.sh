#!/bin/sh
# Runs the layering check (tests/check_layers.sh), the C unit test programs given (default:
# every build/tests/test_*) and every Bats file, printing TAP; the last line is "N passed,
# N failed, N skipped". Exits non-zero when anything failed or a test program crashed.
#
# The test programs and the Bats files run at the same time: the programs all at once, the
# Bats files NASH_TEST_JOBS at a time (default: twice the CPUs, since many tests wait on make,
# sleep or start programs), the tests of a file that many at a time too, but for a file that
# sets BATS_NO_PARALLELIZE_WITHIN_FILE. The output comes in order all the same: the layers,
# then each program's, then the Bats files'.
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
# Run from `make test`, the environment names make's job server (MAKEFLAGS' --jobserver-auth
# file descriptors): a make that a test runs would take whatever those descriptors are in the
# test's process (Bats keeps its own output on fd 3) for the job server's pipe, and fail. The
# tests' makes are their own, with the flags each test gives.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
tmp=$(mktemp -d) || exit 1
log=$tmp/log
pids=
trap 'rm -rf "$tmp"' EXIT
# Interrupted, it stops what it started. (These run in the background, where a shell starts
# commands with SIGINT ignored: `env --default-signal` gives them Ctrl-C back.)
trap '[ -z "$pids" ] || kill $pids 2>/dev/null; exit 130' INT TERM
start() {
	env --default-signal=INT,QUIT "$@" &
}

# The layering rules first: one test, its violations printed as diagnostics.
echo "# layers"
if "$top/tests/check_layers.sh" >"$tmp/layers" 2>&1; then
	echo "ok - $(cat "$tmp/layers")" | tee -a "$log" # "layers: every include points down; ..."
else
	sed 's/^/# /' "$tmp/layers"
	echo "not ok - layers: $(grep -c . "$tmp/layers") violation(s) of tests/check_layers.sh" | tee -a "$log"
fi

# The tests' own makes (make search, make install, the examples) bring the programs up to date
# first: done here once, before several of them run at once on the same build. (Without the
# outer make's flags, as in those tests.)
if ! (unset MAKEFLAGS MFLAGS MAKELEVEL && make -C "$top" -s --no-print-directory BUILD="$NASH_BUILD" all) >"$tmp/make" 2>&1; then
	sed 's/^/# /' "$tmp/make"
	echo "not ok - make all BUILD=$NASH_BUILD failed" | tee -a "$log"
fi

# python3-h5py, probed once for every test that needs it (have_h5py, tests/bats/common.bash)
NASH_TEST_H5PY=$(/usr/bin/python3 -c 'import h5py' 2>/dev/null && echo yes || echo no)
export NASH_TEST_H5PY

# The Bats files, longest first (only the order: a long file started last would end last), by
# each one's CPU time alone (slurm first: it waits on its daemons).
bats_files=
for f in slurm valgrind search nash-train ablation hostile examples nash-export nash-data-images nash-report nash-data-pack \
	pytorch nash-data; do
	[ -f "$top/tests/bats/$f.bats" ] && bats_files="$bats_files $top/tests/bats/$f.bats"
done
for f in "$top"/tests/bats/*.bats; do
	[ -f "$f" ] || continue
	case " $bats_files " in *" $f "*) ;; *) bats_files="$bats_files $f" ;; esac
done
if [ -n "$bats_files" ]; then
	jobs=${NASH_TEST_JOBS:-$((2 * $(nproc)))}
	if [ "$jobs" -gt 1 ] && ! parallel --version 2>/dev/null | grep -q 'GNU parallel'; then
		echo "# GNU parallel is missing (tests/deps.sh installs it): one Bats test at a time"
		jobs=1
	fi
	jobs_opt=
	[ "$jobs" -gt 1 ] && jobs_opt="--jobs $jobs"
	# shellcheck disable=SC2086 # lists of words
	start bats --tap $jobs_opt $bats_files >"$tmp/bats" 2>&1
	bats_pid=$!
	pids=$bats_pid
fi

# The test programs, each to its own files; $i is the i-th one that exists.
[ $# -gt 0 ] || set -- "$NASH_BUILD"/tests/test_*
i=0
for t in "$@"; do
	[ -x "$t" ] || continue
	i=$((i + 1))
	start "$t" >"$tmp/$i.out" 2>&1
	eval "pid_$i=\$!"
	pids="$pids $!"
done
i=0
for t in "$@"; do
	[ -x "$t" ] || continue
	i=$((i + 1))
	eval "wait \$pid_$i"
	rc=$?
	echo "# $(basename "$t")"
	cat "$tmp/$i.out"
	grep -E '^(not )?ok ' "$tmp/$i.out" >>"$log"
	if [ $rc -ne 0 ] && ! grep -q '^not ok' "$tmp/$i.out"; then
		echo "not ok - $(basename "$t") exited with status $rc" | tee -a "$log"
	fi
done

if [ -n "$bats_files" ]; then
	echo "# bats${jobs_opt:+ ($jobs_opt)}"
	tail -n +1 -f --pid="$bats_pid" "$tmp/bats"
	wait "$bats_pid"
	rc=$?
	grep -E '^(not )?ok ' "$tmp/bats" >>"$log"
	if [ $rc -ne 0 ] && ! grep -q '^not ok' "$tmp/bats"; then
		echo "not ok - bats exited with status $rc" | tee -a "$log"
	fi
fi
# /dev/null must still be the null device: one run of the suite (of 2026-12-07, as root) ended
# with it a regular file, its cause not found; a run that leaves it so fails, saying how to
# put it back, rather than leave every later program writing into a file.
if [ -e /dev/null ] && [ ! -c /dev/null ]; then
	echo "not ok - /dev/null is no longer the null device ($(ls -ld /dev/null)); as root: rm /dev/null && mknod -m 666 /dev/null c 1 3" | tee -a "$log"
fi
# A skipped test is neither passed nor failed: it is counted on its own.
skipped=$(grep -ciE '^ok .*# skip' "$log")
passed=$(($(grep -cE '^ok ' "$log") - skipped))
failed=$(grep -cE '^not ok' "$log")
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
