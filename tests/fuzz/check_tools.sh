#!/bin/sh
# Replays fuzzing artifacts through the release tools, with their crash isolation and limits:
# every file must end, within the readers' limits, in a refusal with a message (exit 1) or be
# read (exit 0); a crash of the tool itself (exit > 1: a signal, a sanitizer), a hang (the
# outer timeout) or a silent failure is an escape. One line per escape, then the counts.
# Usage: tests/fuzz/check_tools.sh readers|datasets ARTIFACT...    (NASH_BUILD: build)
build=${NASH_BUILD:-build}
kind=$1
shift
n=0 refused=0 read=0 escapes=0 limit=0
for f in "$@"; do
	n=$((n + 1))
	case $kind in
	datasets) out=$(timeout 120 "$build/bin/nash-data" info "$f" 2>&1 >/dev/null) ;;
	*) out=$(timeout 120 "$build/bin/nash-show" "$f" 2>&1 >/dev/null) ;;
	esac
	rc=$?
	case $rc in
	0) read=$((read + 1)) ;;
	1)
		if [ -n "$out" ]; then
			refused=$((refused + 1))
			case $out in *"took more than"* | *"needed more than"*) limit=$((limit + 1)) ;; esac
		else
			escapes=$((escapes + 1))
			echo "escape: $f: exit 1 without a message"
		fi
		;;
	*)
		escapes=$((escapes + 1))
		echo "escape: $f: exit $rc: $(printf '%s' "$out" | tail -1)"
		;;
	esac
done
echo "$n files: $read read, $refused refused ($limit by a time or memory limit), $escapes escapes"
[ "$escapes" -eq 0 ]
