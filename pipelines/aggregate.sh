#!/bin/sh
# The ablation's report (docs/ABLATION.md):
#
#   aggregate.sh ablation DIR NAME...
#       DIR/NAME (seed1, seed2, ...) hold the ablation's variants of one seed each (search,
#       random, const-lr: searches; scratch: one training); DIR/ensemble.txt the ensemble of
#       the searches' final networks. nash-report ablation writes DIR/results.tsv (a row per
#       variant and seed), DIR/report.tsv (the table), DIR/summary.txt and DIR/report.md; this
#       draws the plot it shows, DIR/report/val-time.*, with gnuplot, a program the tools do not
#       run (no plot where it is missing or fails).
#
# NASH_BIN: the tools; NASH_START: when this make started (epoch seconds), for the wall time.
# Every file is written to a temporary and renamed; report.md last (it is make's target).
set -u
bin=${NASH_BIN:+$NASH_BIN/}

die() {
	echo "aggregate: $*" >&2
	exit 1
}

if [ "${1:-}" != ablation ] || [ $# -lt 3 ]; then die "usage: aggregate.sh ablation DIR NAME..."; fi
shift
abl=$1
shift
# Stopped (Ctrl-C, a scheduler's SIGTERM), it ends at once, through the EXIT trap: no temporary
# is left.
trap 'exit 130' INT TERM HUP
# (the directory without starting dirname, as in search.sh)
case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
. "$here/common.sh"
mkdir -p "$abl/report" || exit 1
# (named, and the EXIT trap set, before it is made, as in report.sh)
tmp=$abl/.tmp.$$
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp" && mkdir "$tmp" || exit 1

# The plot: validation accuracy of the best network after each step against the cumulative
# training time, (a) against (c), one line per seed (report/steps.dat of each search).
plot=
if command -v gnuplot >/dev/null 2>&1; then
	ext=png term='pngcairo size 900,500 font "Helvetica,11"'
	gnuplot_alone -e 'set terminal' 2>&1 | grep -q pngcairo || { ext=svg term='svg size 900,500 font "Helvetica,12"'; }
	{
		echo "set terminal $term"
		echo "set output \"$tmp/val-time.$ext\""
		echo 'set title "Validation accuracy of the best network against training time"'
		echo 'set grid'
		echo 'set key top left'
		echo 'set xlabel "training time (minutes, all models of the search)"'
		echo 'set ylabel "validation accuracy"'
		printf 'plot '
		sep=
		for name in "$@"; do
			printf '%s"%s" using 2:3 with linespoints pt 7 lw 2 lc rgb "#1f77b4" title "%s"' "$sep" \
				"$abl/$name/search/report/steps.dat" "$([ "$name" = "$1" ] && echo "(a) SGDR children")"
			sep=', '
			printf '%s"%s" using 2:3 with linespoints pt 5 lw 2 dt 2 lc rgb "#d62728" title "%s"' "$sep" \
				"$abl/$name/const-lr/report/steps.dat" "$([ "$name" = "$1" ] && echo "(c) constant learning rate")"
		done
		echo
	} >"$tmp/val-time.gp"
	if gnuplot_alone "$tmp/val-time.gp" 2>"$tmp/gnuplot.err" && mv -f "$tmp/val-time.$ext" "$abl/report/val-time.$ext"; then
		plot=report/val-time.$ext
		cp "$tmp/val-time.gp" "$abl/report/val-time.gp"
	else
		echo "aggregate: gnuplot failed: $(head -n 3 "$tmp/gnuplot.err")" >&2
	fi
fi

"${bin}nash-report" ablation ${plot:+--plot "$plot"} ${NASH_START:+--started "$NASH_START"} "$abl" "$@"
