#!/bin/sh
# Reports over several searches (docs/SEARCH.md "Repeated runs", docs/ABLATION.md):
#
#   aggregate.sh runs RUN NAME...
#       RUN/NAME (run1, run2, ...) are finished searches of `make search RUNS=N`; RUN/ensemble.txt
#       the ensemble of their final networks. Writes RUN/runs.tsv, RUN/summary.txt and
#       RUN/report.md: each run's figures, their mean and sample standard deviation.
#   aggregate.sh ablation DIR NAME...
#       DIR/NAME (seed1, seed2, ...) hold the ablation's variants of one seed each (search,
#       random, const-lr: searches; scratch: one training); DIR/ensemble.txt the ensemble of
#       the searches' final networks. Writes DIR/results.tsv (a row per variant and seed),
#       DIR/report.tsv (the table), DIR/summary.txt, DIR/report/val-time.* (the plot) and
#       DIR/report.md.
#
# NASH_BIN: the tools; NASH_START: when this make started (epoch seconds), for the wall time.
# Every file is written to a temporary and renamed; report.md last (it is make's target).
set -u
bin=${NASH_BIN:+$NASH_BIN/}

die() {
	echo "aggregate: $*" >&2
	exit 1
}

# hms, tsv_col, tsv_cols, mean_sd, pm
. "$(dirname "$0")/common.sh"

# The value of NAME=... in a settings stamp (the stamps are NAME=VALUE words).
setting() {
	tr ' ' '\n' <"$2" | sed -n "s/^$1=//p" | head -n 1
}

# The figure under header NAME of a one-row TSV file, '-' when it is empty.
col() {
	v=$(tsv_col "$1" "$2" 1) || die "$2: no column $1"
	echo "${v:--}"
}

# word N STRING: the Nth word of STRING
word() {
	echo "$2" | cut -d ' ' -f "$1"
}

ens_test() {
	sed -n 's/^test_accuracy=\([0-9.]*\).*/\1/p' "$1"
}

# ---- runs ----

cmd_runs() {
	run=$1
	shift
	tmp=$(mktemp -d "$run/.tmp.XXXXXX") || exit 1
	trap 'rm -rf "$tmp"' EXIT
	printf 'run\tseed\tseed_test\tfinal_test\tensemble_test\tparams\ttrain_seconds\n' >"$tmp/runs.tsv"
	for name in "$@"; do
		r=$run/$name/result.tsv
		[ -f "$r" ] || die "$r is missing"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$(setting SEED "$run/$name/settings/init")" \
			"$(col seed_test "$r")" "$(col final_test "$r")" "$(col ensemble_test "$r")" "$(col params "$r")" \
			"$(col train_seconds "$r")" >>"$tmp/runs.tsv"
	done
	n=$#
	stats() { # column NAME of runs.tsv -> mean, sd, n of its values
		c=$(tsv_cols "$tmp/runs.tsv" "$1") || exit 1
		awk -F '\t' -v c="$c" 'NR > 1 { print $c }' "$tmp/runs.tsv" | mean_sd "${2:-1}"
	}
	st=$(stats final_test) && final_m=$(word 1 "$st") final_sd=$(word 2 "$st") || exit 1
	st=$(stats ensemble_test) && ens_m=$(word 1 "$st") ens_sd=$(word 2 "$st") || exit 1
	st=$(stats seed_test) && seed_m=$(word 1 "$st") seed_sd=$(word 2 "$st") || exit 1
	st=$(stats train_seconds) && secs_m=$(word 1 "$st") || exit 1
	cross=$(ens_test "$run/ensemble.txt")
	cross_n=$(sed -n 's/^ensemble of \([0-9]*\).*/\1/p' "$run/ensemble.txt")
	best=$(awk -F '\t' -v c="$(tsv_cols "$tmp/runs.tsv" final_test)" 'NR > 1 && $c != "-" && $c > b { b = $c } END { print b }' "$tmp/runs.tsv")
	gain=$(awk -v e="$cross" -v b="$best" 'BEGIN { if (e != "" && b != "") printf "%+.2f", 100 * (e - b) }')

	{
		echo "repeated search done: $run ($n runs, seeds $(awk -F '\t' 'NR > 1 { printf "%s%s", (NR > 2 ? " " : ""), $2 }' "$tmp/runs.tsv"))"
		awk -F '\t' 'NR > 1 { printf "  %-6s seed %-6s final test %s  snapshot ensemble %s  %s params\n", $1, $2, $4, $5, $6 }' "$tmp/runs.tsv"
		printf '  mean ± sd   final test %s  snapshot ensemble %s  (sample sd over %d runs)\n' \
			"$(pm "$final_m" "$final_sd" 4)" "$(pm "$ens_m" "$ens_sd" 4)" "$n"
		printf '  ensemble of the %s final networks: test %s%s\n' "${cross_n:-?}" "${cross:--}" \
			"${gain:+  ($gain points over the best run)}"
		echo "  report: $run/report.md"
	} >"$tmp/summary.txt" || exit 1

	{
		echo "# NASH: $n searches, $run"
		echo
		echo "The same search with the seeds $(awk -F '\t' 'NR > 1 { printf "%s%s", (NR > 2 ? ", " : ""), $2 }' "$tmp/runs.tsv") (\`$run/settings/run\`):"
		echo
		echo '```'
		tr ' ' '\n' <"$run/settings/run" | grep -v '^$'
		echo '```'
		echo
		echo "| run | seed | seed network test | final network test | snapshot ensemble test | params | training time |"
		echo "|---|---|---|---|---|---|---|"
		awk -F '\t' 'NR > 1 { printf "| [%s](%s/report.md) | %s | %s | %s | %s | %s | %.0f s |\n", $1, $1, $2, $3, $4, $5, $6, $7 }' "$tmp/runs.tsv"
		echo "| mean ± sd | | $(pm "$seed_m" "$seed_sd" 4) | $(pm "$final_m" "$final_sd" 4) | $(pm "$ens_m" "$ens_sd" 4) | | $(pm "$secs_m" - 0) s |"
		echo
		echo "Mean and sample standard deviation (n - 1) over the $n runs. Accuracies on the test set;"
		echo "training time: every training of a run (seed network, children, final network), in seconds."
		echo
		echo "## The ensemble across the runs"
		echo
		echo "The ${cross_n:-?} final networks (\`runI/final.h5\`, each of its own architecture) averaged"
		echo "(\`ensemble.h5\`, nash-ensemble): test accuracy **${cross:--}**${gain:+, $gain percentage points over the best single run (${best})}."
		echo
		echo '```'
		cat "$run/ensemble.txt"
		echo '```'
	} >"$tmp/report.md" || exit 1
	mv -f "$tmp/runs.tsv" "$run/runs.tsv" && mv -f "$tmp/summary.txt" "$run/summary.txt" &&
		mv -f "$tmp/report.md" "$run/report.md" || die "cannot write the report"
}

# ---- ablation ----

# variant, its letter in the paper's terms, what it is
variants() {
	printf '%s\n' "search	(a)	the search as configured" \
		"random	(b)	random: NEIGH=1, the child always taken (no model selection)" \
		"const-lr	(c)	children at a constant learning rate (no SGDR)" \
		"scratch	(d)	(a)'s network retrained from scratch" \
		"seed-only	(e)	no search: the seed network trained for (a)'s training time"
}

cmd_ablation() {
	abl=$1
	shift
	[ $# -gt 0 ] || die "ablation: no seeds"
	mkdir -p "$abl/report" || exit 1
	tmp=$(mktemp -d "$abl/.tmp.XXXXXX") || exit 1
	trap 'rm -rf "$tmp"' EXIT
	scratch_mode=$(setting ABL_SCRATCH "$abl/settings/ablation")

	# results.tsv: a row per variant and seed
	printf 'variant\tseed\ttest_accuracy\ttest_error\tparams\tepochs\ttrain_seconds\n' >"$tmp/results.tsv"
	for name in "$@"; do
		home=$abl/$name
		seed=$(setting SEED "$home/settings/init")
		for v in search random const-lr; do
			r=$home/$v/result.tsv
			[ -f "$r" ] || die "$r is missing"
			printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$seed" "$(col final_test "$r")" "$(col params "$r")" "$(col epochs "$r")" \
				"$(col train_seconds "$r")"
		done
		for v in scratch seed-only; do
			"${bin}nash-show" --tsv "$home/$v/final.h5" >"$tmp/$v.tsv" || die "cannot read $home/$v/final.h5"
			printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$seed" "$(col test_accuracy "$tmp/$v.tsv")" \
				"$(col params "$tmp/$v.tsv")" "$(col epochs "$tmp/$v.tsv")" "$(col total_seconds "$tmp/$v.tsv")"
		done
	done | awk -F '\t' -v OFS='\t' '{ e = ($3 == "-") ? "-" : sprintf("%.4f", 1 - $3); print $1, $2, $3, e, $4, $5, $6 }' \
		>>"$tmp/results.tsv"

	# report.tsv: per variant, over the seeds: test error (%) mean and sd, the paired difference
	# to (a) (same seed) mean and sd, parameters, epochs and training seconds (means)
	awk -F '\t' -v OFS='\t' '
		NR == 1 { next }
		{
			v = $1; n[v]++; s = $2
			if ($4 != "-") { e[v, n[v]] = 100 * $4; ok[v]++ }
			err[v, s] = $4; params[v] += $5; epochs[v] += $6; secs[v] += $7; seeds[s]
		}
		function msd(v, arr, cnt,    i, m, q) {
			m = 0; for (i = 1; i <= cnt; i++) m += arr[v, i]; m /= cnt
			q = 0; for (i = 1; i <= cnt; i++) q += (arr[v, i] - m) ^ 2
			return sprintf("%.2f\t%s", m, cnt > 1 ? sprintf("%.2f", sqrt(q / (cnt - 1))) : "-")
		}
		END {
			print "variant", "seeds", "test_error_mean", "test_error_sd", "vs_search_mean", "vs_search_sd", "params_mean", "epochs_mean", "train_seconds_mean"
			split("search random const-lr scratch seed-only", order, " ")
			for (o = 1; o <= 5; o++) {
				v = order[o]
				if (!(v in n)) continue
				te = ok[v] ? msd(v, e, ok[v]) : "-\t-"
				k = 0
				for (s in seeds) if (err[v, s] != "-" && err["search", s] != "-" && err[v, s] != "" && err["search", s] != "") d[v, ++k] = 100 * (err[v, s] - err["search", s])
				dd = (v == "search") ? "-\t-" : (k ? msd(v, d, k) : "-\t-")
				printf "%s\t%d\t%s\t%s\t%.0f\t%.1f\t%.0f\n", v, n[v], te, dd, params[v] / n[v], epochs[v] / n[v], secs[v] / n[v]
			}
		}' "$tmp/results.tsv" >"$tmp/report.tsv" || die "cannot make the table"

	# Does the search beat no search? (a) against (e), paired by seed.
	verdict=$(awk -F '\t' 'NR > 1 && $4 != "-" { e[$1, $2] = $4; seeds[$2] }
		END {
			for (s in seeds) if ((("search", s) in e) && (("seed-only", s) in e)) { d = 100 * (e["seed-only", s] - e["search", s]); n++; sum += d; x[n] = d; if (d > 0) w++ }
			if (!n) { print "No seed has both (a) and (e): no verdict on search against no search."; exit }
			m = sum / n; q = 0; for (i = 1; i <= n; i++) q += (x[i] - m) ^ 2
			sd = n > 1 ? sprintf(" ± %.2f", sqrt(q / (n - 1))) : ""
			am = (m < 0) ? -m : m; how = (m > 0) ? "less" : "more"
			if (m > 0 && w == n) say = "The search beats no search here."
			else if (m <= 0) say = "The search does not beat no search here."
			else say = "The search is not better on every seed."
			printf "**Search against no search:** (a)'"'"'s final network has %.2f%s points %s test error than (e), the seed network trained for the same training time without any search; (a) is better on %d of %d seeds. %s\n", am, sd, how, w, n, say
		}' "$tmp/results.tsv") || die "cannot compare (a) with (e)"
	cross=$(ens_test "$abl/ensemble.txt")
	cross_n=$(sed -n 's/^ensemble of \([0-9]*\).*/\1/p' "$abl/ensemble.txt")
	st=$(for name in "$@"; do sed -n 's/.*test_accuracy=\([0-9.]*\).*/\1/p' "$abl/$name/step0/test.txt"; done |
		awk '{ print 1 - $1 }' | mean_sd 100)
	seed_m=$(word 1 "$st") seed_sd=$(word 2 "$st") nseeds=$#
	wall=
	[ -n "${NASH_START:-}" ] && wall=$(hms $(($(date +%s) - NASH_START)))
	total=$(awk -F '\t' 'NR > 1 { s += $7 } END { printf "%.0f", s }' "$tmp/results.tsv")
	# the shared pretraining is counted in (a), (b) and (c) each: add it back once only
	pre=$(for name in "$@"; do "${bin}nash-show" --tsv "$abl/$name/step0/best.h5" | awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "total_seconds") c = i } NR == 2 { print $c }'; done |
		awk '{ s += $1 } END { printf "%.0f", s }')
	total=$(awk -v t="$total" -v p="$pre" 'BEGIN { printf "%.0f", t - 2 * p }')

	# The plot: validation accuracy of the best network after each step against the cumulative
	# training time, (a) against (c), one line per seed (report/steps.dat of each search).
	plot=
	if command -v gnuplot >/dev/null 2>&1; then
		ext=png term='pngcairo size 900,500 font "Helvetica,11"'
		gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo || { ext=svg term='svg size 900,500 font "Helvetica,12"'; }
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
		if gnuplot "$tmp/val-time.gp" 2>"$tmp/gnuplot.err" && mv -f "$tmp/val-time.$ext" "$abl/report/val-time.$ext"; then
			plot=report/val-time.$ext
			cp "$tmp/val-time.gp" "$abl/report/val-time.gp"
		else
			echo "aggregate: gnuplot failed: $(head -n 3 "$tmp/gnuplot.err")" >&2
		fi
	fi

	# the table's rows, for the summary and the report: letter, what, columns of report.tsv
	variants >"$tmp/variants.tsv"
	rows() { # FORMAT: md or txt
		awk -F '\t' -v fmt="$1" '
			function hms(s) { s = int(s + 0.5); return s >= 3600 ? sprintf("%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60) : s >= 60 ? sprintf("%dm%02ds", s / 60, s % 60) : s "s" }
			FNR == NR { letter[$1] = $2; what[$1] = $3; next }
			FNR == 1 { next }
			{
				err = ($3 == "-") ? "-" : ($4 == "-" ? $3 : $3 " ± " $4)
				vs = ($5 == "-") ? "-" : ($6 == "-" ? sprintf("%+.2f", $5) : sprintf("%+.2f ± %.2f", $5, $6))
				if (fmt == "md") printf "| %s %s | %s | %s | %d | %.1f | %s | %d |\n", letter[$1], what[$1], err, vs, $7, $8, hms($9), $2
				else printf "  %s %-10s test error %-14s vs (a) %-14s %7d params  %8s training  %d seed%s\n", letter[$1], $1, err "%", vs, $7, hms($9), $2, $2 == 1 ? "" : "s"
			}' "$tmp/variants.tsv" "$tmp/report.tsv"
	}

	{
		echo "ablation done: $abl ($nseeds seed$([ "$nseeds" = 1 ] || echo s); $(hms "$total") of training${wall:+, this make: $wall wall})"
		rows txt
		echo "  $verdict" | sed 's/\*\*//g'
		printf '  seed network (shared)  test error %s%%\n' "$(pm "$seed_m" "$seed_sd" 2)"
		printf '  ensemble of (a)'\''s %s final networks: test error %s%%\n' "${cross_n:-?}" \
			"$(awk -v a="${cross:-}" 'BEGIN { if (a != "") printf "%.2f", 100 * (1 - a); else print "-" }')"
		echo "  report: $abl/report.md"
	} >"$tmp/summary.txt" || exit 1

	{
		echo "# NASH ablation: $abl"
		echo
		echo "The paper's baselines on the same data and budget, $nseeds seeds ($(awk -F '\t' 'NR > 1 && $1 == "search" { printf "%s%s", (c++ ? ", " : ""), $2 }' "$tmp/results.tsv")); docs/ABLATION.md describes the variants."
		echo "Settings (\`$abl/settings/run\`):"
		echo
		echo '```'
		tr ' ' '\n' <"$abl/settings/run" | grep -v '^$'
		echo '```'
		echo
		echo "## Table"
		echo
		echo "| variant | test error (%) | vs (a), same seed (points) | params | epochs | training time per seed | seeds |"
		echo "|---|---|---|---|---|---|---|"
		rows md
		echo
		echo "Test error: 1 - test accuracy of the variant's final network, in percent, mean ± sample"
		echo "standard deviation (n - 1) over the seeds; \"vs (a)\": the difference to (a) on the same seed"
		echo "(the same seed network), mean ± sd of the differences, negative = better than (a). Params,"
		echo "epochs (of the final network's whole training record): means. Training time: the sum of the"
		echo "seconds of every training of the variant (the pretraining of the shared seed network counted"
		echo "in (a), (b) and (c) each, as each needs it; (d) and (e): each its one training, which needs (a)'s search"
		echo "to exist), mean per seed. (d) was trained for ABL_SCRATCH=$scratch_mode epochs."
		echo
		echo "$verdict"
		echo
		echo "The seed network (pretrained, shared by (a), (b), (c)): test error $(pm "$seed_m" "$seed_sd" 2)%."
		echo "The ensemble of (a)'s ${cross_n:-?} final networks across the seeds (\`ensemble.h5\`): test error"
		echo "$(awk -v a="${cross:-}" 'BEGIN { if (a != "") printf "%.2f", 100 * (1 - a); else print "-" }')%."
		echo
		echo "All trainings: $(hms "$total") (the shared pretraining once)${wall:+; wall time of the make that finished the ablation: $wall}."
		echo
		if [ -n "$plot" ]; then
			echo "![validation accuracy against training time, (a) and (c)]($plot)"
			echo
			echo "The best network's validation accuracy after each step (step 0: the seed network) against the"
			echo "cumulative training time of the search's models, one line per seed: (a) trains every child"
			echo "with a cosine restarted at LR_START (SGDR), (c) at a constant LR_START."
			echo
		fi
		echo "## Per seed"
		echo
		echo "| seed | $(variants | awk -F '\t' '{ printf "%s%s %s", (NR > 1 ? " | " : ""), $2, $1 }') |"
		echo "|---|---|---|---|---|---|"
		awk -F '\t' 'NR > 1 { e[$2, $1] = $4; p[$2, $1] = $5; if (!($2 in seen)) { seen[$2]; order[++n] = $2 } }
			END {
				for (i = 1; i <= n; i++) {
					s = order[i]; printf "| %s", s
					split("search random const-lr scratch seed-only", v, " ")
					for (j = 1; j <= 5; j++) printf " | %s", (e[s, v[j]] == "-" || e[s, v[j]] == "") ? "-" : sprintf("%.2f%% (%d params)", 100 * e[s, v[j]], p[s, v[j]])
					print " |"
				}
			}' "$tmp/results.tsv"
		echo
		echo "Each search's own report: \`seedS/VARIANT/report.md\`; the figures: \`results.tsv\`, the table: \`report.tsv\`."
	} >"$tmp/report.md" || exit 1
	mv -f "$tmp/results.tsv" "$abl/results.tsv" && mv -f "$tmp/report.tsv" "$abl/report.tsv" &&
		mv -f "$tmp/summary.txt" "$abl/summary.txt" && mv -f "$tmp/report.md" "$abl/report.md" ||
		die "cannot write the report"
}

case ${1:-} in
runs) shift; [ $# -ge 2 ] || die "usage: aggregate.sh runs RUN NAME..."; cmd_runs "$@" ;;
ablation) shift; [ $# -ge 2 ] || die "usage: aggregate.sh ablation DIR NAME..."; cmd_ablation "$@" ;;
*) die "usage: aggregate.sh runs|ablation DIR NAME..." ;;
esac
