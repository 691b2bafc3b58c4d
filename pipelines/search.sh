#!/bin/sh
# The recipes of pipelines/search.mk that need more than one line (docs/SEARCH.md).
#
#   search.sh train [--child] [--morph 'CMD'] --label L OUT IN -- TRAIN_CMD...
#       Makes OUT by training IN (or, with --morph, the child that `CMD -o OUT.morph.h5 IN`
#       writes) with `TRAIN_CMD --checkpoint OUT.ckpt.h5 -o OUT MODEL`. A rerun after an
#       interruption resumes from the checkpoint when IN and the commands are unchanged.
#       With --child a failure (crash, out of memory, divergence) is recorded: OUT is written
#       marked failed, so the search ranks it last and goes on; without it the target fails.
#   search.sh select --step K --steps N OUT CANDIDATE... PARENT
#       nash-select over the candidates into OUT, the table into OUT's directory as
#       select.tsv, and one progress line.
#
# Environment: NASH_BIN (the tools' directory), NASH_START (the search's start, epoch seconds).
# Interrupted by SIGINT/SIGTERM/SIGHUP, nothing is recorded: the target stays absent.
set -u

bin=${NASH_BIN:+$NASH_BIN/}
interrupted=
trap 'interrupted=1' INT TERM HUP

hms() { # seconds -> 1h02m03s / 2m03s / 3s
	s=${1%.*}
	if [ "$s" -ge 3600 ]; then printf '%dh%02dm%02ds' $((s / 3600)) $((s / 60 % 60)) $((s % 60))
	elif [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60))
	else printf '%ds' "$s"; fi
}

elapsed() {
	[ -n "${NASH_START:-}" ] && printf ', %s elapsed' "$(hms $(($(date +%s) - NASH_START)))"
}

# Field N of the row of `nash-show --tsv FILE`.
show_field() {
	"${bin}nash-show" --tsv "$2" 2>/dev/null | awk -F '\t' -v f="$1" 'NR == 2 { print $f }'
}

die() {
	echo "search: $*" >&2
	exit 1
}

# ---- train ----

# Why nash-train exited rc: the exit code's meaning and its last error line.
train_failure() {
	rc=$1 log=$2
	case $rc in
	3) why="out of memory" ;;
	4) why="training diverged" ;;
	*)
		if [ "$rc" -gt 128 ]; then
			why="killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null || echo '?'))"
		else
			why="exit status $rc"
		fi
		;;
	esac
	msg=$(grep -E '^nash-[a-z]+: ' "$log" 2>/dev/null | grep -v -E ': (epoch|device) ' | tail -n 1)
	echo "nash-train: $why${msg:+; $msg}" | cut -c 1-250
}

# Says that a training was stopped (rc: its exit status), and why when a scheduler said so in
# the log (Slurm: "*** STEP 12.0 ON node CANCELLED AT ... ***", also for preemption and time
# limits); the checkpoint, if any, is where a rerun starts.
stopped() {
	rc=$1 log=$2 ckpt=$3 label=$4
	sched=$(sed -n -E 's/.*\*\*\* ((JOB|STEP) .*) \*\*\*.*/\1/p' "$log" 2>/dev/null | tail -n 1)
	resume=
	[ -f "$ckpt" ] && resume=", a rerun resumes from $ckpt"
	echo "  $label: stopped ($(train_failure "$rc" /dev/null)${sched:+; slurm: $sched})$resume" >&2
}

# The settings of a training command: its arguments after nash-train, less --device and --threads.
train_key() {
	seen='' skip=''
	for a in "$@"; do
		if [ -z "$seen" ]; then
			case $a in *nash-train) seen=1 ;; esac
			continue
		fi
		if [ -n "$skip" ]; then
			skip=
			continue
		fi
		case $a in
		--device | --threads) skip=1 ;;
		--device=* | --threads=*) ;;
		*) printf ' %s' "$a" ;;
		esac
	done
}

cmd_train() {
	child='' morph='' label=''
	while [ $# -gt 0 ]; do
		case $1 in
		--child) child=1; shift ;;
		--morph) morph=$2; shift 2 ;;
		--label) label=$2; shift 2 ;;
		*) break ;;
		esac
	done
	[ $# -ge 3 ] && [ "$3" = "--" ] || die "train: usage: train [--child] [--morph CMD] --label L OUT IN -- TRAIN_CMD..."
	out=$1 in=$2
	shift 3
	base=${out%.h5}
	ckpt=$base.ckpt.h5 key=$base.key log=$base.log morphed=$base.morph.h5
	: "${label:=$out}"
	mkdir -p "$(dirname "$out")" || exit 1
	rm -f "$out"

	# The checkpoint is valid only for this parent and these commands, up to how they run:
	# the launch prefix (before nash-train), --device and --threads may change in between.
	want="$(cksum <"$in") | $morph |$(train_key "$@")"
	start=$in
	if [ -f "$ckpt" ] && [ -f "$key" ] && [ "$(cat "$key")" = "$want" ]; then
		start=$ckpt
		echo "search: $label: resuming from $ckpt" >>"$log"
	else
		rm -f "$ckpt" "$key"
		: >"$log"
		if [ -n "$morph" ]; then
			# $morph is a command line: split on purpose
			# shellcheck disable=SC2086
			$morph -o "$morphed" "$in" >>"$log" 2>&1
			rc=$?
			[ -n "$interrupted" ] && exit 130
			if [ $rc -ne 0 ]; then
				[ -n "$child" ] || die "$label: nash-morph failed (exit $rc), see $log"
				reason="nash-morph: exit status $rc; $(grep -E '^nash-morph: ' "$log" | tail -n 1)"
				"${bin}nash-select" --mark-failed "$(echo "$reason" | cut -c 1-250)" -o "$out" "$in" ||
					die "$label: cannot record the failure"
				echo "  $label: FAILED ($reason)"
				return 0
			fi
			start=$morphed
		fi
		printf '%s\n' "$want" >"$key.tmp" && mv -f "$key.tmp" "$key" || exit 1
	fi

	echo "search: $*" >>"$log"
	t0=$(date +%s)
	# In the background so that a signal to this script reaches the training at once (an
	# asynchronous command ignores SIGINT, so it is passed on as SIGTERM).
	"$@" --checkpoint "$ckpt" -o "$out" "$start" >>"$log" 2>&1 </dev/null &
	pid=$!
	trap 'interrupted=1; kill -TERM $pid 2>/dev/null' INT TERM HUP
	while :; do
		wait $pid
		rc=$?
		kill -0 $pid 2>/dev/null || break
	done
	trap 'interrupted=1' INT TERM HUP
	secs=$(($(date +%s) - t0))
	# Interrupted (the user, make, a scheduler): not the child's fault; a rerun resumes.
	case $rc in 129 | 130 | 143) interrupted=1 ;; esac
	if [ -n "$interrupted" ] && [ $rc -ne 0 ]; then
		rm -f "$out"
		stopped "$rc" "$log" "$ckpt" "$label"
		exit 130
	fi
	if [ $rc -eq 0 ]; then
		rm -f "$ckpt" "$key"
		val=$(sed -n 's/^val_accuracy=\([0-9.]*\).*/\1/p' "$log" | tail -n 1)
		test_acc=$(sed -n 's/.*test_accuracy=\([0-9.]*\).*/\1/p' "$log" | tail -n 1)
		params=$(show_field 7 "$out")
		extra=
		if [ -n "$morph" ]; then
			n=$(($(show_field 12 "$out") - $(show_field 12 "$in")))
			ops=$(show_field 13 "$out" | tr ',' '\n' | tail -n "$n" | paste -s -d, -)
			extra=", $n morphisms: $ops"
		fi
		echo "  $label: val $val${test_acc:+, test $test_acc}, $params params$extra, $(hms "$secs")"
		return 0
	fi
	[ -n "$child" ] || die "$label: training failed: $(train_failure $rc "$log"), see $log"
	reason=$(train_failure $rc "$log")
	# Exit 4 leaves the diverged model, marked failed, in OUT: keep it (it has the record).
	if [ ! -f "$out" ] || [ "$rc" -ne 4 ]; then
		"${bin}nash-select" --mark-failed "$reason" -o "$out" "$start" >>"$log" 2>&1 ||
			"${bin}nash-select" --mark-failed "$reason" -o "$out" "$in" >>"$log" 2>&1 ||
			die "$label: cannot record the failure, see $log"
	fi
	rm -f "$ckpt" "$key"
	echo "  $label: FAILED ($reason), $(hms "$secs")"
}

# ---- select ----

cmd_select() {
	step='' steps=''
	while [ $# -gt 0 ]; do
		case $1 in
		--step) step=$2; shift 2 ;;
		--steps) steps=$2; shift 2 ;;
		*) break ;;
		esac
	done
	[ $# -ge 2 ] || die "select: usage: select --step K --steps N OUT CANDIDATE... PARENT"
	out=$1
	shift
	dir=$(dirname "$out")
	mkdir -p "$dir" || exit 1
	# The target last: once it exists, everything the report reads of this step exists too.
	"${bin}nash-select" --tsv -o "$out.tmp" "$@" >"$dir/select.tsv.tmp" || {
		"${bin}nash-select" "$@" >/dev/null
		die "step $step: nothing to select"
	}
	mv -f "$dir/select.tsv.tmp" "$dir/select.tsv" && mv -f "$out.tmp" "$out" || exit 1
	[ -n "$interrupted" ] && exit 130
	# rank model val params epochs seconds since_parent morphisms usable note
	awk -F '\t' -v step="$step" -v steps="$steps" '
		NR == 1 { next }
		NR == 2 { win = $2; val = $3; n = $7; ops = $8 }
		$2 !~ /\/best\.h5$/ { children++; failed += ($9 == 0); secs += $6 }
		END {
			sub(/.*\//, "", win); sub(/\.h5$/, "", win)
			what = (win == "best") ? "the parent stays" : win ", " n " morphisms: " ops
			printf "step %d/%d: best val %s (%s), %d children trained", step, steps, val, what, children
			if (failed) printf " (%d failed)", failed
			printf "\t%d\n", secs
		}' "$dir/select.tsv" | while IFS='	' read -r line secs; do
		echo "$line, $(hms "$secs") of training$(elapsed)"
	done
}

case ${1:-} in
train) shift; cmd_train "$@" ;;
select) shift; cmd_select "$@" ;;
*) die "usage: search.sh train|select ..." ;;
esac
