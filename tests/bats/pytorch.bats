#!/usr/bin/env bats
# Cross-check against PyTorch: runs only where Debian's python3-torch and python3-h5py are
# installed (they are not among `make deps`: a developer's check, skipped in CI otherwise).
load common

@test "three training steps match PyTorch (float64) within 1e-5" {
	[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || skip "no Fashion-MNIST"
	/usr/bin/python3 -c 'import torch, h5py' 2>/dev/null || skip "python3-torch and python3-h5py not installed"
	d=$BATS_TEST_TMPDIR
	nash-init --val 200 -o "$d/seed.h5"
	# --warmup 0: the script follows the plain cosine schedule (warmup has its own tests)
	nash-train --epochs 3 --limit 128 --no-augment --warmup 0 --threads 1 -o "$d/t.h5" "$d/seed.h5" 2>/dev/null
	run -0 /usr/bin/python3 "$BATS_TEST_DIRNAME/../torch/three_steps.py" "$d/seed.h5" "$d/t.h5" 1e-5
	echo "# ${lines[-1]}" >&3
}
