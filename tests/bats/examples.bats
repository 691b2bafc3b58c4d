#!/usr/bin/env bats
# A small version of every script in examples/, so none rots: the settings they take from the
# environment make each one short.
load common

EX="$BATS_TEST_DIRNAME/../../examples"
FMNIST_REAL=/usr/share/datasets/fashion-mnist
TINY="STEPS=1 NEIGH=1 MORPHS=1 EPOCHS_SEED=1 EPOCHS_NEIGH=1 EPOCHS_FINAL=1"

@test "examples/pipes.sh: one hill-climbing step in pipes" {
	cd "$BATS_TEST_TMPDIR"
	run -0 env DATA="$FMNIST" CHILDREN=2 MORPHS=1 EPOCHS=1 LIMIT=300 VAL=200 "$EX/pipes.sh" out
	assert_output --partial "best: out/"
	assert_output --partial "test_accuracy="
	assert_line --regexp '^test_accuracy=0\.[0-9]+$' # the ensemble's, last
	[ -f out/best.h5 ] && [ -f out/child2.h5 ]
}

@test "examples/own-images.sh: PNG folders of real images -> search -> ONNX -> onnxruntime" {
	[ -f "$FMNIST_REAL/t10k-images-idx3-ubyte.gz" ] || skip "no Fashion-MNIST at $FMNIST_REAL"
	[ ! -f "$NASH_BUILD/node/UNAVAILABLE" ] || skip "onnxruntime-node not installed: $(cat "$NASH_BUILD/node/UNAVAILABLE")"
	cd "$BATS_TEST_TMPDIR"
	# 400 Fashion-MNIST test images as PNG files in one folder per class
	/usr/bin/python3 - <<'PY'
import gzip, os, numpy as np
from PIL import Image
d = "/usr/share/datasets/fashion-mnist"
def idx(n):
    b = gzip.open(os.path.join(d, n)).read()
    return np.frombuffer(b, np.uint8, offset=4 + 4 * b[3]).reshape([int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(b[3])])
x, y = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz")
names = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]
for i in range(400):
    os.makedirs(f"images/{names[y[i]]}", exist_ok=True)
    Image.fromarray(x[i]).save(f"images/{names[y[i]]}/{i:04d}.png")
PY
	bag=images/bag/$(ls images/bag | head -n 1) boot="images/ankle boot/$(ls "images/ankle boot" | head -n 1)"
	run env $TINY OUT=out "$EX/own-images.sh" images "$bag" "$boot"
	assert_success # shows the script's output when it failed
	assert_output --partial "classes    10"
	assert_output --partial "search done"
	[ -f out/model.onnx ]
	# one line per image: path, a class of the folders (names with spaces too), probability
	for f in "$bag" "$boot"; do
		assert_line --regexp "^$f"$'\t(t-shirt|trouser|pullover|dress|coat|sandal|shirt|sneaker|bag|ankle boot)\t(0\\.[0-9]{4}|1\\.0000)$'
	done
}

@test "examples/cifar10-paper.sh: the paper's CIFAR-10 pipeline, cut to one short step" {
	cd "$BATS_TEST_TMPDIR"
	# the fixture is a small CIFAR-10: its size in the data spec
	run -0 env $TINY LIMIT=200 VAL=100 WIDTHS=8,16,16 DATA="$CIFAR10" RUN=c10 "$EX/cifar10-paper.sh" "$FIX/cifar10"
	assert_output --partial "search done"
	[ -f c10/final.onnx ] && [ -f c10/report.md ]
	run -0 nash-show --tsv c10/final.h5
	assert_output --partial "cifar10"
}

@test "examples/load_pytorch.py: a model with every morphism kind rebuilt in PyTorch gives nash's test accuracy" {
	[ -f "$FMNIST_REAL/t10k-images-idx3-ubyte.gz" ] || skip "no Fashion-MNIST at $FMNIST_REAL"
	have_python_modules torch h5py || fail "python3-torch and python3-h5py are missing (tests/deps.sh installs them)"
	d=$BATS_TEST_TMPDIR
	nash-init --widths 8,16,16 --val 500 | nash-train --epochs 1 --limit 1000 --lr 0.02 -o "$d/p.h5" 2>/dev/null >/dev/null
	nash-morph -n 4 --op deeper,wider,skip-add,skip-concat --seed 3 "$d/p.h5" 2>/dev/null |
		nash-train --epochs 1 --limit 1000 --lr 0.02 --eval test -o "$d/c.h5" 2>/dev/null >/dev/null
	run -0 /usr/bin/python3 "$EX/load_pytorch.py" "$d/c.h5"
	assert_output --regexp 'pytorch: 10000 test images, accuracy 0\.[0-9]+; nash recorded 0\.[0-9]+'
	echo "# $output" >&3
	# and it can fail: a changed weight changes the accuracy
	/usr/bin/python3 -c 'import h5py, sys; f = h5py.File(sys.argv[1], "r+"); w = f["graph/001_conv/weight"]; w[...] = -w[()]' "$d/c.h5"
	run -1 /usr/bin/python3 "$EX/load_pytorch.py" "$d/c.h5"
	# another dataset's network without its data, or with data of another shape: said, no traceback
	nash-init --dataset "$CIFAR10" --widths 4,8 --val 100 -o "$d/c10.h5"
	run -1 /usr/bin/python3 "$EX/load_pytorch.py" "$d/c10.h5"
	assert_output "load_pytorch.py: $d/c10.h5 is a network for the dataset 'cifar10': give its data as the second argument (cifar10:DIR, cifar100:DIR or h5:FILE)"
	nash-data convert "$CIFAR10" -o "$d/c10data.h5"
	run -1 /usr/bin/python3 "$EX/load_pytorch.py" "$d/c.h5" "h5:$d/c10data.h5"
	assert_output "load_pytorch.py: $d/c.h5 takes images of 1x28x28 (C x H x W), the data given has 3x32x32: give the data it was trained on"
}
