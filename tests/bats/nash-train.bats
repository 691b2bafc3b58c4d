#!/usr/bin/env bats
load common

@test "nash-train --help and --version" {
	run -0 nash-train --help
	assert_output --partial "Usage: nash-train"
	run -0 nash-train --version
	assert_output --partial "nash-train (nash)"
}

@test "nash-train without MODEL reads stdin, or is a usage error on a terminal" {
	run -1 nash-train -o "$BATS_TEST_TMPDIR/out.h5" </dev/null
	assert_output --partial "<stdin>"
	[ ! -e "$BATS_TEST_TMPDIR/out.h5" ]
	# script(1) gives the program a terminal on stdin
	run -2 script -qec "nash-train" /dev/null
	assert_output --partial "missing MODEL"
}

@test "nash-train rejects bad option values with exit 2" {
	m=$(seed_model)
	run -2 nash-train --epochs -1 "$m"
	assert_output --partial "--epochs"
	run -2 nash-train --lr fast "$m"
	assert_output --partial "--lr: 'fast' is not a number"
	run -2 nash-train --eval train "$m"
	assert_output --partial "--eval"
	run -2 nash-train --device tpu "$m"
	assert_output --partial "tpu"
}

@test "nash-train on a missing model fails with exit 1 naming it" {
	run -1 nash-train -o "$BATS_TEST_TMPDIR/out.h5" "$BATS_TEST_TMPDIR/missing.h5"
	assert_output --partial "missing.h5"
	[ ! -e "$BATS_TEST_TMPDIR/out.h5" ]
}

@test "nash-train on a non-HDF5 file fails with exit 1 and writes nothing" {
	echo "not a model" > "$BATS_TEST_TMPDIR/bad.h5"
	run -1 nash-train -o "$BATS_TEST_TMPDIR/out.h5" "$BATS_TEST_TMPDIR/bad.h5"
	assert_output --partial "bad.h5"
	[ ! -e "$BATS_TEST_TMPDIR/out.h5" ]
}

@test "nash-train on an empty file fails" {
	: > "$BATS_TEST_TMPDIR/empty.h5"
	run -1 nash-train -o "$BATS_TEST_TMPDIR/out.h5" "$BATS_TEST_TMPDIR/empty.h5"
	assert_output --partial "empty.h5"
}

@test "nash-train refuses data of another shape" {
	m=$(seed_model)
	run -1 nash-train --data "cifar10:$FIX/cifar10" -o "$BATS_TEST_TMPDIR/out.h5" "$m"
	assert_output --partial "the model is for 1x28x28"
	[ ! -e "$BATS_TEST_TMPDIR/out.h5" ]
}

@test "nash-train trains and prints val_accuracy last on stdout" {
	m=$(seed_model)
	run -0 --separate-stderr nash-train --epochs 2 --device cpu -o "$BATS_TEST_TMPDIR/t.h5" "$m"
	assert_line --index -1 --regexp '^val_accuracy=0\.[0-9]{4}$'
	run -0 h5dump -a val_accuracy "$BATS_TEST_TMPDIR/t.h5"
	run -0 h5dump -d /training/record "$BATS_TEST_TMPDIR/t.h5"
	assert_output --partial "(1)"
}

@test "nash-train prints one line per epoch on a non-terminal stderr" {
	m=$(seed_model)
	run -0 --separate-stderr nash-train --epochs 2 -o "$BATS_TEST_TMPDIR/t.h5" "$m"
	[ "$(printf '%s\n' "$stderr" | grep -c 'epoch [12]/2')" -eq 2 ]
	[[ "$stderr" == *"device "* ]]
}

@test "nash-init | nash-train | file: the pipe works with - on both ends" {
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 | nash-train --epochs 1 --limit 600 - > "$BATS_TEST_TMPDIR/p.h5"
	run -0 nash-train --epochs 0 "$BATS_TEST_TMPDIR/p.h5"
	assert_output --regexp 'val_accuracy=0\.[0-9]{4}$'
}

@test "nash-train --epochs 0 --eval test evaluates without writing a model" {
	m=$(seed_model)
	mkdir "$BATS_TEST_TMPDIR/w" && cd "$BATS_TEST_TMPDIR/w"
	run -0 --separate-stderr nash-train --epochs 0 --eval test "$m"
	assert_output --regexp '^val_accuracy=0\.[0-9]{4} test_accuracy=0\.[0-9]{4}$'
	[ -z "$(ls -A)" ]
}

@test "nash-train on the CIFAR fixtures" {
	nash-init --dataset "cifar10:$FIX/cifar10" --widths 4,8 --val 100 -o "$BATS_TEST_TMPDIR/c.h5"
	run -2 nash-train --epochs 1 -o "$BATS_TEST_TMPDIR/t.h5" "$BATS_TEST_TMPDIR/c.h5"
	assert_output --partial "the model is for cifar10; give its data with --data cifar10:DIR"
	run -0 nash-train --data "cifar10:$FIX/cifar10" --epochs 1 --batch 50 --eval test -o "$BATS_TEST_TMPDIR/t.h5" "$BATS_TEST_TMPDIR/c.h5"
	assert_output --partial "test_accuracy="
	nash-init --dataset "cifar100:$FIX/cifar100" --widths 4,8 --val 100 -o "$BATS_TEST_TMPDIR/c.h5"
	run -0 nash-train --data "cifar100:$FIX/cifar100" --epochs 1 --batch 50 -o "$BATS_TEST_TMPDIR/t.h5" "$BATS_TEST_TMPDIR/c.h5"
}

@test "nash-train: a diverging run exits 4 and marks the model failed" {
	m=$(seed_model)
	run -4 nash-train --epochs 1 --lr 1e5 -o "$BATS_TEST_TMPDIR/t.h5" "$m"
	assert_output --partial "diverged"
	run -0 h5dump -a failed "$BATS_TEST_TMPDIR/t.h5"
}

@test "nash-train is reproducible for a seed" {
	m=$(seed_model)
	nash-train --epochs 1 --seed 5 --threads 1 -o "$BATS_TEST_TMPDIR/a.h5" "$m" 2>/dev/null
	nash-train --epochs 1 --seed 5 --threads 1 -o "$BATS_TEST_TMPDIR/b.h5" "$m" 2>/dev/null
	diff <(graph_dump "$BATS_TEST_TMPDIR/a.h5") <(graph_dump "$BATS_TEST_TMPDIR/b.h5")
}

@test "nash-train resumes from a checkpoint to the same result as an uninterrupted run" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	nash-train --epochs 3 --threads 1 -o "$d/full.h5" "$m" 2>/dev/null
	# Interrupted run: stop after epoch 2 by training a checkpoint, then resume from it.
	nash-train --epochs 3 --threads 1 --checkpoint "$d/ck.h5" -o "$d/x.h5" "$m" 2>/dev/null
	run -0 h5dump -a checkpoint_epochs_done "$d/ck.h5"
	assert_output --regexp '\(0\): 2[^0-9]'
	nash-train --epochs 3 --threads 1 -o "$d/resumed.h5" "$d/ck.h5" 2>/dev/null
	diff <(graph_dump "$d/full.h5") <(graph_dump "$d/resumed.h5")
}

@test "learning: 6,000 Fashion-MNIST images, 2 epochs, no augmentation reach 75% validation accuracy" {
	[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || skip "dataset-fashion-mnist not installed"
	nash-init -o "$BATS_TEST_TMPDIR/seed.h5"
	run -0 --separate-stderr nash-train --epochs 2 --limit 6000 --no-augment -o "$BATS_TEST_TMPDIR/t.h5" "$BATS_TEST_TMPDIR/seed.h5"
	acc=${output##*val_accuracy=}
	echo "# validation accuracy $acc" >&3
	awk -v a="$acc" 'BEGIN { exit !(a >= 0.75) }'
}

@test "nash-train records where each run ran: host, device, Slurm job; nash-show shows it" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	host=$(hostname)
	env -u SLURM_JOB_ID -u SLURM_STEP_ID nash-train --epochs 1 --device cpu -o "$d/a.h5" "$m" 2>/dev/null
	# as in a requeued Slurm job's step (the tool reads the environment, the library does not)
	SLURM_JOB_ID=4242 SLURM_STEP_ID=7 SLURM_RESTART_COUNT=1 nash-train --epochs 2 --device cpu \
		--checkpoint "$d/ck.h5" -o "$d/b.h5" "$d/a.h5" 2>/dev/null
	run -0 nash-show "$d/b.h5"
	assert_line --regexp "^    run 1 +1 epoch, seed 1, cpu on $host \\(CPU\\)$"
	assert_line --regexp "^    run 2 +2 epochs, seed 1, cpu on $host \\(CPU\\), job 4242\\.7 \\(restart 1\\)$"
	run -0 nash-show --tsv "$d/a.h5" "$d/b.h5" "$m"
	assert_line --index 0 --regexp $'\tfailure\thost\tdevice\tjob$'
	assert_line --index 1 --regexp $'\t'"$host"$'\tCPU\t-$'
	assert_line --index 2 --regexp $'\t'"$host"$'\tCPU\t4242\\.7 \\(restart 1\\)$'
	assert_line --index 3 --regexp $'\t-\t-\t-$' # never trained
	# a run resumed from its checkpoint records where it finished
	nash-train --epochs 3 --device cpu --checkpoint "$d/ck2.h5" -o "$d/x.h5" "$m" 2>/dev/null
	SLURM_JOB_ID=99 nash-train --epochs 3 --device cpu -o "$d/r.h5" "$d/ck2.h5" 2>/dev/null
	run -0 nash-show --tsv "$d/r.h5"
	assert_line --index 1 --regexp $'\t99$'
	run -0 h5dump -d /training/runs "$d/r.h5"
	assert_output --partial '"99"'
}
