#!/usr/bin/env bats
# make install PREFIX=... (and DESTDIR): the programs, the library, the man pages and the search
# pipeline, which then runs from any directory with make -f PREFIX/share/nash/search.mk.
load common

TOP="$BATS_TEST_DIRNAME/../.."

@test "make install puts the programs, man pages and the pipeline under PREFIX" {
	p=$BATS_TEST_TMPDIR/prefix
	run -0 make -C "$TOP" --no-print-directory -s install BUILD="$NASH_BUILD" PREFIX="$p"
	for t in "$TOP"/tools/nash-*.c; do
		name=$(basename "$t" .c)
		[ -x "$p/bin/$name" ] || fail "no $p/bin/$name"
		[ -f "$p/share/man/man1/$name.1" ] || fail "no man page $p/share/man/man1/$name.1"
	done
	for f in search.mk ablation.mk search.sh climb.sh report.sh aggregate.sh common.sh gpu.sh; do [ -f "$p/share/nash/$f" ] || fail "no $p/share/nash/$f"; done
	# the programs hold libnash (and HDF5): they run from anywhere, loading no nash library;
	# only those that train load the engines' libraries
	run -0 env -u LD_LIBRARY_PATH ldd "$p/bin/nash-train"
	refute_output --partial "libnash"
	assert_output --partial "libdnnl"
	run -0 env -u LD_LIBRARY_PATH ldd "$p/bin/nash-show"
	refute_output --regexp 'libnash|libdnnl|libopenblas|libcudnn|libcudart|libcurl'
	run -0 "$p/bin/nash-show" --version
	run -0 man -l "$p/share/man/man1/nash-train.1"
	assert_output --partial "nash-train"
}

@test "DESTDIR: files under DESTDIR, paths inside them name PREFIX" {
	d=$BATS_TEST_TMPDIR/stage
	run -0 make -C "$TOP" --no-print-directory -s install BUILD="$NASH_BUILD" PREFIX=/opt/nash DESTDIR="$d"
	[ -x "$d/opt/nash/bin/nash-init" ]
	[ -f "$d/opt/nash/share/man/man1/nash-init.1" ]
	run -0 grep -x 'BIN ?= /opt/nash/bin' "$d/opt/nash/share/nash/search.mk"
}

@test "a tiny search runs from another directory with the installed pipeline" {
	p=$BATS_TEST_TMPDIR/prefix
	make -C "$TOP" --no-print-directory -s install BUILD="$NASH_BUILD" PREFIX="$p" >/dev/null
	mkdir "$BATS_TEST_TMPDIR/work"
	cd "$BATS_TEST_TMPDIR/work"
	run env PATH=/usr/bin:/bin make -f "$p/share/nash/search.mk" search STEPS=1 NEIGH=1 MORPHS=1 EPOCHS_SEED=1 EPOCHS_NEIGH=1 \
		EPOCHS_FINAL=1 LIMIT=300 VAL=200 DATA="$FMNIST" RUN=runs/tiny
	assert_success # shows make's output when it failed
	assert_output --partial "search done: runs/tiny"
	[ -f runs/tiny/final.h5 ] && [ -f runs/tiny/report.md ]
	# made by the installed programs: nothing was built here, and the build is not on PATH
	[ ! -e build ]
	run -0 "$p/bin/nash-show" --tsv runs/tiny/final.h5
	assert_output --partial "fashion-mnist"
	# a second run has nothing to do
	run -0 env PATH=/usr/bin:/bin make -f "$p/share/nash/search.mk" search STEPS=1 NEIGH=1 MORPHS=1 EPOCHS_SEED=1 EPOCHS_NEIGH=1 \
		EPOCHS_FINAL=1 LIMIT=300 VAL=200 DATA="$FMNIST" RUN=runs/tiny
	refute_output --partial "step1/child1: val"
	# the ablation and repeated searches are planned from the installed files too
	run -0 env PATH=/usr/bin:/bin make -f "$p/share/nash/search.mk" -n ablation-run DATA="$FMNIST" ABL_DIR=runs/abl
	assert_output --partial "$p/share/nash/aggregate.sh ablation runs/abl seed1 seed2 seed3 seed4 seed5"
	assert_output --partial "$p/bin/nash-init --like runs/abl/seed5/search/step2/best.h5"
	run -0 env PATH=/usr/bin:/bin make -f "$p/share/nash/search.mk" -n search-run DATA="$FMNIST" RUN=runs/r3 RUNS=3
	assert_output --partial "$p/bin/nash-report runs runs/r3 run1 run2 run3"
}
