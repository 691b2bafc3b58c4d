#!/usr/bin/env bats
load common

# Trained models on the fixture data, made once per file: a (2 epochs), b (1 epoch, lr 0.01),
# a copy of a under another name, and a wider child of a evaluated without training (the same
# function as a, hence the same accuracy, with more parameters).
setup_file() {
	d=$BATS_FILE_TMPDIR
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 -o "$d/seed.h5"
	nash-train --data "$FMNIST" --limit 256 --batch 32 --epochs 2 -o "$d/a.h5" "$d/seed.h5" >/dev/null 2>&1
	nash-train --data "$FMNIST" --limit 256 --batch 32 --epochs 1 --lr 0.01 -o "$d/b.h5" "$d/seed.h5" >/dev/null 2>&1
	cp "$d/a.h5" "$d/a2.h5"
	nash-morph -n 1 --op wider --seed 3 -o "$d/wide.h5" "$d/a.h5" 2>/dev/null
	nash-train --data "$FMNIST" --epochs 0 -o "$d/wide-eval.h5" "$d/wide.h5" >/dev/null 2>&1
}

@test "nash-select --help and --version" {
	run -0 nash-select --help
	assert_output --partial "Usage: nash-select"
	assert_output --partial "--mark-failed"
	run -0 nash-select --version
	assert_output --partial "nash-select (nash)"
}

@test "nash-select usage errors exit 2" {
	run -2 nash-select
	assert_output --partial "missing MODEL"
	run -2 nash-select --metric loss "$BATS_FILE_TMPDIR/a.h5"
	assert_output --partial "--metric: 'loss'"
	run -2 nash-select - - </dev/null
	assert_output --partial "standard input"
	run -2 nash-select --mark-failed why "$BATS_FILE_TMPDIR/a.h5" "$BATS_FILE_TMPDIR/b.h5"
	assert_output --partial "exactly one MODEL"
	run -2 nash-select --frobnicate "$BATS_FILE_TMPDIR/a.h5"
}

@test "nash-select on a missing file fails with exit 1 naming it, writing nothing" {
	run -1 nash-select -o "$BATS_TEST_TMPDIR/best.h5" "$BATS_FILE_TMPDIR/a.h5" "$BATS_TEST_TMPDIR/missing.h5"
	assert_output --partial "missing.h5"
	[ ! -e "$BATS_TEST_TMPDIR/best.h5" ]
}

@test "nash-select on a non-HDF5 file fails with exit 1 naming it" {
	echo "not a model" >"$BATS_TEST_TMPDIR/junk.h5"
	run -1 nash-select -o "$BATS_TEST_TMPDIR/best.h5" "$BATS_TEST_TMPDIR/junk.h5" "$BATS_FILE_TMPDIR/a.h5"
	assert_output --partial "junk.h5: not an HDF5 file"
	[ ! -e "$BATS_TEST_TMPDIR/best.h5" ]
	: >"$BATS_TEST_TMPDIR/empty.h5"
	run -1 nash-select "$BATS_TEST_TMPDIR/empty.h5"
	assert_output --partial "empty.h5"
}

@test "nash-select ranks by val accuracy, prints the table and the winner's path, copies it" {
	d=$BATS_FILE_TMPDIR
	run -0 --separate-stderr nash-select -o "$BATS_TEST_TMPDIR/best.h5" "$d/b.h5" "$d/a.h5"
	# the path is the only thing on stdout
	assert_output "$d/a.h5"
	# the table on stderr: a header, a first, b second
	[[ "${stderr_lines[0]}" == rank* ]]
	[[ "${stderr_lines[1]}" == *"$d/a.h5"* ]]
	[[ "${stderr_lines[2]}" == *"$d/b.h5"* ]]
	cmp "$d/a.h5" "$BATS_TEST_TMPDIR/best.h5"
	# no temporary left behind
	run -0 find "$BATS_TEST_TMPDIR" -name '*.tmp'
	assert_output ""
}

@test "nash-select breaks ties by fewer multiply-adds and parameters, then by name" {
	d=$BATS_FILE_TMPDIR
	a=$(h5dump -a val_accuracy "$d/a.h5" | sed -n 's/.*(0): //p')
	w=$(h5dump -a val_accuracy "$d/wide-eval.h5" | sed -n 's/.*(0): //p')
	[ "$a" = "$w" ] # a morphism preserves the function, hence the accuracy
	run -0 nash-select -q "$d/wide-eval.h5" "$d/a.h5"
	assert_output "$d/a.h5"
	run -0 nash-select -q "$d/a2.h5" "$d/a.h5"
	assert_output "$d/a.h5"
}

# set_val MODEL V: the model's validation accuracy, as a training would have recorded it
set_val() {
	/usr/bin/python3 -c 'import h5py, sys, numpy
with h5py.File(sys.argv[1], "r+") as f: f.attrs["val_accuracy"] = numpy.float32(sys.argv[2])' "$@"
}

# the field NAME of row ROW of a TSV on stdin
col() {
	awk -F '\t' -v name="$1" -v row="$2" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } NR == row + 1 { print $c[name] }'
}

@test "nash-select --tolerance: among the models within T of the best, the one with the fewest multiply-adds" {
	have_h5py || fail "python3-h5py is missing (tests/deps.sh installs it)"
	d=$BATS_FILE_TMPDIR
	t=$BATS_TEST_TMPDIR
	# a as the parent (0.7980), its wider child (more multiply-adds) 0.2 points above it
	cp "$d/a.h5" "$t/p.h5"
	cp "$d/wide-eval.h5" "$t/w.h5"
	set_val "$t/p.h5" 0.798
	set_val "$t/w.h5" 0.8
	pm=$(nash-show --tsv "$t/p.h5" | col macs 1)
	wm=$(nash-show --tsv "$t/w.h5" | col macs 1)
	[ "$pm" -lt "$wm" ]
	run -0 nash-select -q "$t/w.h5" "$t/p.h5"
	assert_output "$t/w.h5"
	run -0 nash-select -q --tolerance 0.0019 "$t/w.h5" "$t/p.h5"
	assert_output "$t/w.h5"
	run -0 --separate-stderr nash-select --tolerance 0.002 -o "$t/best.h5" "$t/w.h5" "$t/p.h5"
	assert_output "$t/p.h5"
	cmp "$t/p.h5" "$t/best.h5"
	# the table says why: its macs column, the winner's note
	[[ "${stderr_lines[0]}" =~ ^rank\ +val_accuracy\ +params\ +macs\ +epochs ]]
	[[ "${stderr_lines[1]}" == *" $pm "*"$t/p.h5"*"[within 0.002 of the best, the fewest multiply-adds]" ]]
	[[ "${stderr_lines[2]}" == *" $wm "*"$t/w.h5"* ]]
	run -0 nash-select --tolerance 0.002 --tsv "$t/w.h5" "$t/p.h5"
	assert_line --index 0 $'rank\tmodel\tval_accuracy\tparams\tmacs\tepochs\tseconds\tsince_parent\tmorphisms\tusable\tnote'
	[ "$(col note 1 <<<"$output")" = "within 0.002 of the best, the fewest multiply-adds" ]
	[ "$(col macs 1 <<<"$output")" = "$pm" ] && [ "$(col macs 2 <<<"$output")" = "$wm" ]
	[ "$(col note 2 <<<"$output")" = - ]
	# a search's step: the parent stays unless a child beats it by more than T
	NASH_START= run -0 --separate-stderr nash-select --step 1 --tolerance 0.002 --table "$t/select.tsv" -o "$t/best.h5" "$t/w.h5" "$t/p.h5"
	assert_equal "$stderr" "step 1: best val 0.7980 (the parent stays), 1 child trained, 0s of training"
	# an exact tie: the fewer multiply-adds, with no tolerance
	set_val "$t/w.h5" 0.798
	run -0 nash-select -q "$t/w.h5" "$t/p.h5"
	assert_output "$t/p.h5"
	# a child that failed never wins, however cheap
	nash-select --mark-failed "nash-train: out of memory" -o "$t/f.h5" "$t/p.h5"
	set_val "$t/w.h5" 0.8
	run -0 nash-select -q --tolerance 0.5 "$t/w.h5" "$t/f.h5"
	assert_output "$t/w.h5"
	# usage errors
	for bad in 1 -0.1 abc 2; do
		run -2 nash-select --tolerance "$bad" "$t/w.h5" "$t/p.h5"
		assert_output --partial "--tolerance: "
	done
}

@test "nash-select ranks failed and untrained models last with a note" {
	d=$BATS_FILE_TMPDIR
	nash-select --mark-failed "loss diverged" -o "$BATS_TEST_TMPDIR/f.h5" "$d/a.h5"
	run -0 h5dump -a failure "$BATS_TEST_TMPDIR/f.h5"
	assert_output --partial "loss diverged"
	run -0 --separate-stderr nash-select "$BATS_TEST_TMPDIR/f.h5" "$d/seed.h5" "$d/b.h5"
	assert_output "$d/b.h5"
	[[ "${stderr_lines[1]}" == *"$d/b.h5"* ]]
	[[ "${stderr_lines[2]}" == *"failed: loss diverged"* || "${stderr_lines[3]}" == *"failed: loss diverged"* ]]
	[[ "$stderr" == *"$d/seed.h5"*"no val_accuracy"* ]]
}

@test "nash-select fails when every model failed or is untrained" {
	d=$BATS_FILE_TMPDIR
	nash-select --mark-failed "crashed" -o "$BATS_TEST_TMPDIR/f.h5" "$d/a.h5"
	run -1 nash-select -o "$BATS_TEST_TMPDIR/best.h5" "$BATS_TEST_TMPDIR/f.h5" "$d/seed.h5"
	assert_output --partial "no model can win: all 2 models failed"
	[ ! -e "$BATS_TEST_TMPDIR/best.h5" ]
}

@test "nash-select --tsv prints the ranked table for scripts" {
	d=$BATS_FILE_TMPDIR
	run -0 nash-select --tsv "$d/b.h5" "$d/a.h5" "$d/seed.h5"
	assert_line --index 0 --regexp $'^rank\tmodel\tval_accuracy\tparams'
	assert_line --index 1 --regexp $'^1\t'"$d/a.h5"$'\t0\\.[0-9]{4}\t'
	assert_line --index 3 --regexp $'^3\t'"$d/seed.h5"$'\t-\t.*\t0\tno val_accuracy'
	[ "${#lines[@]}" -eq 4 ]
}

@test "nash-select counts the morphisms since the parent when the parent is a candidate" {
	d=$BATS_FILE_TMPDIR
	run -0 nash-select --tsv "$d/wide-eval.h5" "$d/a.h5"
	assert_line --regexp $'wide-eval\\.h5\t.*\t1\twider\t1\t-$'
}

@test "nash-select reads a model from stdin and writes the winner to stdout" {
	d=$BATS_FILE_TMPDIR
	run -0 --separate-stderr sh -c "nash-select -q -o - - '$d/b.h5' <'$d/a.h5' >'$BATS_TEST_TMPDIR/out.h5'"
	assert_equal "$stderr" "-"
	cmp "$d/a.h5" "$BATS_TEST_TMPDIR/out.h5"
}

@test "nash-select --mark-failed writes a valid model marked failed" {
	d=$BATS_FILE_TMPDIR
	run -0 nash-select --mark-failed "nash-train: out of memory" -o "$BATS_TEST_TMPDIR/f.h5" "$d/a.h5"
	run -0 h5dump -a failed "$BATS_TEST_TMPDIR/f.h5"
	assert_output --partial "(0): 1"
	# still a model the other tools read
	run -0 nash-show "$BATS_TEST_TMPDIR/f.h5"
	assert_output --partial "failed      nash-train: out of memory"
	run -1 nash-select --mark-failed why -o "$BATS_TEST_TMPDIR/g.h5" "$BATS_TEST_TMPDIR/missing.h5"
	[ ! -e "$BATS_TEST_TMPDIR/g.h5" ]
}

@test "nash-select refuses models it cannot compare: other datasets, other validation splits" {
	d=$BATS_FILE_TMPDIR
	t=$BATS_TEST_TMPDIR
	# evaluated without training, on the validation split and the test set: each has both figures
	nash-init --dataset "$CIFAR10" --widths 4,8 --val 100 -o "$t/c10-seed.h5"
	nash-init --dataset "$CIFAR100" --widths 4,8 --val 100 -o "$t/c100-seed.h5"
	nash-init --dataset "$FMNIST" --widths 4,8 --val 100 -o "$t/f100-seed.h5"
	for m in c10:"$CIFAR10" c100:"$CIFAR100" f100:"$FMNIST" a:"$FMNIST"; do
		in=$t/${m%%:*}-seed.h5
		[ "${m%%:*}" = a ] && in=$d/a.h5 # trained on Fashion-MNIST, 200 held out
		nash-train --data "${m#*:}" --epochs 0 --eval test -o "$t/${m%%:*}.h5" "$in" >/dev/null 2>&1
	done
	run -1 nash-select -o "$t/best.h5" "$t/a.h5" "$t/c10.h5"
	assert_output "nash-select: $t/c10.h5: the model is for cifar10 (3x32x32 images, 10 classes), $t/a.h5 for fashion-mnist (1x28x28 images, 10 classes): models of different datasets cannot be compared"
	run -1 nash-select -o "$t/best.h5" "$t/c10.h5" "$t/c100.h5"
	assert_output --partial "$t/c100.h5: the model is for cifar100 (3x32x32 images, 100 classes), $t/c10.h5 for cifar10 (3x32x32 images, 10 classes)"
	run -1 nash-select -o "$t/best.h5" "$t/a.h5" "$t/f100.h5"
	assert_output "nash-select: $t/f100.h5: holds out 100 validation images, $t/a.h5 holds out 200: their validation accuracies are not on the same images and cannot be compared"
	[ ! -e "$t/best.h5" ]
	# on the test set the validation split does not matter; the dataset does
	run -0 nash-select -q --metric test_accuracy "$t/a.h5" "$t/f100.h5"
	run -1 nash-select --metric test_accuracy "$t/c10.h5" "$t/a.h5"
	assert_output --partial "models of different datasets cannot be compared"
	# nash-ensemble makes the same check
	run -1 nash-ensemble "$t/a.h5" "$t/f100.h5"
	assert_output "nash-ensemble: $t/f100.h5: holds out 100 validation images, $t/a.h5 holds out 200: their validation accuracies are not on the same images and cannot be compared"
	run -1 nash-ensemble --eval none -o "$t/e.h5" "$t/c10.h5" "$t/c100.h5"
	assert_output --partial "$t/c100.h5: the model is for cifar100"
	[ ! -e "$t/e.h5" ]
}

@test "nash-select refuses accuracies measured with different test-time augmentation" {
	d=$BATS_FILE_TMPDIR
	# a evaluated again with the mirror: the same weights, another measurement
	nash-train --data "$FMNIST" --epochs 0 --tta flip -o "$BATS_TEST_TMPDIR/a-flip.h5" "$d/a.h5" >/dev/null 2>&1
	run -1 nash-select "$d/b.h5" "$BATS_TEST_TMPDIR/a-flip.h5"
	assert_output "nash-select: $BATS_TEST_TMPDIR/a-flip.h5: its val_accuracy was measured with test-time augmentation 'flip', that of $d/b.h5 with 'none': they cannot be compared (evaluate both with the same nash-train --tta)"
	# measured alike, they rank; a model never evaluated does not count
	nash-train --data "$FMNIST" --epochs 0 --tta flip -o "$BATS_TEST_TMPDIR/b-flip.h5" "$d/b.h5" >/dev/null 2>&1
	run -0 nash-select "$BATS_TEST_TMPDIR/b-flip.h5" "$BATS_TEST_TMPDIR/a-flip.h5" "$d/seed.h5"
}

@test "nash-select --replace: the best other model replaces the parent (the last), however they compare" {
	d=$BATS_FILE_TMPDIR
	# a ranks above b; as the parent, a leaves the ranking and b wins
	run -0 nash-select -q "$d/b.h5" "$d/a.h5"
	assert_output "$d/a.h5"
	run -0 nash-select --replace --tsv -o "$BATS_TEST_TMPDIR/best.h5" "$d/b.h5" "$d/a.h5"
	assert_equal "${#lines[@]}" 2
	assert_line --index 1 --regexp "^1	$d/b.h5	"
	cmp "$d/b.h5" "$BATS_TEST_TMPDIR/best.h5"
	# no other model can win (failed): the parent stays, ranked first
	nash-select --mark-failed "diverged" -o "$BATS_TEST_TMPDIR/bad.h5" "$d/b.h5"
	run -0 nash-select --replace --tsv -o "$BATS_TEST_TMPDIR/best.h5" "$BATS_TEST_TMPDIR/bad.h5" "$d/a.h5"
	assert_line --index 1 --regexp "^1	$d/a.h5	"
	assert_line --index 2 --regexp "^2	$BATS_TEST_TMPDIR/bad.h5	.*	0	failed: diverged$"
	cmp "$d/a.h5" "$BATS_TEST_TMPDIR/best.h5"
	run -2 nash-select --replace "$d/a.h5"
	assert_output --partial "--replace needs the parent and at least one other MODEL"
}

@test "nash-select --step: the table, then the winner, then the step's line on standard error" {
	d=$BATS_FILE_TMPDIR
	t=$BATS_TEST_TMPDIR
	va=$(nash-show --tsv "$d/a.h5" | cut -f 5 | tail -n 1)
	# --replace: the child (one morphism of a, a's accuracy) replaces its parent a
	NASH_START= run -0 --separate-stderr nash-select --replace --step 2 --steps 3 --label run2/ \
		--table "$t/select.tsv" -o "$t/best.h5" "$d/wide-eval.h5" "$d/a.h5"
	assert_output ""
	assert_equal "$stderr" "run2: step 2/3: best val $va (wide-eval, 1 morphisms: wider), 1 child trained, 0s of training"
	cmp "$d/wide-eval.h5" "$t/best.h5"
	run -0 cat "$t/select.tsv"
	assert_line --index 0 --regexp $'^rank\tmodel\tval_accuracy\t'
	assert_line --index 1 --regexp $'^1\t'"$d/wide-eval.h5"$'\t'
	[ "${#lines[@]}" -eq 2 ]
	# hill climbing: the parent ties its child with fewer parameters and stays; a failed child
	# counts as a child, not as a training; the time since NASH_START
	nash-select --mark-failed "nash-train: out of memory" -o "$t/f.h5" "$d/a.h5"
	NASH_START=$(($(date +%s) - 65)) run -0 --separate-stderr nash-select --step 1 \
		--table "$t/select.tsv" -o "$t/best.h5" "$d/wide-eval.h5" "$t/f.h5" "$d/a.h5"
	[[ "$stderr" =~ ^"step 1: best val $va (the parent stays), 1 of 2 children trained (1 failed), "[0-9]+"s of training, 1m0"[5-9]"s elapsed"$ ]]
	cmp "$d/a.h5" "$t/best.h5"
	run -0 cut -f 1,2,10 "$t/select.tsv"
	assert_equal "${#lines[@]}" 4
	assert_line --index 3 "$(printf '3\t%s\t0' "$t/f.h5")"
	NASH_START=never run -0 --separate-stderr nash-select --step 1 --table "$t/select.tsv" "$d/wide-eval.h5" "$d/a.h5"
	[[ "$stderr" == *", ? elapsed" ]]
	run -0 find "$t" -name '*.tmp'
	assert_output ""
}

@test "nash-select --step: no silent no-op: every child failed because no morphism fits the parameter budget" {
	d=$BATS_FILE_TMPDIR
	t=$BATS_TEST_TMPDIR
	why="nash-morph: no morphism fits; nash-morph: no morphism keeps the network within --max-params 10 (100 draws; it has 9 parameters)"
	nash-select --mark-failed "$why" -o "$t/n1.h5" "$d/a.h5"
	nash-select --mark-failed "$why" -o "$t/n2.h5" "$d/a.h5"
	params=$(nash-show --tsv "$d/a.h5" | cut -f 7 | tail -n 1)
	macs=$(nash-show --tsv "$d/a.h5" | cut -f 22 | tail -n 1)
	run -1 nash-select --step 1 --table "$t/select.tsv" -o "$t/best.h5" "$t/n1.h5" "$t/n2.h5" "$d/a.h5"
	assert_output "nash-select: every child failed, and every later step would: failed: $why (the parent has $params parameters, $macs multiply-adds per image)"
	# by the cap on multiply-adds (MAX_GROWTH) too
	why2="nash-morph: no morphism fits; nash-morph: no morphism keeps the network within --max-macs 7 (100 draws; it costs 5 multiply-adds per image)"
	nash-select --mark-failed "$why2" -o "$t/m1.h5" "$d/a.h5"
	run -1 nash-select --step 1 --table "$t/select.tsv" -o "$t/best.h5" "$t/n1.h5" "$t/m1.h5" "$d/a.h5"
	assert_output --partial "every child failed, and every later step would: failed: nash-morph: no morphism fits; "
	[ ! -e "$t/select.tsv" ] && [ ! -e "$t/best.h5" ]
	# with --replace too (the parent stays)
	run -1 nash-select --replace --step 1 --table "$t/select.tsv" -o "$t/best.h5" "$t/n1.h5" "$d/a.h5"
	assert_output --partial "every child failed, and every later step would"
	# a child that failed otherwise: the parent stays, and the search goes on
	nash-select --mark-failed "nash-train: out of memory" -o "$t/f.h5" "$d/a.h5"
	run -0 nash-select --step 1 --table "$t/select.tsv" -o "$t/best.h5" "$t/n1.h5" "$t/f.h5" "$d/a.h5"
	assert_output --partial "(the parent stays), 0 of 2 children trained (2 failed)"
	# without --step, no search: the ranking alone
	run -0 nash-select -q "$t/n1.h5" "$t/n2.h5" "$d/a.h5"
	assert_output "$d/a.h5"
}

@test "nash-select --step, --table: usage errors exit 2 naming the option" {
	d=$BATS_FILE_TMPDIR
	run -2 nash-select --steps 3 "$d/a.h5" "$d/b.h5"
	assert_output --partial "--steps needs --step"
	run -2 nash-select --label run2/ "$d/a.h5" "$d/b.h5"
	assert_output --partial "--label needs --step"
	run -2 nash-select --step 1 "$d/a.h5"
	assert_output --partial "--step needs the parent (the last MODEL) and at least one child"
	run -2 nash-select --step 0 "$d/a.h5" "$d/b.h5"
	assert_output --partial "--step: 0 is out of range"
	run -2 nash-select --tsv --table "$BATS_TEST_TMPDIR/t.tsv" "$d/a.h5" "$d/b.h5"
	assert_output --partial "--tsv and --table exclude each other"
	run -2 nash-select --mark-failed why --table "$BATS_TEST_TMPDIR/t.tsv" "$d/a.h5"
	assert_output --partial "--mark-failed and --table exclude each other"
	# a table that cannot be written: exit 1 naming it, no winner written
	run -1 nash-select --table "$BATS_TEST_TMPDIR/no/t.tsv" -o "$BATS_TEST_TMPDIR/best.h5" "$d/a.h5" "$d/b.h5"
	assert_output --partial "$BATS_TEST_TMPDIR/no/t.tsv"
	[ ! -e "$BATS_TEST_TMPDIR/best.h5" ]
}
