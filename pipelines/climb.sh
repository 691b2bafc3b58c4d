# pipelines/search.sh climb: `make search BUDGET=... PATIENCE=...` (docs/SEARCH.md, "A time
# budget, and a stop at saturation"). Sourced by search.sh, whose functions it uses (show_field,
# show_table, take, is_count, fail, die, hms); not run on its own.
# shellcheck shell=sh disable=SC2154

# secs: the seconds measured for step K of DIR (0: the seed network's pretraining), recorded in
# DIR/stepK/wall when the driver ran it, else estimated from the models' training seconds (a
# step made by a plain `make search`: its children's seconds over the trainings at once).
step_secs() {
	secs=
	[ -f "$run/step$1/wall" ] && read -r secs <"$run/step$1/wall" && is_count "$secs" && return 0
	if [ "$1" = 0 ]; then
		show_field total_seconds "$run/step0/best.h5" || return 1
		secs=${field%.*}
	else
		c=$(tsv_cols "$run/step$1/select.tsv" model seconds usable) &&
			secs=$(awk -F '\t' -v c="$c" -v j="$jobs" 'BEGIN { split(c, f, " ") }
				NR > 1 && $f[1] !~ /\/best\.h5$/ && $f[3] == 1 { s += $f[2] } END { printf "%d\n", s / j }' "$run/step$1/select.tsv") || return 1
	fi
	is_count "$secs"
}

# reserve: the seconds the final phase after step K will take, predicted from K's best: the
# seconds per epoch of its own training on the training split (for a child: one thread beside
# its siblings, more than the final training's on every core) times EPOCHS_FINAL, a tenth more
# with FINAL_ON=all (the validation images too), a fifth more for the tests and the ensemble;
# ENSEMBLE=trained trains the snapshots too, JOBS at a time.
final_reserve() {
	show_field seconds "$run/step$1/best.h5" || return 1
	last_epochs=$epochs_neigh
	[ "$1" = 0 ] && last_epochs=$epochs_seed
	reserve=$(awk -v sec="$field" -v e="$last_epochs" -v f="$epochs_final" -v all="$([ "$final_on" = all ] && echo 1.1 || echo 1)" \
		-v snaps="$([ "$ensemble" = trained ] && echo "$1" || echo 1)" -v j="$jobs" 'BEGIN {
			if (!(sec > 0 && e > 0)) exit 1
			n = int((snaps + j - 1) / j); if (n < 1) n = 1
			printf "%d\n", f * sec / e * all * 1.2 * n + 0.5 }') && is_count "$reserve"
}

# the best validation accuracy after step K (the parent competes: its own, or a child's)
best_val() {
	show_field val_accuracy "$run/step$1/best.h5" && bv=$field
}

# step_targets K: what step K is (0: the seed network and its test)
step_targets() {
	targets=$run/step$1/best.h5
	[ "$1" != 0 ] || targets="$targets $run/step0/test.txt"
}

# True when step K is made, up to date and timed (by an earlier run of this driver).
step_done() {
	step_targets "$1"
	# shellcheck disable=SC2086 # (RUN has no spaces)
	[ -f "$run/step$1/wall" ] && climb_make -q STEPS="$1" $targets >/dev/null 2>&1
}

# make_step K: brings step K up to date through make, and records its seconds in
# DIR/stepK/wall when it had anything to do.
make_step() {
	k=$1
	step_done "$k" && return 0
	set -- $targets
	t0=$(date +%s) || fail "cannot read the clock"
	climb_make STEPS="$k" S_OPEN_ENDED=1 S_START="$climb_start" "$@" || exit $?
	t1=$(date +%s) || fail "cannot read the clock"
	[ -z "$interrupted" ] || exit 130
	echo $((t1 - t0)) >"$run/step$k/wall.tmp" && mv -f "$run/step$k/wall.tmp" "$run/step$k/wall" ||
		fail "cannot write $run/step$k/wall"
}

cmd_climb() {
	run='' max_steps='' budget='' patience='' min_gain='' epochs='' neigh='' jobs='' final_on='' ensemble=''
	while [ $# -gt 0 ]; do
		case $1 in
		--run) run=$2; shift 2 ;;
		--max-steps) max_steps=$2; shift 2 ;;
		--budget) budget=$2; shift 2 ;;
		--patience) patience=$2; shift 2 ;;
		--min-gain) min_gain=$2; shift 2 ;;
		--epochs) epochs=$2; shift 2 ;;
		--neigh) neigh=$2; shift 2 ;;
		--jobs) jobs=$2; shift 2 ;;
		--final-on) final_on=$2; shift 2 ;;
		--ensemble) ensemble=$2; shift 2 ;;
		--) shift; break ;;
		*) die "climb: unknown option $1" ;;
		esac
	done
	[ -n "$run" ] && is_count "$max_steps" && is_count "$neigh" && is_count "$jobs" && [ $# -gt 0 ] ||
		die "climb: usage: climb --run DIR --max-steps N ... -- MAKE..."
	IFS=, read -r epochs_seed epochs_neigh epochs_final <<-EOF
		$epochs
	EOF
	[ "$jobs" -ge 1 ] || jobs=1
	[ "$jobs" -le "$neigh" ] || jobs=$neigh
	# the make command, each word single-quoted for climb_make's eval
	climb_args=
	for a in "$@"; do
		climb_args="$climb_args '$(printf '%s' "$a" | sed "s/'/'\\\\''/g")'"
	done
	mkdir -p "$run" || fail "cannot make $run"
	rm -f "$run/climb.txt"
	climb_start=$(date +%s) || fail "cannot read the clock"

	make_step 0
	step_secs 0 || fail "cannot read the time of step 0"
	k=0 why= spent=$secs last=$secs
	while :; do
		best_val "$k" || fail "cannot read step $k's best"
		eval "val_$k=\$bv"
		# PATIENCE: no gain of MIN_GAIN over the last PATIENCE steps
		if [ -n "$patience" ] && [ "$k" -ge "$patience" ]; then
			eval "old=\$val_$((k - patience))"
			if awk -v a="$bv" -v b="$old" -v g="$min_gain" 'BEGIN { exit !(a - b < g) }'; then
				why="the validation accuracy saturated: $old after step $((k - patience)), $bv after step $k, a gain below MIN_GAIN=$min_gain in PATIENCE=$patience steps"
				break
			fi
		fi
		if [ "$k" -ge "$max_steps" ]; then
			why="the most steps asked for: STEPS=$max_steps"
			break
		fi
		# a step made by an earlier run within its budget is taken as it is (its time is spent):
		# the same BUDGET again reaches the same step
		if [ -n "$budget" ] && ! step_done $((k + 1)); then
			final_reserve "$k" || fail "cannot predict the final phase from $run/step$k/best.h5"
			# the next step: 1.5 times the last (its children are its best's, up to twice as big:
			# 1.25 to 1.5 times in the default search); the first from the pretraining: a child
			# costs about 4 seed epochs per epoch (one thread instead of every core, a larger
			# network), JOBS children at once
			if [ "$k" = 0 ]; then
				next=$(awk -v w="$last" -v es="$epochs_seed" -v en="$epochs_neigh" -v n="$neigh" -v j="$jobs" \
					'BEGIN { printf "%d\n", 4 * w / (es > 0 ? es : 1) * en * int((n + j - 1) / j) + 0.5 }')
			else
				next=$((last * 3 / 2))
			fi
			# the final phase after it, of a network up to 1.25 times as costly
			after=$((reserve * 5 / 4))
			if [ $((spent + next + after)) -gt "$budget" ]; then
				why="the time budget: BUDGET=$(hms "$budget"), $(hms "$spent") spent, step $((k + 1)) would take about $(hms "$next") and the final phase after it about $(hms "$after")"
				break
			fi
		fi
		k=$((k + 1))
		make_step "$k"
		step_secs "$k" || fail "cannot read the time of step $k"
		spent=$((spent + secs)) last=$secs
	done
	printf 'steps=%s\nwhy=%s\n' "$k" "$why" >"$run/climb.txt.tmp" && mv -f "$run/climb.txt.tmp" "$run/climb.txt" || {
		rm -f "$run/climb.txt.tmp"
		fail "cannot write $run/climb.txt"
	}
	echo "search: $k step$([ "$k" = 1 ] || echo s) ($why); make search STEPS=$k with the same settings makes the same search"
	climb_make STEPS="$k" S_START="$climb_start" search-run
}

# climb_make ARGS...: the make command given to climb, with ARGS after its own
climb_make() {
	eval "set -- $climb_args \"\$@\""
	"$@"
}

