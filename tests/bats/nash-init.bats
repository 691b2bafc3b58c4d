#!/usr/bin/env bats
load common

@test "nash-init --help prints usage on stdout and exits 0" {
	run -0 nash-init --help
	assert_output --partial "Usage: nash-init"
}

@test "nash-init --version" {
	run -0 nash-init --version
	assert_output --regexp '^nash-init \(nash\) [0-9]+\.[0-9]+'
}

@test "nash-init rejects unknown options with exit 2" {
	run -2 nash-init --bogus
	assert_output --partial "Usage:"
}

@test "nash-init rejects bad widths with exit 2" {
	run -2 nash-init --widths 32,x -o "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "--widths: 'x' is not an integer"
	[ ! -e "$BATS_TEST_TMPDIR/m.h5" ]
}

@test "nash-init rejects a malformed dataset spec with exit 2" {
	run -2 nash-init --dataset mnist -o "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "nash-init: "
	[ ! -e "$BATS_TEST_TMPDIR/m.h5" ]
}

@test "nash-init on a missing data directory fails with exit 1 and no output" {
	run -1 nash-init --dataset "cifar10:$BATS_TEST_TMPDIR/nowhere" -o "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "nowhere"
	[ ! -e "$BATS_TEST_TMPDIR/m.h5" ]
}

@test "nash-init on broken data fails with a clear error" {
	run -1 nash-init --dataset "fashion-mnist@64,32:$FIX/bad-truncated" -o "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "truncated"
	[ ! -e "$BATS_TEST_TMPDIR/m.h5" ]
}

@test "nash-init writes the seed network readable by h5dump" {
	run -0 nash-init --dataset "$FMNIST" --val 200 -o "$BATS_TEST_TMPDIR/m.h5"
	run -0 h5ls -r "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "/graph/001_conv"
	assert_output --partial "/graph/004_maxpool"
	assert_output --partial "/graph/013_dense"
	run -0 h5dump -a format "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial '"nash-model"'
	run -0 h5dump -d /graph/001_conv/weight -H "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "( 32, 1, 3, 3 )"
}

@test "nash-init writes to stdout in a pipe, identical to -o" {
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed 3 > "$BATS_TEST_TMPDIR/a.h5"
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed 3 -o "$BATS_TEST_TMPDIR/b.h5"
	cmp "$BATS_TEST_TMPDIR/a.h5" "$BATS_TEST_TMPDIR/b.h5"
}

@test "nash-init seeds differ" {
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed 3 -o "$BATS_TEST_TMPDIR/a.h5"
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed 4 -o "$BATS_TEST_TMPDIR/b.h5"
	run ! cmp -s "$BATS_TEST_TMPDIR/a.h5" "$BATS_TEST_TMPDIR/b.h5"
}

@test "nash-init handles CIFAR-10 and CIFAR-100 shapes" {
	run -0 nash-init --dataset "$CIFAR10" --val 100 -o "$BATS_TEST_TMPDIR/c10.h5"
	run -0 h5dump -a input_shape "$BATS_TEST_TMPDIR/c10.h5"
	assert_output --partial "3, 32, 32"
	run -0 nash-init --dataset "$CIFAR100" --val 100 -o "$BATS_TEST_TMPDIR/c100.h5"
	run -0 h5dump -a num_classes "$BATS_TEST_TMPDIR/c100.h5"
	assert_output --partial "100"
}

@test "nash-init fails when the output directory does not exist" {
	run -1 nash-init --dataset "$FMNIST" --val 200 -o "$BATS_TEST_TMPDIR/no/such/dir/m.h5"
	assert_output --partial "nash-init: "
}

@test "nash-init reports a closed stdout" {
	run -1 bash -c 'nash-init --dataset "$FMNIST" --widths 4,8 --val 200 >&-'
	assert_output --partial "nash-init: "
}
