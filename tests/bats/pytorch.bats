#!/usr/bin/env bats
# Cross-check against PyTorch (Debian's python3-torch and python3-h5py, which `make deps`
# installs, so it runs wherever the tests do).
load common

# The reference loops accumulate in double, so they match float64 PyTorch closely (measured
# 6.2e-7); the cpu engine's float32 BLAS sums leave about 2e-5 on the small batch-norm betas
# (2.8e-7 absolute on 0.013), so it gets 1e-4.
three_steps() { # DEVICE TOL
	[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || skip "no Fashion-MNIST"
	/usr/bin/python3 -c 'import torch, h5py' 2>/dev/null || fail "python3-torch and python3-h5py are missing (tests/deps.sh installs them)"
	d=$BATS_TEST_TMPDIR
	nash-init --val 200 -o "$d/seed.h5"
	nash-train --epochs 3 --limit 128 --no-augment --device "$1" --threads 1 -o "$d/t.h5" "$d/seed.h5" 2>/dev/null
	run -0 /usr/bin/python3 "$BATS_TEST_DIRNAME/../torch/three_steps.py" "$d/seed.h5" "$d/t.h5" "$2"
	echo "# $1: ${lines[-1]}" >&3
}

@test "three training steps of the reference engine match PyTorch (float64) within 1e-5" {
	three_steps ref 1e-5
}

@test "three training steps of the cpu engine match PyTorch (float64) within 1e-4" {
	three_steps cpu 1e-4
}
