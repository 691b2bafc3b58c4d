#!/bin/sh
# The recipes of pipelines/search.mk that need more than one line (docs/SEARCH.md).
#
#   search.sh train [--child] [--max-params SPEC SEED_MODEL] [--max-growth G] [--morph 'CMD'] --label L OUT IN -- TRAIN_CMD...
#       Makes OUT by training IN (or, with --morph, the child that `CMD -o OUT.morph.h5 IN`
#       writes, CMD given `--max-params N` for a budget SPEC, MAX_PARAMS, in parameters of
#       SEED_MODEL by `nash-report max-params`, and `--max-macs M` for a growth cap G,
#       MAX_GROWTH, G times IN's multiply-adds per image by `nash-report max-macs`) with
#       `TRAIN_CMD --checkpoint OUT.ckpt.h5 -o OUT MODEL`. A rerun after an interruption resumes from the checkpoint when IN and the
#       commands are unchanged.
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
#   search.sh climb --run DIR --max-steps N [--budget SECONDS] [OPTION VALUE]... -- MAKE...
#       `make search BUDGET=... PATIENCE=...`: runs the steps one at a time (`MAKE STEPS=k
#       DIR/stepk/best.h5`), timing each in DIR/stepk/wall, while `nash-report climb` (given
#       the options, RUN and k) decides that another fits the time budget with the final phase
#       after it and that the validation accuracy still improves; then the final phase (`MAKE
#       STEPS=n search-run`). nash-report records the steps reached and why in DIR/climb.txt.
#   search.sh capture OUT LOG -- CMD...
#       OUT becomes what CMD writes on its standard output (its standard error: LOG), once CMD
#       has succeeded: written to OUT.tmp, renamed; on failure or a signal nothing is left.
#   search.sh link OUT TARGET
#       OUT becomes a symbolic link to TARGET, atomically.
#   search.sh best DIR MODEL
#       DIR/best.h5 becomes MODEL (a hard link, atomically): the best network so far, after
#       every step and the final training, that an interruption at any moment leaves whole.
#   search.sh select [--label L] [--replace] [--tolerance T] --step K [--steps N] OUT CANDIDATE... PARENT
#       `nash-select --step` over the candidates: OUT's directory's select.tsv, then OUT, and
#       one progress line (prefixed by L); with --tolerance, the cheapest within T of the best
#       (TOLERANCE). With --replace the parent is no candidate: the best
#       child replaces it, however it compares (no hill climbing); the parent is kept only when
#       no child can win (all failed). Fails, saying what to change, when every child failed
#       because no morphism fitted MAX_PARAMS or MAX_GROWTH (every later step would).
#
# Environment: NASH_BIN (the tools' directory), NASH_START (the search's start, epoch seconds,
# for nash-select's progress line).
# Interrupted by SIGINT/SIGTERM/SIGHUP, nothing is recorded and the target stays absent, but for
# a training that had finished when the signal came: its OUT is kept (make, seeing it newer than
# its prerequisites, does not train it again) and the target fails all the same, so that make
# stops. A failure leaves no temporary file (*.tmp) behind.
#
# A signal to the process group (Ctrl-C, a scheduler's scancel or requeue) also ends the helper
# programs running then (nash-show, sed, date...), with no output: no helper's output is used
# unless the helper succeeded, and a helper that failed fails the target with its reason. make
# runs this script through `exec` (search.mk), so that make, which waits for its recipes when
# stopped, waits for the script's cleanup: no part of an interrupted run outlives it to act on
# the files of the next one (a Slurm job requeued starts again as soon as make has ended).
set -u

bin=${NASH_BIN:+$NASH_BIN/}
interrupted=
trap 'interrupted=1' INT TERM HUP

# hms, tsv_col, parent_dir
# (the directory without starting dirname: the pipeline runs this script dozens of times)
case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
. "$here/common.sh"

# The time from $1 (epoch seconds) to now as hms, '?' when either is unknown (date failed).
since() {
	now=$(date +%s 2>/dev/null)
	case $1:$now in
	:* | *: | *[!0-9:]*) printf '?' ;;
	*) hms $((now - $1)) ;;
	esac
}

die() {
	echo "search: $*" >&2
	exit 1
}

# A helper failed: the target fails with the reason, as an interruption (exit 130, what make
# shows for one) when a signal came, which most likely ended the helper too.
fail() {
	if [ -n "$interrupted" ]; then
		echo "search: $*; interrupted" >&2
		exit 130
	fi
	die "$@"
}

# The functions below that run helpers run in this shell, not in a command substitution: its
# subshell would die of the signal too, with no word said; this shell, trapping the signal,
# says why the helper failed.

# shown: a temporary file holding `nash-show --tsv FILE...`. Fails, saying why, when nash-show
# does (one ended by a signal says nothing itself).
show_table() {
	shown=$(mktemp) || {
		echo "search: cannot make a temporary file" >&2
		return 1
	}
	"${bin}nash-show" --tsv "$@" >"$shown" && return 0
	echo "search: $(tool_failure nash-show $? /dev/null)" >&2
	rm -f "$shown"
	return 1
}

# take VAR NAME ROW: VAR = the field under the header NAME in row ROW of the table show_table
# wrote. Fails, saying why, when there is none: no caller may take an empty string for a figure.
take() {
	v=$(tsv_col "$2" "$shown" "$3") && [ -n "$v" ] || {
		echo "search: no $2 in row $3 of nash-show's table" >&2
		return 1
	}
	eval "$1=\$v"
}

# field = the field NAME of `nash-show --tsv FILE`; fails, saying why, as show_table and take.
show_field() {
	show_table "$2" || return 1
	take field "$1" 1
	st=$?
	rm -f "$shown"
	return $st
}

# True when $1 is a non-negative integer.
is_count() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
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
	# (cut ended by a signal prints nothing: the reason is then the exit status alone)
	printf '%s\n' "$prog: $why${msg:+; $msg}" | cut -c 1-250 || printf '%s\n' "$prog: $why"
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
	fail "$label: $1; nothing recorded, $resume (see $log)"
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

# tkey: the settings of a training command: its arguments after nash-train, less --device and
# --threads. (Set in this shell, not printed into a command substitution: that subshell would
# die of a signal and leave a key cut short.)
train_key() {
	seen='' skip='' tkey=''
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
		*) tkey="$tkey $a" ;;
		esac
	done
}

# line: the first line of file $1 (the recorded key of a checkpoint or of a kept model; empty
# when there is no such file), read by this shell: a command substitution's subshell could die
# of a signal and read as empty, which would throw the checkpoint away.
first_line() {
	line=
	[ -f "$1" ] && IFS= read -r line <"$1"
	return 0
}

# fig: the progress line's figures of the trained OUT: "val V[, test T], P params[, N
# morphisms: OPS]" (with --morph, the morphisms since IN). Fails, saying why, when a helper does.
figures() {
	show_table "$out" ${morph:+"$in"} || return 1
	take val val_accuracy 1 && take params params 1 &&
		{ [ -z "$morph" ] || { take n_out n_lineage 1 && take n_in n_lineage 2 && take lineage lineage 1; }; }
	st=$?
	rm -f "$shown"
	[ $st -eq 0 ] || return 1
	# the test accuracy this training printed (the model may hold an earlier run's); optional
	test_acc=$(sed -n 's/.*test_accuracy=\([0-9.]*\).*/\1/p' "$log" | tail -n 1) || {
		echo "search: cannot read $log" >&2
		return 1
	}
	extra=
	if [ -n "$morph" ]; then
		is_count "$n_out" && is_count "$n_in" || {
			echo "search: nash-show gave lineages of '$n_out' and '$n_in' morphisms" >&2
			return 1
		}
		n=$((n_out - n_in))
		# (one program: a pipeline's status would be its last program's alone)
		ops=$(awk -v l="$lineage" -v n="$n" 'BEGIN { k = split(l, op, ",")
			for (i = (k - n < 0 ? 0 : k - n) + 1; i <= k; i++) printf "%s%s", op[i], (i < k ? "," : "\n") }') || {
			echo "search: cannot list the morphisms of $lineage" >&2
			return 1
		}
		extra=", $n morphisms: $ops"
	fi
	fig="val $val${test_acc:+, test $test_acc}, $params params$extra"
}

# The training ended (rc 0) or has its OUT although its exit status says otherwise: nash-train
# writes OUT whole, last, and only when it trained or diverged (exit 4: OUT is then marked
# failed), so one that had finished when a signal ended it (or its launcher: srun returns the
# signal) has an OUT that is no failure. Fails when that cannot be told (nash-show ended too).
finished() {
	[ "$rc" -eq 0 ] && return 0
	[ -n "$interrupted" ] && [ -f "$out" ] && [ "$rc" -ne 4 ] || return 1
	show_field failed "$out" && [ "$field" = 0 ]
}

cmd_train() {
	child='' morph='' label='' keep='' budget='' budget_model='' growth=''
	while [ $# -gt 0 ]; do
		case $1 in
		--child) child=1; shift ;;
		--max-params) budget=$2 budget_model=$3; shift 3 ;;
		--max-growth) growth=$2; shift 2 ;;
		--keep) keep=1; shift ;;
		--morph) morph=$2; shift 2 ;;
		--label) label=$2; shift 2 ;;
		*) break ;;
		esac
	done
	[ $# -ge 3 ] && [ "$3" = "--" ] || die "train: usage: train [--child] [--morph CMD] --label L OUT IN -- TRAIN_CMD..."
	out=$1 in=$2
	shift 3
	if [ -n "$morph" ] && [ -n "$budget" ]; then
		# (a signal ending nash-report must not leave an empty budget: no budget at all)
		cap=$("${bin}nash-report" max-params "$budget" "$budget_model") && [ -n "$cap" ] ||
			fail "${label:-$out}: cannot count the parameters of $budget_model"
		morph="$morph --max-params $cap"
	fi
	if [ -n "$morph" ] && [ -n "$growth" ]; then
		# the parent's cost times G: a child of the current best costs at most G times it
		cap=$("${bin}nash-report" max-macs "$growth" "$in") && [ -n "$cap" ] ||
			fail "${label:-$out}: cannot count the multiply-adds of $in"
		morph="$morph --max-macs $cap"
	fi
	base=${out%.h5}
	ckpt=$base.ckpt.h5 key=$base.key log=$base.log morphed=$base.morph.h5 done=$base.done
	: "${label:=$out}"
	parent_dir "$out" && mkdir -p "$pdir" || fail "$label: cannot make the directory of $out"
	# what a training killed mid-write (kill -9, the OOM killer) left of its atomic writes
	rm -f "$out".??????.tmp "$ckpt".??????.tmp "$morphed".??????.tmp "$key.tmp" "$done.tmp"
	# The checkpoint is valid only for this parent and these commands, up to how they run:
	# the launch prefix (before nash-train), --device and --threads may change in between.
	# (A checksum cut short by a signal must not pass for IN's: it decides what is removed.)
	sum=$(cksum <"$in") && [ -n "$sum" ] || fail "$label: cannot read $in"
	train_key "$@"
	want="$sum | $morph |$tkey"
	first_line "$done"
	if [ -n "$keep" ] && [ -f "$out" ] && [ ! -L "$out" ] && [ "$line" = "$want" ]; then
		touch "$out" || fail "$label: cannot touch $out"
		return 0
	fi
	# Nothing is removed once a signal came (the checks above may have failed of it).
	[ -z "$interrupted" ] || exit 130
	rm -f "$out" "$done"
	# FINAL_ON=all needs a nash-train that trains on validation images too.
	case " $* " in
	*" --train-on "*)
		for a in "$@"; do
			case $a in
			*nash-train)
				if ! "$a" --help 2>/dev/null | grep -q -e '--train-on'; then
					[ -z "$interrupted" ] || exit 130 # (a signal may have ended the check)
					die "$label: FINAL_ON=all needs a nash-train with --train-on (training on training + validation images); $a has none: give FINAL_ON=train"
				fi
				break
				;;
			esac
		done
		;;
	esac
	start=$in
	first_line "$key"
	if [ -f "$ckpt" ] && [ "$line" = "$want" ]; then
		start=$ckpt
		echo "search: $label: resuming from $ckpt" >>"$log"
	else
		rm -f "$ckpt" "$key"
		: >"$log"
		if [ -n "$morph" ]; then
			echo "search: $morph -o $morphed $in" >>"$log"
			# $morph is a command line: split on purpose
			# shellcheck disable=SC2086
			$morph -o "$morphed" "$in" >>"$log" 2>&1
			rc=$?
			[ -n "$interrupted" ] && exit 130
			if [ $rc -ne 0 ]; then
				reason=$(tool_failure nash-morph $rc "$log")
				[ -z "$interrupted" ] || exit 130
				: "${reason:=nash-morph: exit status $rc}"
				[ -n "$child" ] && network_failure nash-morph $rc || not_recorded "$reason"
				"${bin}nash-select" --mark-failed "$reason" -o "$out" "$in" ||
					not_recorded "cannot record the failure ($reason)"
				echo "  $label: FAILED ($reason)"
				[ -z "$interrupted" ] || fail "$label: failure recorded in $out"
				return 0
			fi
			start=$morphed
		fi
		printf '%s\n' "$want" >"$key.tmp" && mv -f "$key.tmp" "$key" || not_recorded "cannot write $key"
	fi

	echo "search: $*" >>"$log"
	[ -z "$interrupted" ] || exit 130
	t0=$(date +%s 2>/dev/null)
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
	took=$(since "$t0")
	# Interrupted (the user, make, a scheduler): not the child's fault; a rerun resumes.
	case $rc in 129 | 130 | 143) interrupted=1 ;; esac
	if finished; then
		# OUT is complete: kept whatever comes now, a signal included.
		rm -f "$ckpt" "$key"
		if [ -n "$keep" ]; then
			printf '%s\n' "$want" >"$done.tmp" && mv -f "$done.tmp" "$done" || {
				rm -f "$done.tmp"
				fail "$label: trained, kept in $out, but cannot write $done (a rerun with other settings trains it again)"
			}
		fi
		if figures; then
			echo "  $label: $fig, $took"
		else
			fail "$label: trained, kept in $out, but its figures cannot be read"
		fi
		[ -z "$interrupted" ] || fail "$label: trained, kept in $out"
		return 0
	fi
	if [ -n "$interrupted" ] && [ $rc -ne 0 ]; then
		rm -f "$out"
		stopped "$rc" "$log" "$ckpt" "$label"
		exit 130
	fi
	reason=$(tool_failure nash-train $rc "$log")
	[ -z "$interrupted" ] || {
		stopped "$rc" "$log" "$ckpt" "$label"
		exit 130
	}
	: "${reason:=nash-train: exit status $rc}"
	[ -n "$child" ] || not_recorded "training failed: $reason"
	network_failure nash-train $rc || not_recorded "training failed, not by the network's fault: $reason"
	# Exit 4 leaves the diverged model, marked failed, in OUT: keep it (it has the record).
	if [ ! -f "$out" ] || [ "$rc" -ne 4 ]; then
		# (not again from IN when a signal ended the first try)
		"${bin}nash-select" --mark-failed "$reason" -o "$out" "$start" >>"$log" 2>&1 ||
			{ [ -z "$interrupted" ] && "${bin}nash-select" --mark-failed "$reason" -o "$out" "$in" >>"$log" 2>&1; } ||
			not_recorded "cannot record the failure ($reason)"
	fi
	rm -f "$ckpt" "$key"
	echo "  $label: FAILED ($reason), $took"
	[ -z "$interrupted" ] || fail "$label: failure recorded in $out"
}

# ---- snapshots ----

cmd_link() {
	[ $# -eq 2 ] || die "link: usage: link OUT TARGET"
	parent_dir "$1" && mkdir -p "$pdir" && rm -f "$1.tmp" "${1%.h5}.done" && ln -s "$2" "$1.tmp" && mv -Tf "$1.tmp" "$1" || {
		rm -f "$1.tmp"
		fail "cannot link $1 to $2"
	}
}

cmd_best() {
	[ $# -eq 2 ] || die "best: usage: best DIR MODEL"
	# (a rename onto another link of the same file does nothing: the temporary goes after it)
	ln -f "$2" "$1/best.h5.tmp" && mv -f "$1/best.h5.tmp" "$1/best.h5" && rm -f "$1/best.h5.tmp" || {
		rm -f "$1/best.h5.tmp"
		fail "cannot link $1/best.h5 to $2"
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
	show_field weights_hash "$best" && a=$field && show_field weights_hash "$next" && b=$field ||
		fail "$label: cannot read $best or $next"
	if [ "$a" = "$b" ]; then
		cmd_link "$out" "$twin"
		echo "  $label: the next step's (its parent won)"
		return 0
	fi
	cmd_train --keep --label "$label" "$out" "$best" "$@"
}

# ---- select ----

cmd_select() {
	step='' steps='' label='' replace='' tolerance=''
	while [ $# -gt 0 ]; do
		case $1 in
		--step) step=$2; shift 2 ;;
		--tolerance) tolerance=$2; shift 2 ;;
		--steps) steps=$2; shift 2 ;;
		--label) label=$2; shift 2 ;;
		--replace) replace=1; shift ;;
		*) break ;;
		esac
	done
	[ $# -ge 2 ] || die "select: usage: select [--label L] [--replace] [--tolerance T] --step K [--steps N] OUT CANDIDATE... PARENT"
	out=$1
	shift
	parent_dir "$out" && mkdir -p "$pdir" || fail "${label}step $step: cannot make the directory of $out"
	# nash-select writes the table, then the target, last: once it exists, everything the report
	# reads of this step exists too; then its line on the step (on stderr, with any error).
	# (--replace: the best child replaces the parent, however they compare; nash-select(1))
	if ! msg=$("${bin}nash-select" ${replace:+--replace} ${tolerance:+--tolerance "$tolerance"} --step "$step" ${steps:+--steps "$steps"} \
		${label:+--label "$label"} --table "$pdir/select.tsv" -o "$out" "$@" 2>&1); then
		[ -n "$interrupted" ] && exit 130
		case $msg in
		# no silent no-op: the parent would stay, and every later step fail the same way
		*"every child failed"*"--max-params "*" and --max-macs"*)
			die "${label}step $step: ${msg#nash-select: }; give a larger MAX_PARAMS or MAX_GROWTH (empty for none), or fewer MORPHS" ;;
		*"every child failed"*"--max-macs"*)
			die "${label}step $step: ${msg#nash-select: }; give a larger MAX_GROWTH (or MAX_GROWTH= for no cap), or fewer MORPHS" ;;
		*"every child failed"*)
			die "${label}step $step: ${msg#nash-select: }; give a larger MAX_PARAMS (or MAX_PARAMS= for no budget), or fewer MORPHS" ;;
		*"no model can win"*) die "${label}step $step: nothing to select: $msg" ;;
		esac
		die "${label}step $step: the selection failed: $msg"
	fi
	[ -z "$interrupted" ] || fail "${label}step $step: selected, $out written"
	printf '%s\n' "$msg"
}

# OUT from CMD's standard output, whole or not at all (a one-line recipe's `>OUT.tmp || rm`
# leaves OUT.tmp behind when Ctrl-C ends the recipe's shell with its command).
cmd_capture() {
	[ $# -ge 4 ] && [ "$3" = -- ] || die "usage: search.sh capture OUT LOG -- CMD..."
	out=$1 log=$2
	shift 3
	"$@" >"$out.tmp" 2>"$log"
	rc=$?
	if [ $rc -ne 0 ] || [ -n "$interrupted" ]; then
		rm -f "$out.tmp"
		fail "$out: $(tool_failure "$(basename "$1")" $rc "$log") (see $log)"
	fi
	mv -f "$out.tmp" "$out" || { rm -f "$out.tmp"; fail "cannot write $out"; }
}

case ${1:-} in
train) shift; cmd_train "$@" ;;
capture) shift; cmd_capture "$@" ;;
select) shift; cmd_select "$@" ;;
snap) shift; cmd_snap "$@" ;;
link) shift; cmd_link "$@" ;;
climb)
	shift
	# (BUDGET, PATIENCE: pipelines/climb.sh, which uses the functions above)
	. "$here/climb.sh"
	cmd_climb "$@"
	;;
best) shift; cmd_best "$@" ;;
*) die "usage: search.sh train|capture|snap|link|best|select|climb ..." ;;
esac
