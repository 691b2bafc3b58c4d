# pipelines/search.sh climb: `make search BUDGET=... PATIENCE=...` (docs/SEARCH.md, "A time
# budget, and a stop at saturation"): runs the steps one at a time through make and times each;
# nash-report climb decides, after each, whether another is made and why not (lib/search/budget.c).
# Sourced by search.sh, whose functions it uses (is_count, fail, die); not run on its own.
# shellcheck shell=sh disable=SC2154

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

# make_step K: brings step K up to date through make (with a budget, its best's speed too,
# DIR/stepK/speed.h5), and records its seconds in DIR/stepK/wall when it had anything to do.
make_step() {
	k=$1
	step_done "$k" && return 0
	set -- $targets
	t0=$(date +%s) || fail "cannot read the clock"
	climb_make STEPS="$k" S_OPEN_ENDED=1 S_START="$climb_start" "$@" || exit $?
	# with a budget, the step's best's speed as the final phase will train it (its time is the
	# step's): what the final phase is predicted from
	if [ -n "$budget" ] && [ "$k" != 0 ]; then
		climb_make STEPS="$k" S_OPEN_ENDED=1 S_START="$climb_start" "$run/step$k/speed.h5" || exit $?
	fi
	t1=$(date +%s) || fail "cannot read the clock"
	[ -z "$interrupted" ] || exit 130
	echo $((t1 - t0)) >"$run/step$k/wall.tmp" && mv -f "$run/step$k/wall.tmp" "$run/step$k/wall" ||
		fail "cannot write $run/step$k/wall"
}

# quoted WORD: WORD single-quoted, a leading space, for an eval's command line
quoted() {
	printf " '%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# decide K: decision = nash-report climb's after step K of RUN: continue; or stop, a tab and why;
# or discard, a tab and why (the search ends with step K - 1's best): recorded in RUN/climb.txt. A next step that an earlier climb made and that is up to date is
# taken as it is, whatever the budget (make -q says so: only make knows).
decide() {
	next_made=
	if [ -n "$budget" ] && [ "$1" -lt "$max_steps" ] && step_done $(($1 + 1)); then
		next_made=--next-made
	fi
	after=$1
	eval "set -- $decide_args $next_made \"\$run\" \"\$after\""
	decision=$("${bin}nash-report" climb "$@") || fail "climb: cannot decide whether to make step $((after + 1))"
}

cmd_climb() {
	run='' max_steps='' budget='' decide_args=''
	while [ $# -gt 1 ]; do
		case $1 in
		--run) run=$2; shift 2; continue ;;
		--max-steps) max_steps=$2 ;;
		--budget) budget=$2 ;;
		--) shift; break ;;
		esac
		# the rest is nash-report climb's (each with a value), which checks it
		case $1 in
		--*) decide_args=$decide_args$(quoted "$1")$(quoted "$2"); shift 2 ;;
		*) die "climb: unknown option $1" ;;
		esac
	done
	[ -n "$run" ] && is_count "$max_steps" && [ $# -gt 0 ] ||
		die "climb: usage: climb --run DIR --max-steps N ... -- MAKE..."
	# the make command, each word single-quoted for climb_make's eval
	climb_args=
	for a in "$@"; do
		climb_args=$climb_args$(quoted "$a")
	done
	mkdir -p "$run" || fail "cannot make $run"
	rm -f "$run/climb.txt"
	climb_start=$(date +%s) || fail "cannot read the clock"

	make_step 0
	k=0
	while decide "$k" && [ "$decision" = continue ]; do
		k=$((k + 1))
		make_step "$k"
	done
	case $decision in
	discard*) k=$((k - 1)) ;; # step k's best's final phase would not fit: the search ends before it
	esac
	why=${decision#*	}
	echo "search: $k step$([ "$k" = 1 ] || echo s) ($why); make search STEPS=$k with the same settings makes the same search"
	climb_make STEPS="$k" S_START="$climb_start" search-run
}

# climb_make ARGS...: the make command given to climb, with ARGS after its own
climb_make() {
	eval "set -- $climb_args \"\$@\""
	"$@"
}

