#!/usr/bin/env bats
# Cross-check against PyTorch: runs only where Debian's python3-torch and python3-h5py are
# installed (they are not among `make deps`: a developer's check, skipped in CI otherwise).
load common

# Three SGD steps of the seed network on ENGINE, compared with PyTorch in float64 (TOL: the
# largest relative difference of any weight or statistic).
three_steps() { # ENGINE TOL
	[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || skip "no Fashion-MNIST"
	/usr/bin/python3 -c 'import torch, h5py' 2>/dev/null || skip "python3-torch and python3-h5py not installed"
	d=$BATS_TEST_TMPDIR
	nash-init --val 200 -o "$d/seed.h5"
	nash-train --device "$1" --epochs 3 --limit 128 --no-augment --threads 1 -o "$d/t.h5" "$d/seed.h5" 2>/dev/null
	run -0 /usr/bin/python3 "$BATS_TEST_DIRNAME/../torch/three_steps.py" "$d/seed.h5" "$d/t.h5" "$2"
	echo "# $1: ${lines[-1]}" >&3
}

# The im2col + BLAS engine is tight enough to catch a wrong detail of the recipe (weight decay
# alone moves a weight by 2.5e-5 of itself per step): measured 2.0e-5 (AMD EPYC, AVX-512).
@test "three training steps on cpu-blas match PyTorch (float64) within 5e-5" {
	three_steps cpu-blas 5e-5
}

# oneDNN sums a weight gradient's N*H*W products in float32 in one run (about 5e-6 of its rms
# off, BLAS 2.5e-7; tests/unit/test_ops_backends.c checks each op), which batch-norm magnifies
# over three steps: measured 2.5e-3. A wrong convolution is off by 1e-1 or more. The rest of
# the step is the same code as cpu-blas's, checked tightly above.
@test "three training steps on cpu (oneDNN) match PyTorch (float64) within 1e-2" {
	three_steps cpu 1e-2
}
