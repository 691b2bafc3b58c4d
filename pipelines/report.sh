#!/bin/sh
# Writes RUN/report.md (a table per step, the results, a plot, the best architecture drawn) and
# RUN/summary.txt from a finished search. Usage: report.sh RUN STEPS (NASH_BIN: the tools).
# Every file is written to a temporary and renamed; report.md last (it is make's target).
set -u
run=$1 steps=$2
bin=${NASH_BIN:+$NASH_BIN/}
dir=$run/report
mkdir -p "$dir" || exit 1
tmp=$(mktemp -d "$dir/.tmp.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

die() {
	echo "report: $*" >&2
	exit 1
}

hms() {
	s=${1%.*}
	if [ "$s" -ge 3600 ]; then printf '%dh%02dm%02ds' $((s / 3600)) $((s / 60 % 60)) $((s % 60))
	elif [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60))
	else printf '%ds' "$s"; fi
}

# nash-show --tsv columns: 1 model 2 id 3 parent_id 4 dataset 5 val 6 test 7 params 8 epochs
# 9 seconds 10 total_seconds 11 failed 12 n_lineage 13 lineage 14 hash 15 summary 16 failure
"${bin}nash-show" --tsv "$run/step0/best.h5" "$run/step$steps/best.h5" "$run/final.h5" >"$tmp/show.tsv" ||
	die "cannot read the models"
field() { awk -F '\t' -v r="$1" -v f="$2" 'NR == r + 1 { print $f }' "$tmp/show.tsv"; }
seed_val=$(field 1 5) seed_params=$(field 1 7) seed_secs=$(field 1 10)
best_val=$(field 2 5) best_params=$(field 2 7) best_morphs=$(field 2 12)
final_val=$(field 3 5) final_test=$(field 3 6) final_params=$(field 3 7) final_epochs=$(field 3 8)
final_secs=$(field 3 9)
seed_test=$(sed -n 's/.*test_accuracy=\([0-9.]*\).*/\1/p' "$run/step0/test.txt")
ens_test=$(sed -n 's/^test_accuracy=\([0-9.]*\).*/\1/p' "$run/ensemble.txt")
ens_n=$(sed -n 's/^ensemble of \([0-9]*\).*/\1/p' "$run/ensemble.txt")

# Per step: the children's accuracies, the best so far, the cumulative training time.
# select.tsv columns: 1 rank 2 model 3 val 4 params 5 epochs 6 seconds 7 since_parent
# 8 morphisms 9 usable 10 note
: >"$tmp/children.dat"
printf '0 %s %s\n' "$(awk -v s="$seed_secs" 'BEGIN { print s / 60 }')" "$seed_val" >"$tmp/steps.dat"
cum=$seed_secs
k=1
while [ "$k" -le "$steps" ]; do
	t=$run/step$k/select.tsv
	[ -f "$t" ] || die "$t is missing"
	awk -F '\t' -v k="$k" 'NR > 1 && $2 !~ /\/best\.h5$/ && $9 == 1 { print k, $3 }' "$t" >>"$tmp/children.dat"
	cum=$(awk -F '\t' -v c="$cum" 'NR > 1 && $2 !~ /\/best\.h5$/ { c += $6 } END { print c }' "$t")
	win=$(awk -F '\t' 'NR == 2 { print $3 }' "$t")
	printf '%s %s %s\n' "$k" "$(awk -v s="$cum" 'BEGIN { print s / 60 }')" "$win" >>"$tmp/steps.dat"
	k=$((k + 1))
done
train_total=$(awk -v a="$cum" -v b="$final_secs" 'BEGIN { print a + b }')

# The plot: validation accuracy against step and against training time.
plot=
if command -v gnuplot >/dev/null 2>&1; then
	cp "$tmp/steps.dat" "$tmp/children.dat" "$dir/" 2>/dev/null
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
"${bin}nash-show" --dot "$run/final.h5" >"$tmp/best.dot" && mv -f "$tmp/best.dot" "$dir/best.dot"
if command -v dot >/dev/null 2>&1 && [ -f "$dir/best.dot" ]; then
	dot -Tsvg "$dir/best.dot" >"$tmp/best.svg" 2>"$tmp/dot.err" && mv -f "$tmp/best.svg" "$dir/best.svg" && drawing=1
	[ -n "$drawing" ] || echo "report: dot failed: $(head -n 3 "$tmp/dot.err")" >&2
fi

# Where every training ran (nash-show --tsv 17 host 18 device 19 job, of the model's last run):
# the seed's pretraining, every child the steps ranked, the final training. A failed child's file
# holds its parent's record, so its place is unknown.
where_md() {
	k=1 models="$run/step0/best.h5"
	while [ "$k" -le "$steps" ]; do
		models="$models $(awk -F '\t' 'NR > 1 && $2 !~ /\/best\.h5$/ { printf " %s", $2 }' "$run/step$k/select.tsv")"
		k=$((k + 1))
	done
	# shellcheck disable=SC2086 # model paths have no spaces (RUN cannot)
	"${bin}nash-show" --tsv $models "$run/final.h5" >"$tmp/where.tsv" || die "cannot read the models"
	awk -F '\t' -v run="$run/" '
		NR == 1 { next }
		{
			m = $1; sub(run, "", m); sub(/\.h5$/, "", m)
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

# The summary, printed by `make search`.
{
	echo "search done: $run ($steps steps, $(hms "$train_total") of training)"
	printf '  %-22s val %s  test %s  %s params\n' "seed network" "$seed_val" "${seed_test:--}" "$seed_params"
	printf '  %-22s val %s  test %s  %s params, %s morphisms (%s)\n' "best of the search" "$best_val" "-     " \
		"$best_params" "$best_morphs" "$run/step$steps/best.h5"
	printf '  %-22s val %s  test %s  %s params (%s)\n' "after final training" "$final_val" "$final_test" \
		"$final_params" "$run/final.h5"
	ens_label="snapshot ensemble (${ens_n:-?} model$([ "${ens_n:-2}" = 1 ] || echo s))"
	printf '  %-34s test %s\n' "$ens_label" "${ens_test:--}"
	echo "  report: $run/report.md"
} >"$tmp/summary.txt" && mv -f "$tmp/summary.txt" "$run/summary.txt" || die "cannot write the summary"

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
	echo "## Result"
	echo
	echo "| model | val accuracy | test accuracy | params | epochs |"
	echo "|---|---|---|---|---|"
	echo "| seed network (\`step0/best.h5\`) | $seed_val | ${seed_test:--} | $seed_params | $(field 1 8) |"
	echo "| best of the search (\`step$steps/best.h5\`, $best_morphs morphisms) | $best_val | - | $best_params | $(field 2 8) |"
	echo "| after final training (\`final.h5\`) | $final_val | $final_test | $final_params | $final_epochs |"
	echo "| $ens_label of the steps' bests (\`ensemble.h5\`) | - | ${ens_test:--} | | |"
	echo
	echo "Training time, all models: $(hms "$train_total") (seed $(hms "$seed_secs"), final $(hms "$final_secs"))."
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
		awk -F '\t' 'NR > 1 {
			m = $2; sub(/.*\//, "", m); sub(/\.h5$/, "", m)
			if (m == "best") m = "parent"
			ops = ($7 > 0) ? $7 ": " $8 : "-"
			note = ($10 == "-") ? "" : $10
			gsub(/\|/, "/", note)
			printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, m, ops, $3, $4, $6, note
		}' "$run/step$k/select.tsv"
		k=$((k + 1))
	done
	echo
	echo "## Best architecture"
	echo
	echo "\`final.h5\`: $(field 3 15)"
	echo
	lineage=$(field 3 13)
	echo "Morphisms since the seed network: ${lineage:--}"
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
