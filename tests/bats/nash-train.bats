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

# The environment and the threads of nash-train waiting on its standard input (a FIFO, held
# open for writing so that it blocks in read), once it has re-executed itself: "ENVIRON
# THREADS" with ENVIRON its OMP_WAIT_POLICY and OPENBLAS_NUM_THREADS. Extra arguments: env's.
waiting_train() {
	local fifo=$BATS_TEST_TMPDIR/in.$RANDOM pid i
	mkfifo "$fifo"
	exec 5<>"$fifo"
	env "$@" nash-train -o "$BATS_TEST_TMPDIR/out.h5" <"$fifo" 2>/dev/null &
	pid=$!
	# in read(2) (syscall 0) after the re-execution: its libraries are loaded
	for i in $(seq 200); do
		read -r nr _ <"/proc/$pid/syscall" 2>/dev/null && [ "$nr" = 0 ] &&
			tr '\0' '\n' <"/proc/$pid/environ" | grep -q '^OPENBLAS_NUM_THREADS=' && break
		sleep 0.05
	done
	echo "$(tr '\0' '\n' <"/proc/$pid/environ" | grep -E '^(OMP_WAIT_POLICY|OPENBLAS_NUM_THREADS)=' | sort | paste -sd ' ') $(ls "/proc/$pid/task" | wc -l)"
	kill "$pid"
	exec 5>&-
	wait "$pid" || true
}

@test "nash-train's thread pools: OpenMP threads that wait sleep, OpenBLAS starts none; a user's settings are kept" {
	[ -r /proc/self/syscall ] || skip "no /proc/PID/syscall here"
	run -0 waiting_train -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u OPENBLAS_NUM_THREADS
	# one thread: OpenBLAS's pool was not started (OpenMP's starts at the first parallel region)
	assert_output "OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=1 1"
	run -0 waiting_train OMP_WAIT_POLICY=active OPENBLAS_NUM_THREADS=2
	assert_output "OMP_WAIT_POLICY=active OPENBLAS_NUM_THREADS=2 2"
	# libgomp's own account of its settings: passive is no spinning at all
	run -0 env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose nash-train --help
	assert_output --partial "GOMP_SPINCOUNT = '0'"
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
	run -2 nash-train --warmup -1 "$m"
	assert_output --partial "--warmup"
	run -2 nash-train --warmup soon "$m"
	assert_output --partial "--warmup: 'soon' is not a number"
	run -2 nash-train --train-on val "$m"
	assert_output --partial "--train-on: 'val' is not train or all"
	run -2 nash-train --label-smoothing 1 "$m"
	assert_output --partial "--label-smoothing: 1 is out of range [0, 1)"
	run -2 nash-train --label-smoothing -0.1 "$m"
	assert_output --partial "--label-smoothing: -0.1 is out of range [0, 1)"
	run -2 nash-train --ema 0.99999999999 "$m" # 1 as a float
	assert_output --partial "--ema: 0.99999999999 is out of range [0, 1)"
	run -2 nash-train --ema slow "$m"
	assert_output --partial "--ema: 'slow' is not a number"
	run -2 nash-train --tta mirror "$m"
	assert_output --partial "--tta: 'mirror' is not none, flip or flip-shift"
	run -2 nash-train --data "$FMNIST" --epochs 2 --warmup 2.5 -o "$BATS_TEST_TMPDIR/out.h5" "$m"
	assert_output --partial "a warmup of 2.5 epochs is longer than the run's 2"
	[ ! -e "$BATS_TEST_TMPDIR/out.h5" ]
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
	run -1 nash-train --data "$CIFAR10" -o "$BATS_TEST_TMPDIR/out.h5" "$m"
	assert_output --partial "the model is for 1x28x28"
	[ ! -e "$BATS_TEST_TMPDIR/out.h5" ]
}

@test "nash-train trains and prints val_accuracy last on stdout" {
	m=$(seed_model)
	run -0 --separate-stderr nash-train --data "$FMNIST" --epochs 2 --device cpu -o "$BATS_TEST_TMPDIR/t.h5" "$m"
	assert_line --index -1 --regexp '^val_accuracy=0\.[0-9]{4}$'
	run -0 h5dump -a val_accuracy "$BATS_TEST_TMPDIR/t.h5"
	run -0 h5dump -d /training/record "$BATS_TEST_TMPDIR/t.h5"
	assert_output --partial "(1)"
}

@test "nash-train prints one line per epoch on a non-terminal stderr" {
	m=$(seed_model)
	run -0 --separate-stderr nash-train --data "$FMNIST" --epochs 2 -o "$BATS_TEST_TMPDIR/t.h5" "$m"
	[ "$(printf '%s\n' "$stderr" | grep -c 'epoch [12]/2')" -eq 2 ]
	[[ "$stderr" == *"device "* ]]
}

@test "nash-init | nash-train | file: the pipe works with - on both ends" {
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 | nash-train --data "$FMNIST" --epochs 1 --limit 600 - > "$BATS_TEST_TMPDIR/p.h5"
	run -0 nash-train --data "$FMNIST" --epochs 0 "$BATS_TEST_TMPDIR/p.h5"
	assert_output --regexp 'val_accuracy=0\.[0-9]{4}$'
}

@test "nash-train --epochs 0 --eval test evaluates without writing a model" {
	m=$(seed_model)
	mkdir "$BATS_TEST_TMPDIR/w" && cd "$BATS_TEST_TMPDIR/w"
	run -0 --separate-stderr nash-train --data "$FMNIST" --epochs 0 --eval test "$m"
	assert_output --regexp '^val_accuracy=0\.[0-9]{4} test_accuracy=0\.[0-9]{4}$'
	[ -z "$(ls -A)" ]
}

@test "nash-train on the CIFAR fixtures" {
	nash-init --dataset "$CIFAR10" --widths 4,8 --val 100 -o "$BATS_TEST_TMPDIR/c.h5"
	run -2 nash-train --epochs 1 -o "$BATS_TEST_TMPDIR/t.h5" "$BATS_TEST_TMPDIR/c.h5"
	assert_output --partial "the model is for cifar10; give its data with --data cifar10:DIR"
	run -2 nash-ensemble "$BATS_TEST_TMPDIR/c.h5" # the same words
	assert_output "nash-ensemble: $BATS_TEST_TMPDIR/c.h5: the model is for cifar10; give its data with --data cifar10:DIR"
	run -0 nash-train --data "$CIFAR10" --epochs 1 --batch 50 --eval test -o "$BATS_TEST_TMPDIR/t.h5" "$BATS_TEST_TMPDIR/c.h5"
	assert_output --partial "test_accuracy="
	nash-init --dataset "$CIFAR100" --widths 4,8 --val 100 -o "$BATS_TEST_TMPDIR/c.h5"
	run -0 nash-train --data "$CIFAR100" --epochs 1 --batch 50 -o "$BATS_TEST_TMPDIR/t.h5" "$BATS_TEST_TMPDIR/c.h5"
}

@test "nash-train: a diverging run exits 4 and marks the model failed" {
	m=$(seed_model)
	# on the fixture's 1,000 training images: 125 steps, NaN at step 39 (larger batches collapse first)
	run -4 nash-train --data "$FMNIST" --epochs 1 --batch 8 --lr 1e5 -o "$BATS_TEST_TMPDIR/t.h5" "$m"
	assert_output --partial "diverged"
	run -0 h5dump -a failed "$BATS_TEST_TMPDIR/t.h5"
}

@test "nash-train is reproducible for a seed" {
	m=$(seed_model)
	nash-train --data "$FMNIST" --epochs 1 --seed 5 --threads 1 -o "$BATS_TEST_TMPDIR/a.h5" "$m" 2>/dev/null
	nash-train --data "$FMNIST" --epochs 1 --seed 5 --threads 1 -o "$BATS_TEST_TMPDIR/b.h5" "$m" 2>/dev/null
	diff <(graph_dump "$BATS_TEST_TMPDIR/a.h5") <(graph_dump "$BATS_TEST_TMPDIR/b.h5")
}

# The graph and weights as exact text: every float in hexadecimal (%a: all its bits).
graph_bits() {
	h5dump -m %a -g /graph "$1" | sed 1d
}

@test "nash-train --device cpu-blas and ref: any --threads gives the same model, bit for bit" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	# 8 steps of 64 images: every op's forward and backward, and SGD, 8 times over
	for dev in cpu-blas ref; do
		for t in 1 2 3; do
			nash-train --data "$FMNIST" --device "$dev" --threads "$t" --limit 512 --batch 64 --epochs 1 -o "$d/$dev-$t.h5" "$m" >/dev/null 2>&1
		done
		diff <(graph_bits "$d/$dev-1.h5") <(graph_bits "$d/$dev-2.h5")
		diff <(graph_bits "$d/$dev-1.h5") <(graph_bits "$d/$dev-3.h5")
	done
	# and the comparison does see the last bits: cpu-blas sums in another order than ref
	run -1 diff <(graph_bits "$d/cpu-blas-1.h5") <(graph_bits "$d/ref-1.h5")
}

@test "nash-train --device cpu (oneDNN): the same model for the same thread count" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	for r in a b; do
		nash-train --data "$FMNIST" --device cpu --threads 2 --limit 512 --batch 64 --epochs 1 -o "$d/$r.h5" "$m" >/dev/null 2>&1
	done
	diff <(graph_bits "$d/a.h5") <(graph_bits "$d/b.h5")
}

# The training record as exact text, every float in hexadecimal, less each epoch's seconds.
record_bits() {
	h5dump -m %a -d /training/record "$1" | sed 1d | awk '
		/H5T_[A-Z0-9_]+ "[a-z_]+";$/ { n++; if ($NF == "\"seconds\";") skip = n }
		/^ *\([0-9]+\): \{$/ { row = 1; f = 0; print; next }
		row && /^ *\},?$/ { row = 0 }
		row && ++f == skip { next }
		{ print }'
}

@test "nash-train records the same losses for the same training, whenever its progress is read" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	# epochs of 125 steps of 8 images on the slow reference loops, about a second each
	args=(--data "$FMNIST" --device ref --threads 1 --limit 1000 --batch 8 --epochs 2)
	nash-train "${args[@]}" -o "$d/a.h5" "$m" >/dev/null 2>&1
	# the same training, stopped for 0.6 s every 0.2 s: the progress (every 0.5 s) falls on
	# other steps
	nash-train "${args[@]}" -o "$d/b.h5" "$m" >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		sleep 0.2
		[ ! -e "$d/b.h5" ] && kill -STOP $pid 2>/dev/null || break
		sleep 0.6
		kill -CONT $pid
	done
	wait $pid
	diff <(graph_bits "$d/a.h5") <(graph_bits "$d/b.h5")
	run -0 record_bits "$d/a.h5"
	assert_output --partial "0x" # the record's figures are there
	diff <(record_bits "$d/a.h5") <(record_bits "$d/b.h5")
}

# nash-train "${ARGS[@]}" -o $1 $2, the command prefixed with the rest of the arguments (env,
# setarch) when there are any.
train_into() {
	local out=$1 in=$2
	shift 2
	"$@" nash-train "${ARGS[@]}" -o "$out" "$in" >/dev/null 2>&1
}

# train_into with the process held, as a loaded machine or a scheduler may hold it: once its
# first epoch is done, stopped for 0.6 s after every 30 ms it runs, so that its second epoch
# takes seconds, its steps far apart.
train_paused() {
	: >"$1.err"
	nash-train "${ARGS[@]}" -o "$1" "$2" >/dev/null 2>"$1.err" &
	local pid=$!
	while kill -0 "$pid" 2>/dev/null && ! grep -q 'epoch 1/' "$1.err"; do sleep 0.01; done
	while kill -STOP "$pid" 2>/dev/null; do
		sleep 0.6
		kill -CONT "$pid" 2>/dev/null || break # it had ended: reaped since
		sleep 0.03
	done
	wait "$pid"
}

# The same training in other surroundings: whatever moves where its memory lies (a larger or
# smaller environment shifts the stack, a longer directory and longer file names shift what is
# allocated after the names HDF5 and the tools keep, ASLR moves heap, stack and libraries, a
# higher mmap threshold moves large buffers from pages of their own onto the heap), what its
# uninitialised memory holds (MALLOC_PERTURB_ fills every allocation) and its speed must not
# change a bit of the model file: not a weight, not a figure of the training record.
@test "nash-train: the same file, bit for bit, whatever the environment, directory, addresses or speed" {
	d=$BATS_TEST_TMPDIR
	# a child with every op (deeper, wider, skip-add, skip-concat; kernels 1, 3 and 5), 16
	# validation images: each run is short
	nash-init --dataset "$FMNIST" --widths 4,8 --val 16 -o "$d/seed.h5"
	nash-morph -n 5 --seed 30 -o "$d/child.h5" "$d/seed.h5" 2>/dev/null
	run -0 nash-show "$d/child.h5"
	assert_output --partial "conv8k1-add"
	assert_output --partial "concat"
	assert_output --partial "k5"
	deep=$d/a-directory-with-a-rather-long-name/and-one-below-it-whose-name-is-longer
	mkdir -p "$deep"
	cp "$d/child.h5" "$deep/the-same-child-under-a-much-longer-file-name.h5"
	# glibc puts a large allocation on pages of its own (at 16 bytes past a page boundary,
	# wherever ASLR puts the page); with the threshold at its largest, on the heap, where what
	# was allocated before it decides its address
	heap=(env GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432)
	no_aslr=(setarch -R)
	"${no_aslr[@]}" true 2>/dev/null || no_aslr=() # a container may forbid it: then as usual
	for dev in ref cpu-blas cpu; do
		for t in 1 2; do
			# 4 steps an epoch (ref's loops are slow: 2 steps of 8 images)
			n=64 b=16
			[ "$dev" = ref ] && n=16 b=8
			ARGS=(--data "$FMNIST" --device "$dev" --threads "$t" --limit "$n" --batch "$b" --epochs 2)
			o=$d/$dev-$t
			train_into "$o.h5" "$d/child.h5"
			model_text "$o.h5" >"$o.txt"
			train_into "$o-envi.h5" "$d/child.h5" env -i PATH="$PATH"
			for pad in 8 16 32 48; do
				train_into "$o-pad$pad.h5" "$d/child.h5" env NASH_TEST_PAD="$(printf "%${pad}s" "")"
			done
			(cd "$deep" && train_into the-model-trained-here-under-a-long-name.h5 \
				the-same-child-under-a-much-longer-file-name.h5)
			mv "$deep/the-model-trained-here-under-a-long-name.h5" "$o-deep.h5"
			(cd "$deep" && train_into the-model-trained-here-under-a-long-name.h5 \
				the-same-child-under-a-much-longer-file-name.h5 "${heap[@]}")
			mv "$deep/the-model-trained-here-under-a-long-name.h5" "$o-heap-deep.h5"
			train_into "$o-noaslr.h5" "$d/child.h5" "${no_aslr[@]}"
			train_into "$o-heap.h5" "$d/child.h5" "${heap[@]}"
			train_into "$o-perturb.h5" "$d/child.h5" env MALLOC_PERTURB_=165
			vs=(envi pad8 pad16 pad32 pad48 deep heap-deep noaslr heap perturb)
			# the steps' timing is the training loop's, the same for every engine: not ref's
			# slow steps held too
			if [ "$dev" != ref ]; then
				train_paused "$o-paused.h5" "$d/child.h5"
				vs+=(paused)
			fi
			for v in "${vs[@]}"; do
				diff "$o.txt" <(model_text "$o-$v.h5") || { echo "# $dev, $t threads: $v differs"; false; }
			done
		done
	done
	# and the text does see the last bits: oneDNN sums the weight gradients in another order
	# on 2 threads than on 1
	run -1 diff "$d/cpu-1.txt" "$d/cpu-2.txt"
}

@test "nash-train resumes from a checkpoint to the same result as an uninterrupted run" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	nash-train --data "$FMNIST" --epochs 3 --threads 1 -o "$d/full.h5" "$m" 2>/dev/null
	# Interrupted run: stop after epoch 2 by training a checkpoint, then resume from it.
	nash-train --data "$FMNIST" --epochs 3 --threads 1 --checkpoint "$d/ck.h5" -o "$d/x.h5" "$m" 2>/dev/null
	run -0 h5dump -a checkpoint_epochs_done "$d/ck.h5"
	assert_output --regexp '\(0\): 2[^0-9]'
	nash-train --data "$FMNIST" --epochs 3 --threads 1 -o "$d/resumed.h5" "$d/ck.h5" 2>/dev/null
	diff <(graph_dump "$d/full.h5") <(graph_dump "$d/resumed.h5")
}

@test "nash-train refuses a checkpoint whose epochs done do not fit its run" {
	have_h5py || fail "python3-h5py is missing (tests/deps.sh installs it)"
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	args=(--data "$FMNIST" --epochs 3 --threads 1 --limit 256 --batch 32)
	nash-train "${args[@]}" --checkpoint "$d/ck.h5" -o "$d/x.h5" "$m" >/dev/null 2>&1
	run -0 h5dump -a checkpoint_epochs_done "$d/ck.h5"
	assert_output --regexp '\(0\): 2[^0-9]'
	# a run of 3 epochs is checkpointed after epoch 1 or 2: the overflow of first_epoch, an
	# epoch past the run (nothing trained, exit 0 before), the run's end, a negative count
	for n in 2147483647 4 3 -1; do
		cp "$d/ck.h5" "$d/bad.h5"
		/usr/bin/python3 -c 'import sys, h5py, numpy
with h5py.File(sys.argv[1], "r+") as f:
	f.attrs.modify("checkpoint_epochs_done", numpy.int32(int(sys.argv[2])))' "$d/bad.h5" "$n"
		run -1 nash-train "${args[@]}" -o "$d/out.h5" "$d/bad.h5"
		assert_output "nash-train: $d/bad.h5: checkpoint says $n epochs done, but the run has 3"
		[ ! -e "$d/out.h5" ]
	done
	# the checkpoint as written resumes
	run -0 nash-train "${args[@]}" -o "$d/out.h5" "$d/ck.h5"
}

# (measured 0.807, 0.834 and 0.810 with --seed 1, 2, 3; 6,000 images gave 0.872)
@test "learning: 3,000 Fashion-MNIST images, 2 epochs, no augmentation reach 75% validation accuracy" {
	[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || skip "dataset-fashion-mnist not installed"
	# 1,000 validation images (the default 5,000 cost a third of the test)
	nash-init --val 1000 -o "$BATS_TEST_TMPDIR/seed.h5"
	run -0 --separate-stderr nash-train --epochs 2 --limit 3000 --no-augment -o "$BATS_TEST_TMPDIR/t.h5" "$BATS_TEST_TMPDIR/seed.h5"
	acc=${output##*val_accuracy=}
	echo "# validation accuracy $acc" >&3
	awk -v a="$acc" 'BEGIN { exit !(a >= 0.75) }'
}

# Field NAME of row ROW (0-based) of training/runs in FILE, from h5dump's listing: the
# member names in order, then one value per line for each row.
run_field() {
	h5dump -d /training/runs -m %.6g "$1" | awk -v want="$2" -v row="$3" '
		/DATA \{/ { data = 1; next }
		!data && /"[a-z_]+";$/ { n++; name[n] = $NF; gsub(/[";]/, "", name[n]) }
		data && /\([0-9]+\): \{/ { r++; f = 0; next }
		data && r == row + 1 && /^ *[^ }]/ { f++; v = $1; gsub(/[",]/, "", v); if (name[f] == want) print v }'
}

@test "nash-train --warmup auto: a seed network warms up, a trained model does not; both recorded" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	run -0 --separate-stderr nash-train --data "$FMNIST" --limit 256 --batch 64 --epochs 2 -o "$d/a.h5" "$m"
	# 4 steps per epoch, one epoch of warmup: the first epoch climbs from 0.05 / 4 to 0.05, the
	# second falls along the cosine (its last step at 0.05 (1 + cos(3 pi / 4)) / 2)
	[[ "$stderr" == *"epoch 1/2  lr 0.0125-0.0500  train"* ]]
	[[ "$stderr" == *"epoch 2/2  lr 0.0500-0.0073  train"* ]]
	[ "$(run_field "$d/a.h5" warmup 0)" = 1 ]
	run -0 --separate-stderr nash-train --data "$FMNIST" --limit 256 --batch 64 --epochs 1 -o "$d/h.h5" "$m"
	# at most half the run: 2 steps up, 2 down: first, peak, last
	[[ "$stderr" == *"epoch 1/1  lr 0.0250-0.0500-0.0250  train"* ]]
	[ "$(run_field "$d/h.h5" warmup 0)" = 0.5 ]
	[ "$(run_field "$d/a.h5" images 0)" = 256 ]
	[ "$(run_field "$d/a.h5" train_on 0)" = train ]
	run -0 --separate-stderr nash-train --data "$FMNIST" --limit 256 --batch 32 --epochs 1 -o "$d/b.h5" "$d/a.h5"
	[[ "$stderr" == *"epoch 1/1  lr 0.0500-0.0019  train"* ]]
	[ "$(run_field "$d/b.h5" warmup 1)" = 0 ]
	run -0 --separate-stderr nash-train --data "$FMNIST" --limit 256 --batch 32 --epochs 1 --warmup 0.25 -o "$d/c.h5" "$d/a.h5"
	[[ "$stderr" == *"epoch 1/1  lr 0.0250-0.0500-0.0033  train"* ]]
	[ "$(run_field "$d/c.h5" warmup 1)" = 0.25 ]
	# a constant rate is one number
	run -0 --separate-stderr nash-train --data "$FMNIST" --limit 256 --batch 32 --epochs 1 --lr 0.005:0.005 -o "$d/k.h5" "$d/a.h5"
	[[ "$stderr" == *"epoch 1/1  lr 0.0050  train"* ]]
}

@test "nash-train resumes a warming-up run from its checkpoint (auto warmup stays the run's)" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	nash-train --data "$FMNIST" --limit 256 --batch 32 --epochs 3 --threads 1 -o "$d/full.h5" "$m" 2>/dev/null
	nash-train --data "$FMNIST" --limit 256 --batch 32 --epochs 3 --threads 1 --checkpoint "$d/ck.h5" -o "$d/x.h5" "$m" 2>/dev/null
	nash-train --data "$FMNIST" --limit 256 --batch 32 --epochs 3 --threads 1 -o "$d/resumed.h5" "$d/ck.h5" 2>/dev/null
	diff <(graph_dump "$d/full.h5") <(graph_dump "$d/resumed.h5")
	[ "$(run_field "$d/resumed.h5" warmup 0)" = 1 ]
}

@test "nash-train --train-on all trains on the validation images too, and says so" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	run -0 --separate-stderr nash-train --data "$FMNIST" --limit 256 --batch 32 --epochs 1 --train-on all --eval test -o "$d/all.h5" "$m"
	assert_output --regexp '^val_accuracy=0\.[0-9]{4} test_accuracy=0\.[0-9]{4} train_on=all$'
	[ "$(run_field "$d/all.h5" images 0)" = 456 ] # 256 training + 200 validation images
	[ "$(run_field "$d/all.h5" train_on 0)" = all ]
	run -0 nash-show "$d/all.h5"
	assert_output --regexp 'accuracy +val 0\.[0-9]+ \(trained on\), test 0\.[0-9]+'
	run -1 nash-select "$d/all.h5"
	assert_output --partial "$d/all.h5: its last run trained on the validation images"
	run -0 --separate-stderr nash-select --metric test_accuracy "$d/all.h5"
	# a further run on the training split holds the validation images out again
	run -0 nash-train --data "$FMNIST" --limit 256 --batch 32 --epochs 1 -o "$d/again.h5" "$d/all.h5"
	refute_output --partial "train_on=all"
	run -0 nash-show "$d/again.h5"
	refute_output --partial "(trained on)"
}

@test "nash-train refuses incomplete datasets, naming the file and what is missing" {
	run -1 nash-init --dataset "cifar10:$FIX/cifar10" -o "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "$FIX/cifar10/data_batch_1.bin: 120 records, expected 10000: the file is incomplete"
	assert_output --partial "use --limit"
	run -1 nash-init --dataset "cifar10@80,32:$FIX/bad-cifar-size" --widths 4,8 --val 16 -o "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "is not a positive multiple of the 3073-byte record"
	[ ! -e "$BATS_TEST_TMPDIR/m.h5" ]
	nash-init --dataset "$CIFAR10" --widths 4,8 --val 100 -o "$BATS_TEST_TMPDIR/m.h5"
	run -1 nash-train --data "cifar10@80,32:$FIX/bad-cifar-missing" -o "$BATS_TEST_TMPDIR/t.h5" "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "$FIX/bad-cifar-missing/data_batch_3.bin: No such file or directory"
	run -1 nash-train --data "cifar10:$FIX/bad-cifar-missing" -o "$BATS_TEST_TMPDIR/t.h5" "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "data_batch_3.bin: No such file or directory (CIFAR-10's training set is data_batch_1.bin .. data_batch_5.bin, 10000 records each)"
	run -1 nash-train --data "cifar10@80,32:$FIX/bad-cifar-short" -o "$BATS_TEST_TMPDIR/t.h5" "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "79 records in all, expected 80"
	run -1 nash-train --data "cifar10@80,32:$FIX/bad-cifar-size" -o "$BATS_TEST_TMPDIR/t.h5" "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "$FIX/bad-cifar-size/data_batch_1.bin: size 49068 is not a positive multiple of the 3073-byte record (15 whole records, then 2973 bytes of a truncated one)"
	run -1 nash-train --data "fashion-mnist:$FIX/fmnist" --eval test -o "$BATS_TEST_TMPDIR/t.h5" "$(seed_model)"
	assert_output --partial "$FIX/fmnist/train-images-idx3-ubyte.gz: 1200 images, expected 60000"
	run -2 nash-train --data "cifar10@600:$FIX/cifar10" "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "NAME@TRAIN,TEST:DIR"
	[ ! -e "$BATS_TEST_TMPDIR/t.h5" ]
}

# The real CIFAR-10 (binary version) when it is there: NASH_CIFAR10_DIR, or ../shared/data/cifar10
# next to the repository.
# Sets dir, or skips the test (skip must run in the test's shell, not in a $(...) subshell).
cifar10_dir() {
	dir=${NASH_CIFAR10_DIR:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/../shared/data/cifar10}
	[ -f "$dir/data_batch_1.bin" ] || skip "CIFAR-10 not found at $dir (set NASH_CIFAR10_DIR)"
}

@test "nash-train on the real CIFAR-10: whole, and a copy missing a batch is refused" {
	cifar10_dir
	run -0 nash-init --dataset "cifar10:$dir" --widths 4,8 -o "$BATS_TEST_TMPDIR/m.h5"
	mkdir "$BATS_TEST_TMPDIR/c10"
	for f in data_batch_1.bin data_batch_2.bin data_batch_4.bin data_batch_5.bin test_batch.bin; do
		ln -s "$dir/$f" "$BATS_TEST_TMPDIR/c10/$f"
	done
	run -1 nash-train --data "cifar10:$BATS_TEST_TMPDIR/c10" "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "c10/data_batch_3.bin: No such file or directory"
	head -c 15365000 "$dir/data_batch_3.bin" >"$BATS_TEST_TMPDIR/c10/data_batch_3.bin" # 5000 records
	run -1 nash-train --data "cifar10:$BATS_TEST_TMPDIR/c10" "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "c10/data_batch_3.bin: 5000 records, expected 10000: the file is incomplete"
}

@test "nash-train records where each run ran: host, device, Slurm job; nash-show shows it" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	host=$(hostname)
	env -u SLURM_JOB_ID -u SLURM_STEP_ID nash-train --data "$FMNIST" --epochs 1 --device cpu --threads 1 -o "$d/a.h5" "$m" 2>/dev/null
	# as in a requeued Slurm job's step (the tool reads the environment, the library does not)
	SLURM_JOB_ID=4242 SLURM_STEP_ID=7 SLURM_RESTART_COUNT=1 nash-train --data "$FMNIST" --epochs 2 --device cpu --threads 2 \
		--checkpoint "$d/ck.h5" -o "$d/b.h5" "$d/a.h5" 2>/dev/null
	run -0 nash-show "$d/b.h5"
	assert_line --regexp "^    run 1 +1 epoch, seed 1, cpu on $host \\(CPU, 1 thread\\)$"
	assert_line --regexp "^    run 2 +2 epochs, seed 1, cpu on $host \\(CPU, 2 threads\\), job 4242\\.7 \\(restart 1\\)$"
	run -0 nash-show --tsv "$d/a.h5" "$d/b.h5" "$m"
	assert_line --index 0 --regexp $'\tfailure\thost\tdevice\tjob\timages\ttotal_images\tmacs$'
	assert_line --index 1 --regexp $'\t'"$host"$'\tCPU, 1 thread\t-\t[0-9]+\t[0-9]+\t[0-9]+$'
	assert_line --index 2 --regexp $'\t'"$host"$'\tCPU, 2 threads\t4242\\.7 \\(restart 1\\)\t[0-9]+\t[0-9]+\t[0-9]+$'
	assert_line --index 3 --regexp $'\t-\t-\t-\t0\t0\t[0-9]+$' # never trained
	# the images trained on: a's one epoch, b's two more (its last run), three in all
	n=$(cut -f 20 <<<"${lines[1]}")
	[ "$n" -gt 0 ] && [ "$(cut -f 21 <<<"${lines[1]}")" = "$n" ]
	[ "$(cut -f 20 <<<"${lines[2]}")" = $((2 * n)) ] && [ "$(cut -f 21 <<<"${lines[2]}")" = $((3 * n)) ]
	# a run resumed from its checkpoint records where it finished
	nash-train --data "$FMNIST" --epochs 3 --device cpu --checkpoint "$d/ck2.h5" -o "$d/x.h5" "$m" 2>/dev/null
	SLURM_JOB_ID=99 nash-train --data "$FMNIST" --epochs 3 --device cpu -o "$d/r.h5" "$d/ck2.h5" 2>/dev/null
	run -0 nash-show --tsv "$d/r.h5"
	assert_line --index 1 --regexp $'\t99\t[0-9]+\t[0-9]+\t[0-9]+$'
	run -0 h5dump -d /training/runs "$d/r.h5"
	assert_output --partial '"99"'
}

@test "nash-train --label-smoothing, --ema, --tta: recorded in training/runs and with the accuracies, shown by nash-show" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	run -0 --separate-stderr nash-train --data "$FMNIST" --limit 256 --batch 32 --epochs 1 --label-smoothing 0.1 \
		--ema 0.9 --tta flip-shift --eval test -o "$d/r.h5" "$m"
	assert_output --regexp '^val_accuracy=[01]\.[0-9]{4} test_accuracy=[01]\.[0-9]{4} tta=flip-shift$'
	[ "$(run_field "$d/r.h5" label_smoothing 0)" = 0.1 ]
	[ "$(run_field "$d/r.h5" ema 0)" = 0.9 ]
	[ "$(run_field "$d/r.h5" tta 0)" = flip-shift ]
	run -0 h5dump -a val_accuracy_tta "$d/r.h5"
	assert_output --partial '"flip-shift"'
	run -0 h5dump -a test_accuracy_tta "$d/r.h5"
	assert_output --partial '"flip-shift"'
	run -0 h5ls -r "$d/r.h5"
	refute_output --partial "ema_" # the average is the weights; only a checkpoint keeps both
	run -0 nash-show "$d/r.h5"
	assert_line --regexp '^  accuracy    val [01]\.[0-9]{4} \(TTA flip-shift\), test [01]\.[0-9]{4} \(TTA flip-shift\)$'
	assert_line --regexp '^    run 1 +1 epoch, seed 1, .*, label smoothing 0\.1, EMA 0\.9, TTA flip-shift$'
	# evaluating again without augmentation says so: the attributes go
	run -0 --separate-stderr nash-train --data "$FMNIST" --epochs 0 --eval test -o "$d/plain.h5" "$d/r.h5"
	assert_output --regexp '^val_accuracy=[01]\.[0-9]{4} test_accuracy=[01]\.[0-9]{4}$'
	run -1 h5dump -a val_accuracy_tta "$d/plain.h5"
	run -0 nash-show "$d/plain.h5"
	refute_output --partial "(TTA"
	assert_output --partial "TTA flip-shift" # the run's record stays
}

@test "nash-train without the recipe options records the defaults and writes no accuracy TTA" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	run -0 --separate-stderr nash-train --data "$FMNIST" --limit 256 --batch 32 --epochs 1 --eval test -o "$d/p.h5" "$m"
	refute_output --partial "tta="
	[ "$(run_field "$d/p.h5" label_smoothing 0)" = 0 ]
	[ "$(run_field "$d/p.h5" ema 0)" = 0 ]
	[ "$(run_field "$d/p.h5" tta 0)" = none ]
	run -1 h5dump -a val_accuracy_tta "$d/p.h5"
	run -1 h5dump -a test_accuracy_tta "$d/p.h5"
	run -0 nash-show "$d/p.h5"
	refute_output --partial "TTA"
	refute_output --partial "EMA"
	refute_output --partial "smoothing"
}

@test "nash-train --tta changes only the evaluation; --label-smoothing and --ema the model" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	args=(--data "$FMNIST" --limit 256 --batch 32 --epochs 1 --threads 1)
	for r in none flip flip-shift; do
		nash-train "${args[@]}" --tta $r -o "$d/$r.h5" "$m" 2>/dev/null
	done
	# the same training, so the same weights; other views, so another validation loss
	diff <(graph_dump "$d/none.h5") <(graph_dump "$d/flip.h5")
	diff <(graph_dump "$d/none.h5") <(graph_dump "$d/flip-shift.h5")
	v0=$(table_field "$d/none.h5" /training/record val_loss 0)
	v1=$(table_field "$d/flip.h5" /training/record val_loss 0)
	v2=$(table_field "$d/flip-shift.h5" /training/record val_loss 0)
	echo "# validation loss: none $v0, flip $v1, flip-shift $v2" >&3
	[ "$v0" != "$v1" ] && [ "$v1" != "$v2" ] && [ "$v0" != "$v2" ]
	# the smoothed target trains other weights (and its training loss is the smoothed one)
	nash-train "${args[@]}" --label-smoothing 0.2 -o "$d/ls.h5" "$m" 2>/dev/null
	run -1 diff <(graph_dump "$d/none.h5") <(graph_dump "$d/ls.h5")
	[ "$(table_field "$d/none.h5" /training/record train_loss 0)" != "$(table_field "$d/ls.h5" /training/record train_loss 0)" ]
	# the average is kept instead of the last weights
	nash-train "${args[@]}" --ema 0.5 -o "$d/ema.h5" "$m" 2>/dev/null
	run -1 diff <(graph_dump "$d/none.h5") <(graph_dump "$d/ema.h5")
}

@test "nash-train resumes a checkpoint of the recipe to the same model, and not under another recipe" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	args=(--data "$FMNIST" --limit 256 --batch 32 --epochs 3 --threads 1)
	recipe=(--label-smoothing 0.1 --ema 0.9 --tta flip)
	nash-train "${args[@]}" "${recipe[@]}" -o "$d/full.h5" "$m" 2>/dev/null
	nash-train "${args[@]}" "${recipe[@]}" --checkpoint "$d/ck.h5" -o "$d/x.h5" "$m" 2>/dev/null
	run -0 h5ls -r "$d/ck.h5"
	assert_output --partial "/graph/002_bn/ema_running_var"
	nash-train "${args[@]}" "${recipe[@]}" -o "$d/resumed.h5" "$d/ck.h5" 2>/dev/null
	diff <(graph_dump "$d/full.h5") <(graph_dump "$d/resumed.h5")
	run -0 nash-show "$d/resumed.h5"
	assert_output --partial "training    1 run, 3 epochs"
	# each setting changed: the checkpoint's run is not resumed; a new run starts from its weights
	for other in "--label-smoothing 0.2 --ema 0.9 --tta flip" "--label-smoothing 0.1 --ema 0.8 --tta flip" \
		"--label-smoothing 0.1 --ema 0.9 --tta flip-shift" "--label-smoothing 0.1 --tta flip" \
		"${recipe[*]} --momentum 0.8" "${recipe[*]} --weight-decay 0.001"; do
		# shellcheck disable=SC2086 # the words of $other are options
		nash-train "${args[@]}" $other -o "$d/other.h5" "$d/ck.h5" 2>/dev/null
		run -0 nash-show "$d/other.h5"
		assert_output --partial "training    2 runs, 5 epochs"
	done
}

@test "nash-train --label-smoothing, --ema and --tta train and evaluate on every CPU engine" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	for dev in cpu cpu-blas ref; do
		run -0 --separate-stderr nash-train --data "$FMNIST" --device $dev --limit 256 --batch 32 --epochs 2 \
			--label-smoothing 0.1 --ema 0.9 --tta flip --checkpoint "$d/$dev-ck.h5" -o "$d/$dev.h5" "$m"
		assert_output --regexp '^val_accuracy=[01]\.[0-9]{4} tta=flip$'
		[ "$(run_field "$d/$dev.h5" device 0)" = $dev ]
		[ "$(run_field "$d/$dev.h5" ema 0)" = 0.9 ]
		run -0 h5ls -r "$d/$dev-ck.h5"
		assert_output --partial "ema_weight"
	done
}
