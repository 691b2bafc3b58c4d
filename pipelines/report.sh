#!/bin/sh
# Writes RUN/report.md (a table per step, the results, a plot, the best architecture drawn),
# RUN/summary.txt and RUN/result.tsv (the figures pipelines/aggregate.sh compares) from a
# finished search. Usage: report.sh [--partial] [--step0 DIR] RUN STEPS FINAL_ON ENSEMBLE
# (NASH_BIN: the tools); --step0: where the seed network is when not in RUN/step0 (searches that
# share one). --partial: the report of a search stopped after step STEPS, written after every
# step (no final phase, no ensemble yet; no summary.txt, no result.tsv), so that an interrupted
# or spent search leaves an honest account of how far it got.
# Every file is written to a temporary and renamed; report.md last (it is make's target).
set -u
step0= partial=
while [ $# -gt 0 ]; do
	case $1 in
	--partial) partial=1; shift ;;
	--step0) step0=$2; shift 2 ;;
	*) break ;;
	esac
done
run=$1 steps=$2 final_on=${3:-train} ensemble=${4:-raw}
: "${step0:=$run/step0}"
# how the report names the seed network's files: step0/... in RUN, else the path from RUN
case $step0 in
"$run/step0") step0_name=step0 ;;
"$(dirname "$run")/step0") step0_name=../step0 ;;
*) step0_name=$step0 ;;
esac
bin=${NASH_BIN:+$NASH_BIN/}
# Stopped (Ctrl-C, a scheduler's SIGTERM), the report ends at once (the helpers that the signal
# ended have no output to go on with), through the EXIT trap: no temporary is left.
trap 'exit 130' INT TERM HUP
dir=$run/report
mkdir -p "$dir" || exit 1
tmp=$(mktemp -d "$dir/.tmp.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

die() {
	echo "report: $*" >&2
	exit 1
}

# hms, tsv_col, tsv_cols
. "$(dirname "$0")/common.sh"

# Rows 1 seed, 2 the search's best, 3 the final model; columns by their header names.
best=$run/step$steps/best.h5
[ "$steps" -gt 0 ] || best=$step0/best.h5
# (partial: the search's best stands in for the final model, whose figures are not shown)
final=$run/final.h5
[ -z "$partial" ] || final=$best
"${bin}nash-show" --tsv "$step0/best.h5" "$best" "$final" >"$tmp/show.tsv" ||
	die "cannot read the models"
# (Each read on its own line and checked: a die in a command substitution ends its subshell
# only, and an assignment's status is its last substitution's.)
field() {
	v=$(tsv_col "$2" "$tmp/show.tsv" "$1") && [ -n "$v" ] || die "nash-show --tsv: no $2 in row $1"
	printf '%s\n' "$v"
}
seed_val=$(field 1 val_accuracy) || exit 1
seed_params=$(field 1 params) || exit 1
seed_secs=$(field 1 total_seconds) || exit 1
seed_epochs=$(field 1 epochs) || exit 1
best_val=$(field 2 val_accuracy) || exit 1
best_params=$(field 2 params) || exit 1
best_morphs=$(field 2 n_lineage) || exit 1
best_epochs=$(field 2 epochs) || exit 1
final_val=$(field 3 val_accuracy) || exit 1
final_test=$(field 3 test_accuracy) || exit 1
final_params=$(field 3 params) || exit 1
final_epochs=$(field 3 epochs) || exit 1
final_secs=$(field 3 seconds) || exit 1
final_summary=$(field 3 summary) || exit 1
final_lineage=$(field 3 lineage) || exit 1
# With FINAL_ON=all the final model has trained on its validation images: say so by its figure.
[ "$final_on" = all ] && final_val="$final_val (trained on)"
case $final_on in
all) final_what="on training + validation images (FINAL_ON=all; its val accuracy is not held out)" ;;
*) final_what="on the training split (FINAL_ON=train)" ;;
esac
seed_test=
[ ! -f "$step0/test.txt" ] || seed_test=$(sed -n 's/.*test_accuracy=\([0-9.]*\).*/\1/p' "$step0/test.txt")
ens_test= ens_n= best_member= ens_gain=
[ -z "$partial" ] || final_secs=0
if [ -z "$partial" ]; then
ens_test=$(sed -n 's/^test_accuracy=\([0-9.]*\).*/\1/p' "$run/ensemble.txt")
ens_n=$(sed -n 's/^ensemble of \([0-9]*\).*/\1/p' "$run/ensemble.txt")

# The ensemble's members, one per step (the seed network when there are no steps): step K's
# best trained as the final model is (ENSEMBLE=trained, snap/stepK.h5) or as it left the
# search (raw, stepK/best.h5). Their test accuracies are nash-ensemble's (ensemble.txt); a
# member with the weights of an earlier one was counted once and gets that one's accuracy.
# members.tsv: step, file, test accuracy, the step it shares its weights with (or -).
k=1 members=
while [ "$k" -le "$steps" ]; do
	if [ "$ensemble" = trained ]; then members="$members $run/snap/step$k.h5"; else members="$members $run/step$k/best.h5"; fi
	k=$((k + 1))
done
[ "$steps" -gt 0 ] || members=$([ "$ensemble" = trained ] && echo "$run/final.h5" || echo "$step0/best.h5")
# shellcheck disable=SC2086 # the paths have no spaces (search.mk checks RUN)
"${bin}nash-show" --tsv $members >"$tmp/members.tsv" || die "cannot read the ensemble's members"
mc=$(tsv_cols "$tmp/members.tsv" model weights_hash) || exit 1
awk -v c="$mc" -v first="$([ "$steps" -gt 0 ] && echo 1 || echo 0)" '
	FNR == NR { if ($1 != "member" && $1 !~ /^ensemble$/ && NF == 3) acc[$1] = $3; next }
	FNR == 1 { split(c, f, " "); FS = "\t"; next }
	{
		k = first + FNR - 2; h = $f[2]; same = "-"
		if (h in step_of) { same = step_of[h]; a = acc_of[h] } else { a = ($f[1] in acc) ? acc[$f[1]] : "-"; step_of[h] = k; acc_of[h] = a }
		printf "%s\t%s\t%s\t%s\n", k, $f[1], a, same
	}' "$run/ensemble.txt" "$tmp/members.tsv" >"$tmp/members.dat" || die "cannot list the ensemble's members"
# the best member and how much the ensemble gains over it, in percentage points
best_member=$(awk -F '\t' '$3 != "-" && $3 > b { b = $3 } END { print b }' "$tmp/members.dat") &&
	ens_gain=$(awk -v e="${ens_test:-}" -v b="$best_member" 'BEGIN { if (e != "" && b != "") printf "%+.2f", 100 * (e - b) }') ||
	die "cannot compare the ensemble with its members"
fi

# Per step: the children's accuracies, the best so far, the cumulative training time.
# select.tsv's columns by name: c = "rank model val params seconds since_parent morphisms usable note"
sel_cols() { tsv_cols "$1" rank model val_accuracy params seconds since_parent morphisms usable note || exit 1; }
: >"$tmp/children.dat"
# (A figure that a helper did not give fails the report: no step is plotted at an empty time.)
minutes() { awk -v s="$1" 'BEGIN { print s / 60 }'; }
m=$(minutes "$seed_secs") && printf '0 %s %s\n' "$m" "$seed_val" >"$tmp/steps.dat" || die "cannot write $tmp/steps.dat"
cum=$seed_secs
k=1
while [ "$k" -le "$steps" ]; do
	t=$run/step$k/select.tsv
	[ -f "$t" ] || die "$t is missing"
	c=$(sel_cols "$t") || die "$t: not a selection table"
	awk -F '\t' -v k="$k" -v c="$c" 'BEGIN { split(c, f, " ") }
		NR > 1 && $f[2] !~ /\/best\.h5$/ && $f[8] == 1 { print k, $f[3] }' "$t" >>"$tmp/children.dat" &&
		cum=$(awk -F '\t' -v s="$cum" -v c="$c" 'BEGIN { split(c, f, " ") }
			NR > 1 && $f[2] !~ /\/best\.h5$/ && $f[8] == 1 { s += $f[5] } END { print s }' "$t") &&
		win=$(tsv_col val_accuracy "$t" 1) && [ -n "$win" ] && m=$(minutes "$cum") &&
		printf '%s %s %s\n' "$k" "$m" "$win" >>"$tmp/steps.dat" || die "$t: cannot read step $k's figures"
	k=$((k + 1))
done
train_total=$(awk -v a="$cum" -v b="$final_secs" 'BEGIN { print a + b }') || die "cannot add the training times"

# The plot's data (pipelines/aggregate.sh plots the steps of several searches): per step, the
# cumulative training minutes and the best validation accuracy; every child's.
cp "$tmp/steps.dat" "$tmp/children.dat" "$dir/" || die "cannot write $dir/steps.dat"

# The plot: validation accuracy against step and against training time.
plot=
if command -v gnuplot >/dev/null 2>&1; then
	# PNG through cairo where gnuplot has it (it renders everywhere), else SVG
	ext=png term='pngcairo size 1000,420 font "Helvetica,11"'
	gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo || { ext=svg term='svg size 1000,420 font "Helvetica,12"'; }
	gnuplot 2>"$tmp/gnuplot.err" <<-EOF && mv -f "$tmp/val.$ext" "$dir/val.$ext" && plot=report/val.$ext
		set terminal $term
		set output "$tmp/val.$ext"
		set multiplot layout 1,2 title "NASH search: validation accuracy"
		set grid
		set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05
		set key bottom right
		set ylabel "validation accuracy"
		set xlabel "hill-climbing step"
		set xtics 1
		plot "$tmp/children.dat" using 1:2 with points pt 7 ps 0.6 lc rgb "#999999" title "children", \
		     "$tmp/steps.dat" using 1:3 with linespoints pt 7 lw 2 lc rgb "#1f77b4" title "best"
		set xlabel "training time (minutes, all models)"
		set xtics autofreq
		plot "$tmp/steps.dat" using 2:3 with linespoints pt 7 lw 2 lc rgb "#1f77b4" title "best after each step"
		unset multiplot
	EOF
	[ -n "$plot" ] || echo "report: gnuplot failed: $(head -n 3 "$tmp/gnuplot.err")" >&2
fi

# The best architecture (the final model), drawn by Graphviz.
drawing=
"${bin}nash-show" --dot "$final" >"$tmp/best.dot" && mv -f "$tmp/best.dot" "$dir/best.dot"
if command -v dot >/dev/null 2>&1 && [ -f "$dir/best.dot" ]; then
	dot -Tsvg "$dir/best.dot" >"$tmp/best.svg" 2>"$tmp/dot.err" && mv -f "$tmp/best.svg" "$dir/best.svg" && drawing=1
	[ -n "$drawing" ] || echo "report: dot failed: $(head -n 3 "$tmp/dot.err")" >&2
fi

# Where every training ran (nash-show --tsv 17 host 18 device 19 job, of the model's last run):
# the seed's pretraining, every child the steps ranked, the final training. A failed child's file
# holds its parent's record, so its place is unknown.
where_md() {
	k=1 models="$step0/best.h5"
	while [ "$k" -le "$steps" ]; do
		ranked=$(awk -F '\t' 'NR > 1 && $2 !~ /\/best\.h5$/ { printf " %s", $2 }' "$run/step$k/select.tsv") ||
			die "cannot read $run/step$k/select.tsv"
		models="$models $ranked"
		k=$((k + 1))
	done
	# shellcheck disable=SC2086 # model paths have no spaces (RUN cannot)
	[ -n "$partial" ] || models="$models $run/final.h5"
	# shellcheck disable=SC2086
	"${bin}nash-show" --tsv $models >"$tmp/where.tsv" || die "cannot read the models"
	awk -F '\t' -v run="$run/" -v s0="$step0/" -v s0n="$step0_name/" '
		NR == 1 { next }
		{
			m = $1; if (index(m, s0) == 1) m = s0n substr(m, length(s0) + 1); else sub(run, "", m)
			sub(/\.h5$/, "", m)
			if ($11 == 1) { $17 = "-"; $18 = "(failed: not recorded)"; $19 = "-" }
			else { n++; hosts[$17]; if ($19 != "-") { jobs[$19]; nj++ } }
			rows = rows sprintf("| %s | %s | %s | %s |\n", m, $17, $18, $19)
		}
		END {
			for (h in hosts) nh++
			for (j in jobs) dj++
			printf "%d trainings on %d host%s", n, nh, nh == 1 ? "" : "s"
			if (nj) printf ", %d of them as %d distinct scheduler jobs", nj, dj
			printf ".\n\n| model | host | device | job |\n|---|---|---|---|\n%s", rows
		}' "$tmp/where.tsv"
}
where_md >"$tmp/where.md" || die "cannot list where the trainings ran"

# The training compute in image passes: every model's own training (the seed's pretraining,
# every child trained, the final training; where.tsv holds their last runs), failed children
# left out as they are in the table above (their files hold their parent's record). And the
# same in epochs of the final phase's data (its images per epoch), to set against one training.
ic=$(tsv_cols "$tmp/where.tsv" images failed) || die "cannot read the models' images"
train_images=$(awk -F '\t' -v c="$ic" 'BEGIN { split(c, f, " ") } NR > 1 && $f[2] != 1 { s += $f[1] } END { printf "%.0f\n", s }' \
	"$tmp/where.tsv") || die "cannot add the images trained on"
final_images=$(field 3 images) || exit 1
final_run_epochs=$((final_epochs - best_epochs))
final_per_epoch=$(awk -v i="$final_images" -v e="$final_run_epochs" 'BEGIN { if (e > 0 && i > 0) printf "%.0f\n", i / e }') ||
	die "cannot read the final phase's images per epoch"
train_in_final=$(awk -v t="$train_images" -v p="$final_per_epoch" 'BEGIN { if (p > 0) printf "%.1f\n", t / p }')

if [ -z "$partial" ]; then
# The figures other reports compare (pipelines/aggregate.sh), by header: test accuracies of the
# seed network, the final model and the snapshot ensemble; the final model's parameters and
# epochs; training seconds (all models, as below; the final training's).
{
	printf 'seed_test\tfinal_test\tensemble_test\tparams\tepochs\ttrain_seconds\tfinal_seconds\tbest_val\ttrain_images\tfinal_epoch_images\n'
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${seed_test:--}" "${final_test:--}" "${ens_test:--}" "$final_params" \
		"$final_epochs" "$train_total" "$final_secs" "$best_val" "$train_images" "${final_per_epoch:--}"
} >"$tmp/result.tsv" && mv -f "$tmp/result.tsv" "$run/result.tsv" || die "cannot write $run/result.tsv"

# The summary, printed by `make search`.
{
	echo "search done: $run ($steps step$([ "$steps" = 1 ] || echo s), $(hms "$train_total") of training, $train_images images${train_in_final:+ = $train_in_final epochs of the final phase's data})"
	printf '  %-22s val %s  test %s  %s params\n' "seed network" "$seed_val" "${seed_test:--}" "$seed_params"
	printf '  %-22s val %s  test %s  %s params, %s morphisms (%s)\n' "best of the search" "$best_val" "-     " \
		"$best_params" "$best_morphs" "$run/step$steps/best.h5"
	printf '  %-22s val %s  test %s  %s params (%s, FINAL_ON=%s)\n' "after final training" "$final_val" \
		"$final_test" "$final_params" "$run/final.h5" "$final_on"
	ens_label="snapshot ensemble (${ens_n:-?} model$([ "${ens_n:-2}" = 1 ] || echo s), $ensemble)"
	while IFS='	' read -r k f a same; do
		printf '  %-34s test %s%s\n' "  member: step $k" "$a" "$([ "$same" = - ] || echo " (= step $same)")"
	done <"$tmp/members.dat"
	printf '  %-34s test %s%s\n' "$ens_label" "${ens_test:--}" \
		"${ens_gain:+  ($ens_gain points over its best member)}"
	echo "  report: $run/report.md"
} >"$tmp/summary.txt" && mv -f "$tmp/summary.txt" "$run/summary.txt" || die "cannot write the summary"
fi

# report.md
{
	echo "# NASH search: $run"
	echo
	echo "Hill climbing with network morphisms (Elsken et al. 2017). Settings (\`$run/settings/run\`):"
	echo
	echo '```'
	tr ' ' '\n' <"$run/settings/run" | grep -v '^$'
	echo '```'
	echo
	if [ -f "$step0/init.derived" ]; then
		echo "Derived from the data and the seed network before anything trained (\`$step0_name/init.derived\`):"
		echo
		sed 's/^/- /' "$step0/init.derived"
		echo
	fi
	if [ -z "$partial" ] && [ -f "$run/climb.txt" ]; then
		echo "Steps decided as the search went (BUDGET, PATIENCE): $(sed -n 's/^steps=//p' "$run/climb.txt") ($(sed -n 's/^why=//p' "$run/climb.txt"))."
		echo
	fi
	if [ -n "$partial" ]; then
		echo "**Not finished: $steps step$([ "$steps" = 1 ] || echo s) done, no final training yet.** The best network so far is"
		echo "\`best.h5\` (step $steps's best); \`make search\` with the same settings goes on from here."
		echo
	fi
	echo "## Result"
	echo
	echo "| model | val accuracy | test accuracy | params | epochs |"
	echo "|---|---|---|---|---|"
	echo "| seed network (\`$step0_name/best.h5\`) | $seed_val | ${seed_test:--} | $seed_params | $seed_epochs |"
	echo "| best of the search (\`step$steps/best.h5\`, $best_morphs morphisms) | $best_val | - | $best_params | $best_epochs |"
	if [ -z "$partial" ]; then
	echo "| after final training (\`final.h5\`) | $final_val | $final_test | $final_params | $final_epochs |"
	echo "| $ens_label of the steps' bests (\`ensemble.h5\`) | - | ${ens_test:--} | | |"
	echo
	echo "The final model was trained $final_what."
	echo
	echo "### Ensemble members"
	echo
	if [ "$ensemble" = trained ]; then
		echo "Every step's best after the final training (\`snap/stepK.h5\`; the last step's is \`final.h5\`)."
	else
		echo "Every step's best as it left the search (ENSEMBLE=raw)."
	fi
	echo
	echo "| step | member | test accuracy |"
	echo "|---|---|---|"
	while IFS='	' read -r k f a same; do
		echo "| $k | \`${f#"$run"/}\`$([ "$same" = - ] || echo " (same weights as step $same's)") | $a |"
	done <"$tmp/members.dat"
	echo "| ensemble of ${ens_n:-?} | | ${ens_test:--} |"
	echo
	[ -z "$ens_gain" ] || echo "The ensemble against its best member ($best_member): $ens_gain percentage points."
	fi
	echo
	echo "Training time, all models: $(hms "$train_total") (seed $(hms "$seed_secs"), final $([ -n "$partial" ] && echo "not yet" || hms "$final_secs"))."
	echo
	echo "Training compute, all models: $train_images images trained on${train_in_final:+, as many as $train_in_final epochs of the final phase's $final_per_epoch images}:"
	echo "the search's cost in the units of one training (\`make ablation\`'s variant (e) spends the same training time on the seed network alone, docs/ABLATION.md)."
	echo
	if [ -n "$plot" ]; then
		echo "![validation accuracy against step and training time]($plot)"
		echo
	fi
	echo "## Steps"
	k=1
	while [ "$k" -le "$steps" ]; do
		echo
		echo "### Step $k"
		echo
		echo "| rank | model | morphisms since parent | val accuracy | params | seconds | note |"
		echo "|---|---|---|---|---|---|---|"
		c=$(sel_cols "$run/step$k/select.tsv") || die "$run/step$k/select.tsv: not a selection table"
		awk -F '\t' -v c="$c" 'BEGIN { split(c, f, " ") } NR > 1 {
			m = $f[2]; sub(/.*\//, "", m); sub(/\.h5$/, "", m)
			if (m == "best") m = "parent"
			ops = ($f[6] > 0) ? $f[6] ": " $f[7] : "-"
			note = ($f[9] == "-") ? "" : $f[9]
			gsub(/\|/, "/", note)
			# a failed child holds its parent'"'"'s figures (what it was made from): none of them here
			if ($f[8] != 1 && m != "parent") printf "| %s | %s | %s | - | - | - | %s |\n", $f[1], m, ops, note
			else printf "| %s | %s | %s | %s | %s | %s | %s |\n", $f[1], m, ops, $f[3], $f[4], $f[5], note
		}' "$run/step$k/select.tsv" || die "cannot read $run/step$k/select.tsv"
		k=$((k + 1))
	done
	echo
	echo "## Best architecture"
	echo
	echo "\`$([ -n "$partial" ] && echo "step$steps/best.h5" || echo final.h5)\`: $final_summary"
	echo
	echo "Morphisms since the seed network: $final_lineage"
	echo
	if [ -n "$drawing" ]; then
		echo "![the best architecture](report/best.svg)"
	elif [ -f "$dir/best.dot" ]; then
		echo "Graphviz source: \`report/best.dot\`"
	fi
	echo
	echo "## Where the trainings ran"
	echo
	cat "$tmp/where.md"
} >"$tmp/report.md" && mv -f "$tmp/report.md" "$run/report.md" || die "cannot write the report"
