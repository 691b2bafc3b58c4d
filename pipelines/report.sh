#!/bin/sh
# A finished search's report: RUN/report.md, RUN/summary.txt and RUN/result.tsv (nash-report
# search, which reads and computes everything), with the pictures report.md shows: the plot of
# the search (gnuplot) and the best architecture drawn (Graphviz). The pictures are made here,
# not in nash-report, because they need those programs, which no nash tool runs; each is shown
# only where its program is installed and succeeded.
# Usage: report.sh [--partial] [--step0 DIR] RUN STEPS FINAL_ON ENSEMBLE (NASH_BIN: the tools;
# NASH_START, NASH_AT_ONCE: when the make started and the trainings it runs at once, for the
# wall time against the training time);
# --step0: where the seed network is when not in RUN/step0 (searches that share one).
# --partial: the report of a search stopped after step STEPS, written after every step (no final
# phase, no ensemble yet; report.md only), so that an interrupted or spent search leaves an
# honest account of how far it got. nash-report writes each file to a temporary and renames it;
# report.md last (it is make's target).
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
bin=${NASH_BIN:+$NASH_BIN/}
# Stopped (Ctrl-C, a scheduler's SIGTERM), the report ends at once (the helpers that the signal
# ended have no output to go on with), through the EXIT trap: no temporary is left.
trap 'exit 130' INT TERM HUP
# (the directory without starting dirname: the pipeline runs this script dozens of times)
case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
. "$here/common.sh"
dir=$run/report
mkdir -p "$dir" || exit 1
# (named, and the EXIT trap set, before it is made: mktemp ended by the signal between making
# it and saying its name would leave it behind)
tmp=$dir/.tmp.$$
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp" && mkdir "$tmp" || exit 1

# The plot's data (pipelines/aggregate.sh plots the steps of several searches too): per step,
# the cumulative training minutes and the best validation accuracy; every child's.
# shellcheck disable=SC2086 # the paths have no spaces (search.mk checks RUN)
"${bin}nash-report" plot-data ${step0:+--step0 $step0} "$run" "$steps" || exit 1

# The plot: validation accuracy against step and against training time.
plot=
if command -v gnuplot >/dev/null 2>&1; then
	# PNG through cairo where gnuplot has it (it renders everywhere), else SVG
	ext=png term='pngcairo size 1000,420 font "Helvetica,11"'
	gnuplot_alone -e 'set terminal' 2>&1 | grep -q pngcairo || { ext=svg term='svg size 1000,420 font "Helvetica,12"'; }
	gnuplot_alone 2>"$tmp/gnuplot.err" <<-EOF && mv -f "$tmp/val.$ext" "$dir/val.$ext" && plot=report/val.$ext
		set terminal $term
		set output "$tmp/val.$ext"
		set multiplot layout 1,2 title "NASH search: validation accuracy"
		set grid
		set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.05
		set key bottom right
		set ylabel "validation accuracy"
		set xlabel "hill-climbing step"
		set xtics 1
		plot "$dir/children.dat" using 1:2 with points pt 7 ps 0.6 lc rgb "#999999" title "children", \
		     "$dir/steps.dat" using 1:3 with linespoints pt 7 lw 2 lc rgb "#1f77b4" title "best"
		set xlabel "training time (minutes, all models)"
		set xtics autofreq
		plot "$dir/steps.dat" using 2:3 with linespoints pt 7 lw 2 lc rgb "#1f77b4" title "best after each step"
		unset multiplot
	EOF
	[ -n "$plot" ] || echo "report: gnuplot failed: $(head -n 3 "$tmp/gnuplot.err")" >&2
fi

# The best architecture (the final model; partial: the search's best so far), drawn by Graphviz.
final=$run/final.h5
if [ -n "$partial" ]; then
	final=$run/step$steps/best.h5
	[ "$steps" -gt 0 ] || final=${step0:-$run/step0}/best.h5
fi
drawing=
"${bin}nash-show" --dot "$final" >"$tmp/best.dot" && mv -f "$tmp/best.dot" "$dir/best.dot"
if command -v dot >/dev/null 2>&1 && [ -f "$dir/best.dot" ]; then
	dot -Tsvg "$dir/best.dot" >"$tmp/best.svg" 2>"$tmp/dot.err" && mv -f "$tmp/best.svg" "$dir/best.svg" && drawing=1
	[ -n "$drawing" ] || echo "report: dot failed: $(head -n 3 "$tmp/dot.err")" >&2
fi

# shellcheck disable=SC2086
"${bin}nash-report" search ${partial:+--partial} ${step0:+--step0 $step0} --final-on "$final_on" \
	${NASH_START:+--started $NASH_START} ${NASH_AT_ONCE:+--at-once $NASH_AT_ONCE} \
	--ensemble "$ensemble" ${plot:+--plot $plot} ${drawing:+--drawing report/best.svg} "$run" "$steps"
