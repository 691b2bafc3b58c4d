#!/bin/sh
# The recipes of pipelines/search.mk that need more than one line (docs/SEARCH.md).
#
#   search.sh train [--child] [--morph 'CMD'] --label L OUT IN -- TRAIN_CMD...
#       Makes OUT by training IN (or, with --morph, the child that `CMD -o OUT.morph.h5 IN`
#       writes) with `TRAIN_CMD --checkpoint OUT.ckpt.h5 -o OUT MODEL`. A rerun after an
#       interruption resumes from the checkpoint when IN and the commands are unchanged.
#       With --child a failure of the network itself (nash-train exit 3: out of memory, 4:
#       diverged or collapsed; nash-morph exit 5: no morphism fits) is recorded: OUT is
#       written marked failed, so the search ranks it last and goes on. Any other failure (an
#       I/O error such as a full disk, exit 1; a signal, such as the kernel's OOM killer's
#       SIGKILL or a crash) is not the network's: nothing is recorded, the target fails, and a
#       rerun trains it again, from its checkpoint when there is one. Without --child every
#       failure fails the target.
#       With --keep, a trained OUT is kept when IN and the commands are those it was made
#       with (recorded in OUT's .done file).
#   search.sh snap --label L --twin LINK OUT BEST NEXT -- TRAIN_CMD...
#       A trained snapshot: when BEST has the weights of NEXT (the next step kept its
#       parent), OUT becomes a symbolic link to LINK (the next step's snapshot); otherwise
#       `train --keep` of BEST into OUT.
#   search.sh link OUT TARGET
#       OUT becomes a symbolic link to TARGET, atomically.
#   search.sh select --step K --steps N OUT CANDIDATE... PARENT
#       nash-select over the candidates into OUT, the table into OUT's directory as
#       select.tsv, and one progress line.
#
# Environment: NASH_BIN (the tools' directory), NASH_START (the search's start, epoch seconds).
# Interrupted by SIGINT/SIGTERM/SIGHUP, nothing is recorded: the target stays absent. A
# failure leaves no temporary file (*.tmp) behind.
set -u

bin=${NASH_BIN:+$NASH_BIN/}
interrupted=
trap 'interrupted=1' INT TERM HUP

# hms, tsv_col, tsv_cols
. "$(dirname "$0")/common.sh"

elapsed() {
	[ -n "${NASH_START:-}" ] && printf ', %s elapsed' "$(hms $(($(date +%s) - NASH_START)))"
}

# The field under the header NAME of `nash-show --tsv FILE`.
show_field() {
	t=$(mktemp) || exit 1
	"${bin}nash-show" --tsv "$2" >"$t" 2>/dev/null && tsv_col "$1" "$t" 1
	rm -f "$t"
}

die() {
	echo "search: $*" >&2
	exit 1
}

# ---- train ----

# Why PROG (nash-train, nash-morph) exited rc: the exit code's meaning and its last error line
# in the log ("its message is not in the log" when it should be and is not: the log's disk may
# be full).
tool_failure() {
	prog=$1 rc=$2 log=$3
	case $prog:$rc in
	nash-train:3) why="out of memory" ;;
	nash-train:4) why="training diverged or collapsed" ;;
	nash-morph:5) why="no morphism fits" ;;
	*)
		if [ "$rc" -gt 128 ]; then
			why="killed by signal $((rc - 128)) ($(kill -l $((rc - 128)) 2>/dev/null || echo '?'))"
		else
			why="exit status $rc"
		fi
		;;
	esac
	msg=$(grep -E "^$prog: " "$log" 2>/dev/null | grep -v -E ': (epoch|device) ' | tail -n 1)
	[ -z "$msg" ] && [ "$rc" -le 128 ] && [ "$log" != /dev/null ] && msg="its message is not in $log (a full disk?)"
	echo "$prog: $why${msg:+; $msg}" | cut -c 1-250
}

# True when PROG's exit status rc is a failure of the network itself, a result to record for
# a child: nash-train out of memory (3) or diverged/collapsed (4), nash-morph finding no
# morphism that fits (5). Anything else (1: an I/O error, a full disk; a signal) is not.
network_failure() {
	case $1:$2 in
	nash-train:3 | nash-train:4 | nash-morph:5) return 0 ;;
	*) return 1 ;;
	esac
}

# The target fails and nothing is recorded (a failure that is not the network's, or any
# failure of a training that is not a child): OUT goes, the checkpoint stays for the rerun.
not_recorded() {
	rm -f "$out" "$out".??????.tmp "$ckpt".??????.tmp "$morphed".??????.tmp "$key.tmp" "$done.tmp"
	resume="a rerun trains it again"
	[ -f "$ckpt" ] && resume="$resume, resuming from $ckpt"
	die "$label: $1; nothing recorded, $resume (see $log)"
}

# Says that a training was stopped (rc: its exit status), and why when a scheduler said so in
# the log (Slurm: "*** STEP 12.0 ON node CANCELLED AT ... ***", also for preemption and time
# limits); the checkpoint, if any, is where a rerun starts.
stopped() {
	rc=$1 log=$2 ckpt=$3 label=$4
	sched=$(sed -n -E 's/.*\*\*\* ((JOB|STEP) .*) \*\*\*.*/\1/p' "$log" 2>/dev/null | tail -n 1)
	resume=
	[ -f "$ckpt" ] && resume=", a rerun resumes from $ckpt"
	echo "  $label: stopped ($(tool_failure nash-train "$rc" /dev/null)${sched:+; slurm: $sched})$resume" >&2
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
	child='' morph='' label='' keep=''
	while [ $# -gt 0 ]; do
		case $1 in
		--child) child=1; shift ;;
		--keep) keep=1; shift ;;
		--morph) morph=$2; shift 2 ;;
		--label) label=$2; shift 2 ;;
		*) break ;;
		esac
	done
	[ $# -ge 3 ] && [ "$3" = "--" ] || die "train: usage: train [--child] [--morph CMD] --label L OUT IN -- TRAIN_CMD..."
	out=$1 in=$2
	shift 3
	base=${out%.h5}
	ckpt=$base.ckpt.h5 key=$base.key log=$base.log morphed=$base.morph.h5 done=$base.done
	: "${label:=$out}"
	mkdir -p "$(dirname "$out")" || exit 1
	# what a training killed mid-write (kill -9, the OOM killer) left of its atomic writes
	rm -f "$out".??????.tmp "$ckpt".??????.tmp "$morphed".??????.tmp "$key.tmp" "$done.tmp"
	# The checkpoint is valid only for this parent and these commands, up to how they run:
	# the launch prefix (before nash-train), --device and --threads may change in between.
	want="$(cksum <"$in") | $morph |$(train_key "$@")"
	if [ -n "$keep" ] && [ -f "$out" ] && [ ! -L "$out" ] && [ -f "$done" ] && [ "$(cat "$done")" = "$want" ]; then
		touch "$out"
		return 0
	fi
	rm -f "$out" "$done"
	# FINAL_ON=all needs a nash-train that trains on validation images too.
	case " $* " in
	*" --train-on "*)
		for a in "$@"; do
			case $a in
			*nash-train)
				"$a" --help 2>/dev/null | grep -q -e '--train-on' ||
					die "$label: FINAL_ON=all needs a nash-train with --train-on (training on training + validation images); $a has none: give FINAL_ON=train"
				break
				;;
			esac
		done
		;;
	esac
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
				reason=$(tool_failure nash-morph $rc "$log")
				[ -n "$child" ] && network_failure nash-morph $rc || not_recorded "$reason"
				"${bin}nash-select" --mark-failed "$reason" -o "$out" "$in" ||
					not_recorded "cannot record the failure ($reason)"
				echo "  $label: FAILED ($reason)"
				return 0
			fi
			start=$morphed
		fi
		printf '%s\n' "$want" >"$key.tmp" && mv -f "$key.tmp" "$key" || not_recorded "cannot write $key"
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
		if [ -n "$keep" ]; then
			printf '%s\n' "$want" >"$done.tmp" && mv -f "$done.tmp" "$done" || not_recorded "cannot write $done"
		fi
		val=$(sed -n 's/^val_accuracy=\([0-9.]*\).*/\1/p' "$log" | tail -n 1)
		test_acc=$(sed -n 's/.*test_accuracy=\([0-9.]*\).*/\1/p' "$log" | tail -n 1)
		params=$(show_field params "$out")
		extra=
		if [ -n "$morph" ]; then
			n=$(($(show_field n_lineage "$out") - $(show_field n_lineage "$in")))
			ops=$(show_field lineage "$out" | tr ',' '\n' | tail -n "$n" | paste -s -d, -)
			extra=", $n morphisms: $ops"
		fi
		echo "  $label: val $val${test_acc:+, test $test_acc}, $params params$extra, $(hms "$secs")"
		return 0
	fi
	reason=$(tool_failure nash-train $rc "$log")
	[ -n "$child" ] || not_recorded "training failed: $reason"
	network_failure nash-train $rc || not_recorded "training failed, not by the network's fault: $reason"
	# Exit 4 leaves the diverged model, marked failed, in OUT: keep it (it has the record).
	if [ ! -f "$out" ] || [ "$rc" -ne 4 ]; then
		"${bin}nash-select" --mark-failed "$reason" -o "$out" "$start" >>"$log" 2>&1 ||
			"${bin}nash-select" --mark-failed "$reason" -o "$out" "$in" >>"$log" 2>&1 ||
			not_recorded "cannot record the failure ($reason)"
	fi
	rm -f "$ckpt" "$key"
	echo "  $label: FAILED ($reason), $(hms "$secs")"
}

# ---- snapshots ----

cmd_link() {
	[ $# -eq 2 ] || die "link: usage: link OUT TARGET"
	mkdir -p "$(dirname "$1")" && rm -f "$1.tmp" "${1%.h5}.done" && ln -s "$2" "$1.tmp" && mv -Tf "$1.tmp" "$1" || {
		rm -f "$1.tmp"
		exit 1
	}
}

cmd_snap() {
	label='' twin=''
	while [ $# -gt 0 ]; do
		case $1 in
		--label) label=$2; shift 2 ;;
		--twin) twin=$2; shift 2 ;;
		*) break ;;
		esac
	done
	[ $# -ge 4 ] && [ "$4" = "--" ] && [ -n "$twin" ] ||
		die "snap: usage: snap --label L --twin LINK OUT BEST NEXT -- TRAIN_CMD..."
	out=$1 best=$2 next=$3
	shift 3
	a=$(show_field weights_hash "$best") b=$(show_field weights_hash "$next")
	[ -n "$a" ] && [ -n "$b" ] || die "$label: cannot read $best or $next"
	if [ "$a" = "$b" ]; then
		cmd_link "$out" "$twin"
		echo "  $label: the next step's (its parent won)"
		return 0
	fi
	cmd_train --keep --label "$label" "$out" "$best" "$@"
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
	if ! msg=$("${bin}nash-select" --tsv -o "$out.tmp" "$@" 2>&1 >"$dir/select.tsv.tmp"); then
		rm -f "$dir/select.tsv.tmp" "$out.tmp"
		[ -n "$interrupted" ] && exit 130
		case $msg in
		*"no model can win"*)
			# the ranked table says why each candidate cannot
			"${bin}nash-select" "$@" 2>&1 >/dev/null | grep -v -F -e "$msg" >&2
			die "step $step: nothing to select: $msg"
			;;
		esac
		die "step $step: the selection failed: $msg"
	fi
	mv -f "$dir/select.tsv.tmp" "$dir/select.tsv" && mv -f "$out.tmp" "$out" || {
		rm -f "$dir/select.tsv.tmp" "$out.tmp"
		die "step $step: cannot write $dir/select.tsv or $out"
	}
	[ -n "$interrupted" ] && exit 130
	cols=$(tsv_cols "$dir/select.tsv" model val_accuracy seconds since_parent morphisms usable) || exit 1
	awk -F '\t' -v step="$step" -v steps="$steps" -v cols="$cols" '
		BEGIN { split(cols, c, " "); M = c[1]; V = c[2]; S = c[3]; N = c[4]; O = c[5]; U = c[6] }
		NR == 1 { next }
		NR == 2 { win = $M; val = $V; n = $N; ops = $O }
		$M !~ /\/best\.h5$/ { children++; failed += ($U == 0); secs += $S }
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
snap) shift; cmd_snap "$@" ;;
link) shift; cmd_link "$@" ;;
*) die "usage: search.sh train|snap|link|select ..." ;;
esac
