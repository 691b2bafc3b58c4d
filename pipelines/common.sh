# Shell functions of pipelines/search.sh, which the tests use too (sourced; POSIX sh).

hms() { # seconds -> 1h02m03s / 2m03s / 3s; '?' for anything else (a figure that is missing)
	s=${1%.*}
	case $s in '' | *[!0-9]*) printf '?' && return 1 ;; esac
	if [ "$s" -ge 3600 ]; then printf '%dh%02dm%02ds' $((s / 3600)) $((s / 60 % 60)) $((s % 60))
	elif [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60))
	else printf '%ds' "$s"; fi
}

# tsv_col NAME FILE ROW: the field under the header NAME in row ROW (1 = the first after the
# header) of the tab-separated FILE; empty when the row is missing. A column that is not in
# the header is an error (a renamed column must not read as an empty field).
tsv_col() {
	awk -F '\t' -v name="$1" -v row="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) col = i
			if (!col) { print "no column " name " in " FILENAME > "/dev/stderr"; exit 1 } next }
		NR == row + 1 { print $col; exit }' "$2"
}

# gnuplot ARGS...: gnuplot in a session of its own. gnuplot catches SIGINT and jumps back to its
# command loop from wherever it was: a Ctrl-C that came while it allocated memory left it
# waiting forever on the allocator's lock, and the search that waits for it with it (a test's
# random Ctrl-C found one). Out of the process group, the terminal's Ctrl-C and a signal to the
# group do not reach it; it takes a fraction of a second, and the caller's trap ends the script
# after it. (setsid -w: a process group's leader is forked first, and waited for.)
gnuplot_alone() {
	if command -v setsid >/dev/null 2>&1; then
		setsid -w gnuplot "$@"
	else
		gnuplot "$@"
	fi
}

# parent_dir PATH: pdir = the directory PATH is in, as dirname says, without starting a program
# (the pipeline's recipes run many times; a file's path, not one ending in /).
parent_dir() {
	case $1 in
	*/*)
		pdir=${1%/*}
		[ -n "$pdir" ] || pdir=/
		;;
	*) pdir=. ;;
	esac
}
