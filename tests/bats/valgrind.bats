#!/usr/bin/env bats
# The readers and writers under valgrind's memcheck, on small files: no read or write outside
# what was allocated, no decision on and no byte written from memory never initialised
# (uninitialised bytes written to a file or a pipe, or summed into a weight, would make two
# runs of the same command differ). Leaks are not counted: a tool frees what it must before it
# exits, not everything. No suppressions: every library the tools load (HDF5, OpenBLAS,
# oneDNN's JIT code, libgomp) runs clean here on these files.
load common
load report

setup_file() {
	command -v valgrind >/dev/null 2>&1 || return 0
	d=$BATS_FILE_TMPDIR
	# Under memcheck a program runs some 50 times slower: the trainings and evaluations run on a
	# dataset of 60 8x8 images of 2 classes (dark, light: learnable in an epoch, so that no
	# training collapses), whose code paths are those of any other (nash-data pack, the same
	# reader); the built-in formats' readers are the nash-data test's.
	/usr/bin/python3 -c 'import os, random, sys
from PIL import Image
r = random.Random(1)
for k, c in enumerate(("dark", "light")):
    os.makedirs(os.path.join(sys.argv[1], c))
    for i in range(30):
        px = bytes(r.randrange(128 * k, 128 * k + 128) for _ in range(64))
        Image.frombytes("L", (8, 8), px).save(os.path.join(sys.argv[1], c, "%02d.png" % i))' "$d/img"
	nash-data pack "$d/img" -o "$d/tiny.h5" 2>/dev/null
	TINY=h5:$d/tiny.h5
	# 20 validation images: the evaluation after each epoch is short under valgrind too
	nash-init --dataset "$TINY" --widths 4,8 --val 20 -o "$d/seed.h5"
	# a small child with every op (deeper, wider, skip-add, skip-concat)
	nash-morph -n 4 --seed 3 -o "$d/child.h5" "$d/seed.h5" 2>/dev/null
	# trained outside valgrind, for the tools that read trained models
	nash-train --data "$TINY" --limit 32 --batch 16 -o "$d/trained.h5" "$d/child.h5" >/dev/null 2>&1
}

setup() {
	command -v valgrind >/dev/null 2>&1 || skip "valgrind is not installed (apt-get install valgrind)"
	d=$BATS_FILE_TMPDIR
	TINY=h5:$d/tiny.h5
}

# The command under memcheck; any error it finds is exit status 99 (--track-origins=yes says
# where an uninitialised value came from, at half the speed: for a failure's diagnosis).
# nash-train and nash-ensemble set OMP_WAIT_POLICY and OPENBLAS_NUM_THREADS and re-execute
# themselves, which valgrind cannot follow (/proc/self/exe is valgrind itself): set
# beforehand, they keep them and run on.
vg() {
	OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=1 valgrind -q --error-exitcode=99 "$@"
}

@test "valgrind: nash-init, nash-morph and nash-show write and read models cleanly" {
	run -0 vg nash-init --dataset "$TINY" --widths 4,8 --val 20 -o "$BATS_TEST_TMPDIR/seed.h5"
	cmp "$BATS_TEST_TMPDIR/seed.h5" "$d/seed.h5"
	run -0 vg nash-morph -n 4 --seed 3 -o "$BATS_TEST_TMPDIR/child.h5" "$d/seed.h5"
	cmp "$BATS_TEST_TMPDIR/child.h5" "$d/child.h5"
	run -0 vg nash-show "$d/child.h5"
	assert_output --partial "concat"
	run -0 vg nash-show --tsv "$d/seed.h5" "$d/child.h5"
	[ "${#lines[@]}" -eq 3 ]
}

@test "valgrind: nash-data convert writes and nash-data info reads a dataset file cleanly" {
	run -0 vg nash-data convert "$FMNIST" -o "$BATS_TEST_TMPDIR/fmnist.h5"
	run -0 vg nash-data info "$BATS_TEST_TMPDIR/fmnist.h5"
	assert_output --partial "fashion-mnist"
}

@test "valgrind: nash-train on every CPU engine, with a checkpoint, and the model it writes read back" {
	t=$BATS_TEST_TMPDIR
	for dev in ref cpu-blas; do
		run -0 vg nash-train --data "$TINY" --device "$dev" --threads 2 --limit 16 --batch 16 \
			-o "$t/$dev.h5" "$d/child.h5"
	done
	# the checkpoint's writer is the same for every engine: once, on the default one
	run -0 vg nash-train --data "$TINY" --device cpu --threads 2 --limit 16 --batch 16 --epochs 2 \
		--checkpoint "$t/cpu-ck.h5" -o "$t/cpu.h5" "$d/child.h5"
	[ -f "$t/cpu-ck.h5" ]
	run -0 vg nash-show "$t/ref.h5" "$t/cpu-blas.h5" "$t/cpu.h5"
	assert_output --partial "2 epochs"
}

@test "valgrind: nash-ensemble, nash-select and nash-export" {
	t=$BATS_TEST_TMPDIR
	run -0 vg nash-ensemble --data "$TINY" --threads 1 -o "$t/ens.h5" "$d/trained.h5" "$d/seed.h5"
	run -0 vg nash-show "$t/ens.h5"
	run -0 vg nash-select -o "$t/best.h5" "$d/trained.h5" "$d/seed.h5"
	cmp "$t/best.h5" "$d/trained.h5"
	# a search step: the table, the winner, the progress line
	NASH_START=1 run -0 vg nash-select --step 1 --steps 2 --label r/ --table "$t/select.tsv" -o "$t/best.h5" \
		"$d/trained.h5" "$d/seed.h5"
	assert_output --partial "r: step 1/2: best val "
	run -0 vg nash-export --onnx -o "$t/a.onnx" "$d/trained.h5"
	run -0 vg nash-export --onnx --tta flip-shift -o "$t/b.onnx" "$d/trained.h5"
}

@test "valgrind: nash-report reads a search, repeated searches and an ablation cleanly" {
	t=$BATS_TEST_TMPDIR
	hand_made_search "$t/r"
	hand_made_runs "$t/runs"
	run -0 vg nash-report plot-data "$t/r" 2
	# each command once (a valgrind run costs seconds: what the options change is ordinary
	# code, which nash-report.bats covers)
	run -0 vg nash-report search --final-on all "$t/r" 2
	run -0 vg nash-report runs "$t/runs" run1 run2 run3
	# the decisions: a step's seconds estimated from its table, a stop recorded; the budgets
	run -0 vg nash-report climb --max-steps 3 --jobs 2 --neigh 2 "$t/r" 2
	run -0 vg nash-report climb --max-steps 2 "$t/r" 2
	run -0 vg nash-report check-budget --label r/ "$t/r/step0/best.h5" 4x
	if have_h5py; then
		hand_made_ablation "$t/abl"
		run -0 vg nash-report ablation "$t/abl" seed1 seed2
	fi
}

@test "valgrind: a reader's error crosses the isolating process's pipe with no uninitialised byte" {
	have_h5py || skip "python3-h5py not installed"
	# an add of two inputs of different shapes: the reader's graph check fails in the forked
	# child, which sends its error, file name prefixed, through the pipe (lib/base/isolate.c)
	cp "$d/child.h5" "$BATS_TEST_TMPDIR/bad.h5"
	add=$(h5ls "$d/child.h5/graph" | awk '$1 ~ /_add$/ { print $1; exit }')
	/usr/bin/python3 "$BATS_TEST_DIRNAME/hostile.py" attr "$BATS_TEST_TMPDIR/bad.h5" "graph/$add" inputs str \
		"000_input,001_conv"
	run -1 vg nash-show "$BATS_TEST_TMPDIR/bad.h5"
	refute_output --partial "uninitialised" # memcheck's report of the child (which exits 99)
	assert_output --regexp "^nash-show: .*bad\.h5: graph/$add: add of shapes [0-9x]+ and [0-9x]+$"
	run -1 vg nash-train --data "$TINY" -o "$BATS_TEST_TMPDIR/out.h5" "$BATS_TEST_TMPDIR/bad.h5"
	assert_output --partial "graph/$add: add of shapes"
}
