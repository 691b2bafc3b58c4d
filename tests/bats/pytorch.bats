#!/usr/bin/env bats
# Cross-check against PyTorch (Debian's python3-torch and python3-h5py, which `make deps`
# installs, so it runs wherever the tests do).
load common

# Three SGD steps of the seed network on each engine (with a warmup as long as the run for one
# of them: one step an epoch), made once for the file, and compared with PyTorch in float64 by
# one run of three_steps.py (PyTorch loads in 1.5 s of CPU: once, not once a test). The seed
# is narrow (the checks are per weight, whatever the width): the ref engine's loops are slow.
setup_file() {
	[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || return 0
	have_python_modules torch h5py || return 0
	d=$BATS_FILE_TMPDIR
	nash-init --val 200 --widths 8,16,32 -o "$d/seed.h5" || return 1
	for run in ref:0 cpu-blas:0 cpu-blas:3 cpu:0; do
		nash-train --device "${run%:*}" --epochs 3 --limit 128 --no-augment --threads 1 --warmup "${run#*:}" \
			-o "$d/${run%:*}-warmup${run#*:}.h5" "$d/seed.h5" >/dev/null 2>&1 || return 1
	done
	# every difference printed, each file's worst last; the tolerances are the tests' (its exit
	# status, against its default 1e-5, is not the verdict)
	/usr/bin/python3 "$BATS_TEST_DIRNAME/../torch/three_steps.py" "$d/seed.h5" "$d"/*-warmup*.h5 \
		>"$d/torch.out" 2>&1 || true
	: >"$d/torch.ran"
}

# The comparison of ENGINE's run with WARMUP epochs of warmup: its largest relative difference
# of any weight or statistic within TOL.
three_steps() { # ENGINE TOL WARMUP
	[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || skip "no Fashion-MNIST"
	have_python_modules torch h5py || fail "python3-torch and python3-h5py are missing (tests/deps.sh installs them)"
	d=$BATS_FILE_TMPDIR
	[ -f "$d/torch.ran" ] || fail "three_steps.py did not run: the trainings of setup_file failed"
	run -0 grep -F "$d/$1-warmup$3.h5: worst " "$d/torch.out"
	worst=${output##*: worst }
	worst=${worst%% *}
	echo "# $1, warmup $3: worst $worst (tolerance $2)" >&3
	# a NaN or inf is no pass
	awk -v w="$worst" -v t="$2" 'BEGIN { exit !(w + 0 == w && w <= t + 0) }' ||
		fail "$1, warmup $3: worst $worst, over $2: $(cat "$d/torch.out")"
}

# The reference loops accumulate in double: measured 4.5e-7.
@test "three training steps on ref match PyTorch (float64) within 1e-5" {
	three_steps ref 1e-5 0
}

# The im2col + BLAS engine is tight enough to catch a wrong detail of the recipe (weight decay
# alone moves a weight by 2.5e-5 of itself per step): measured 2.0e-6 (AMD EPYC, AVX-512).
@test "three training steps on cpu-blas match PyTorch (float64) within 5e-5" {
	three_steps cpu-blas 5e-5 0
}

# The same under a warmup as long as the run (lr 0.05/3, 0.1/3, 0.05): the schedule as
# three_steps.py reads it from the file's training/runs.
@test "three training steps on cpu-blas with a warmup match PyTorch (float64) within 5e-5" {
	three_steps cpu-blas 5e-5 3
}

# oneDNN sums a weight gradient's N*H*W products in float32 in one run (about 5e-6 of its rms
# off, BLAS 2.5e-7; tests/unit/test_ops_backends.c checks each op), which batch-norm magnifies
# over three steps: measured 1.5e-3. A wrong convolution is off by 1e-1 or more. The rest of
# the step is the same code as cpu-blas's, checked tightly above.
@test "three training steps on cpu (oneDNN) match PyTorch (float64) within 1e-2" {
	three_steps cpu 1e-2 0
}
