#!/usr/bin/env bats
# The man pages (docs/man): one per program, rendered without warnings, every option of the
# program's --help documented.
load common

MAN="$BATS_TEST_DIRNAME/../../docs/man"

@test "every program has a man page and every page a program" {
	for t in "$BATS_TEST_DIRNAME"/../../tools/nash-*.c; do
		name=$(basename "$t" .c)
		[ -f "$MAN/$name.1" ] || fail "tools/$name.c has no docs/man/$name.1"
	done
	for p in "$MAN"/*.1; do
		name=$(basename "$p" .1)
		[ -f "$BATS_TEST_DIRNAME/../../tools/$name.c" ] || fail "docs/man/$name.1 has no tools/$name.c"
	done
}

@test "man pages pass mandoc -Tlint and groff -ww without a warning, with every section" {
	command -v mandoc >/dev/null || fail "mandoc is missing (tests/deps.sh installs it)"
	for p in "$MAN"/*.1; do
		run -0 mandoc -Tlint -W warning "$p"
		assert_output ""
		run -0 env LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$p"
		assert_output ""
		for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
			grep -q "^\.SH \"\?$s\"\?\$" "$p" || fail "$(basename "$p"): no section $s"
		done
	done
}

@test "each page documents every option its program's --help lists" {
	for p in "$MAN"/*.1; do
		name=$(basename "$p" .1)
		page=$(MANWIDTH=300 man -l "$p" 2>/dev/null)
		for opt in $("$name" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
			case $page in
			*"$opt"*) ;;
			*) fail "$name --help lists $opt, docs/man/$name.1 does not" ;;
			esac
		done
	done
}
