#!/usr/bin/env bats
load common

# Two differently trained models on the fixture data, made once per file.
setup_file() {
	d=$BATS_FILE_TMPDIR
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 -o "$d/seed.h5"
	nash-train --data "$FMNIST" --limit 256 --batch 32 --epochs 2 -o "$d/a.h5" "$d/seed.h5" >/dev/null 2>&1
	nash-train --data "$FMNIST" --limit 256 --batch 32 --epochs 1 --seed 2 -o "$d/b.h5" "$d/seed.h5" >/dev/null 2>&1
}

@test "nash-ensemble --help and --version" {
	run -0 nash-ensemble --help
	assert_output --partial "Usage: nash-ensemble"
	run -0 nash-ensemble --version
	assert_output --partial "nash-ensemble (nash)"
}

@test "nash-ensemble usage errors exit 2" {
	run -2 nash-ensemble
	assert_output --partial "missing MODEL"
	run -2 nash-ensemble --eval train "$BATS_FILE_TMPDIR/a.h5"
	assert_output --partial "--eval: 'train'"
	run -2 nash-ensemble --eval none "$BATS_FILE_TMPDIR/a.h5"
	assert_output --partial "does nothing"
	run -2 nash-ensemble - - </dev/null
	assert_output --partial "standard input"
}

@test "nash-ensemble on a missing or non-HDF5 file fails with exit 1 naming it, writing nothing" {
	run -1 nash-ensemble -o "$BATS_TEST_TMPDIR/e.h5" "$BATS_FILE_TMPDIR/a.h5" "$BATS_TEST_TMPDIR/missing.h5"
	assert_output --partial "missing.h5"
	echo "junk" >"$BATS_TEST_TMPDIR/junk.h5"
	run -1 nash-ensemble -o "$BATS_TEST_TMPDIR/e.h5" "$BATS_TEST_TMPDIR/junk.h5"
	assert_output --partial "junk.h5: not an HDF5 file"
	[ ! -e "$BATS_TEST_TMPDIR/e.h5" ]
}

@test "nash-ensemble refuses data of another shape" {
	run -1 nash-ensemble --data "$CIFAR10" "$BATS_FILE_TMPDIR/a.h5"
	assert_output --partial "the model is for 1x28x28"
}

@test "nash-ensemble evaluates each member and the average, last line the ensemble's accuracy" {
	d=$BATS_FILE_TMPDIR
	run -0 --separate-stderr nash-ensemble --data "$FMNIST" --eval test "$d/a.h5" "$d/b.h5"
	assert_line --index 0 --regexp '^member +params +test_accuracy$'
	assert_line --index 1 --regexp "^$d/a.h5 +[0-9]+ +0\\.[0-9]{4}$"
	assert_line --index 2 --regexp "^$d/b.h5 +[0-9]+ +0\\.[0-9]{4}$"
	assert_line --index 3 --regexp '^ensemble of 2 +[01]\.[0-9]{4}$'
	assert_line --index 4 --regexp '^test_accuracy=[01]\.[0-9]{4}$'
	# one member: the model's own test accuracy, as nash-train measures it
	run -0 nash-ensemble --data "$FMNIST" --eval test "$d/a.h5"
	ens=$(echo "$output" | tail -n 1 | cut -d= -f2)
	run -0 --separate-stderr nash-train --data "$FMNIST" --epochs 0 --eval test "$d/a.h5"
	assert_output --regexp "test_accuracy=$ens\$"
}

@test "nash-ensemble --tta: each member evaluated as nash-train --tta does, the ensemble of their views' means" {
	d=$BATS_FILE_TMPDIR
	for t in flip flip-shift; do
		run -0 --separate-stderr nash-ensemble --data "$FMNIST" --eval test --tta "$t" -o "$BATS_TEST_TMPDIR/e.h5" "$d/a.h5" "$d/b.h5"
		a=$(awk -v f="$d/a.h5" '$1 == f { print $3 }' <<<"$output") b=$(awk -v f="$d/b.h5" '$1 == f { print $3 }' <<<"$output")
		run -0 --separate-stderr nash-train --data "$FMNIST" --epochs 0 --eval test --tta "$t" "$d/a.h5"
		assert_output --regexp "test_accuracy=$a tta=$t\$"
		run -0 --separate-stderr nash-train --data "$FMNIST" --epochs 0 --eval test --tta "$t" "$d/b.h5"
		assert_output --regexp "test_accuracy=$b tta=$t\$"
		# recorded with the members' accuracies
		run -0 h5dump -a members/001/test_accuracy_tta "$BATS_TEST_TMPDIR/e.h5"
		assert_output --partial "\"$t\""
	done
	run -2 nash-ensemble --tta mirror "$d/a.h5"
	assert_output --partial "--tta: 'mirror' is not none, flip or flip-shift"
}

@test "nash-ensemble writes an ensemble file that h5dump and nash-ensemble read back" {
	d=$BATS_FILE_TMPDIR
	run -0 nash-ensemble --data "$FMNIST" --eval test -o "$BATS_TEST_TMPDIR/e.h5" "$d/a.h5" "$d/b.h5"
	acc=$(echo "$output" | tail -n 1)
	run -0 h5dump -a format "$BATS_TEST_TMPDIR/e.h5"
	assert_output --partial '"nash-ensemble"'
	run -0 h5dump -a num_members "$BATS_TEST_TMPDIR/e.h5"
	assert_output --partial "(0): 2"
	# members keep the model file layout
	run -0 h5ls -r "$BATS_TEST_TMPDIR/e.h5"
	assert_output --partial "/members/001/graph/001_conv/weight"
	run -0 h5dump -a members/000/format "$BATS_TEST_TMPDIR/e.h5"
	assert_output --partial '"nash-model"'
	# read back: the same ensemble, the same accuracy, and rewritten byte for byte
	run -0 nash-ensemble --data "$FMNIST" --eval test -o "$BATS_TEST_TMPDIR/e2.h5" "$BATS_TEST_TMPDIR/e.h5"
	assert_line --index -1 "$acc"
	cmp "$BATS_TEST_TMPDIR/e.h5" "$BATS_TEST_TMPDIR/e2.h5"
	run -0 nash-show --tsv "$BATS_TEST_TMPDIR/e.h5"
	[ "${#lines[@]}" -eq 3 ]
	# a model file reader says clearly what it got
	run -1 nash-train --epochs 0 "$BATS_TEST_TMPDIR/e.h5"
	assert_output --partial "nash-ensemble"
}

@test "nash-ensemble counts identical models once" {
	d=$BATS_FILE_TMPDIR
	cp "$d/a.h5" "$BATS_TEST_TMPDIR/a-copy.h5"
	run -0 --separate-stderr nash-ensemble --data "$FMNIST" "$d/a.h5" "$BATS_TEST_TMPDIR/a-copy.h5" "$d/b.h5"
	assert_line --regexp '^ensemble of 2 '
	[[ "$stderr" == *"a-copy.h5: same weights as $d/a.h5; counted once"* ]]
}

@test "nash-ensemble writes the ensemble to stdout with -o - and the result to stderr" {
	d=$BATS_FILE_TMPDIR
	run -0 --separate-stderr sh -c "nash-ensemble --eval none -o - '$d/a.h5' >'$BATS_TEST_TMPDIR/e.h5'"
	run -0 h5dump -a num_members "$BATS_TEST_TMPDIR/e.h5"
	run -0 --separate-stderr sh -c "nash-ensemble --data '$FMNIST' -o - '$d/a.h5' '$d/b.h5' >'$BATS_TEST_TMPDIR/e.h5'"
	[[ "$stderr" == *"val_accuracy="* ]]
	assert_output ""
}

@test "nash-ensemble rejects a corrupt ensemble file" {
	d=$BATS_FILE_TMPDIR
	nash-ensemble --eval none -o "$BATS_TEST_TMPDIR/e.h5" "$d/a.h5" "$d/b.h5"
	head -c 3000 "$BATS_TEST_TMPDIR/e.h5" >"$BATS_TEST_TMPDIR/cut.h5"
	run -1 nash-ensemble "$BATS_TEST_TMPDIR/cut.h5"
	assert_output --partial "cut.h5"
}
