#!/usr/bin/env bats
# nash-export --onnx: errors, and exported models from a small real search (every morphism kind,
# trained on Fashion-MNIST) checked by Debian's ONNX checker and run by onnxruntime on real test
# images against nash's own logits.
load common

FMNIST_REAL=/usr/share/datasets/fashion-mnist
NODE_DIR="$NASH_BUILD/node"

# A seed and four children, one morphism kind each, each trained one short epoch on the real
# training set (lr 0.02), so batch-norm statistics, lambdas and weights are all trained values.
# The last one holds every kind.
setup_file() {
	[ -f "$FMNIST_REAL/train-images-idx3-ubyte.gz" ] || return 0
	d=$BATS_FILE_TMPDIR
	nash-init --widths 8,16,16 --val 500 -o "$d/m0.h5"
	nash-train --epochs 1 --limit 1500 --lr 0.02 -o "$d/t0.h5" "$d/m0.h5" 2>/dev/null >/dev/null
	i=0
	for op in deeper wider skip-add skip-concat; do
		nash-morph -n 1 --op $op --seed $((i + 7)) -o "$d/m$((i + 1)).h5" "$d/t$i.h5" 2>/dev/null
		nash-train --epochs 1 --limit 1500 --lr 0.02 -o "$d/t$((i + 1)).h5" "$d/m$((i + 1)).h5" 2>/dev/null >/dev/null
		i=$((i + 1))
	done
}

need_models() {
	[ -f "$FMNIST_REAL/train-images-idx3-ubyte.gz" ] || skip "no Fashion-MNIST at $FMNIST_REAL"
	[ -f "$BATS_FILE_TMPDIR/t4.h5" ] || fail "the search in setup_file did not produce t4.h5"
}

@test "nash-export --help and --version" {
	run -0 nash-export --help
	assert_output --partial "Usage: nash-export --onnx"
	assert_output --partial "opset 13"
	run -0 nash-export --version
	assert_output --partial "nash-export (nash)"
}

@test "nash-export usage errors exit 2" {
	m=$(seed_model)
	run -2 nash-export "$m"
	assert_output --partial "--onnx"
	run -2 nash-export --onnx --frobnicate "$m"
	run -2 nash-export --onnx "$m" extra
	assert_output --partial "too many arguments"
	run -2 script -qec "nash-export --onnx $m" /dev/null
	assert_output --partial "terminal"
}

@test "nash-export: unreadable or broken models are errors naming the file, nothing written" {
	d=$BATS_TEST_TMPDIR
	run -1 nash-export --onnx -o "$d/x.onnx" "$d/missing.h5"
	assert_output --partial "nash-export: $d/missing.h5"
	printf 'not hdf5' >"$d/bad.h5"
	run -1 nash-export --onnx -o "$d/x.onnx" "$d/bad.h5"
	assert_output --partial "nash-export: $d/bad.h5"
	run ls "$d"
	refute_output --partial "x.onnx"
	# an output directory that does not exist: an error, no partial file anywhere
	run -1 nash-export --onnx -o "$d/no/such/dir/x.onnx" "$(seed_model)"
	assert_output --partial "$d/no/such/dir/x.onnx"
}

@test "nash-export: a failed write leaves the old file as it was" {
	d=$BATS_TEST_TMPDIR
	printf 'old' >"$d/x.onnx"
	run -1 nash-export --onnx -o "$d/x.onnx" "$d/missing.h5"
	run cat "$d/x.onnx"
	assert_output "old"
	run ls "$d"
	refute_output --partial ".tmp"
}

@test "nash-export: standard input to standard output" {
	m=$(seed_model)
	nash-export --onnx -o "$BATS_TEST_TMPDIR/a.onnx" "$m"
	nash-export --onnx <"$m" >"$BATS_TEST_TMPDIR/b.onnx"
	cmp "$BATS_TEST_TMPDIR/a.onnx" "$BATS_TEST_TMPDIR/b.onnx"
}

@test "the ONNX checker accepts every exported model (seed and one child per morphism kind)" {
	need_models
	/usr/bin/python3 -c 'import onnx' 2>/dev/null || fail "python3-onnx is missing (tests/deps.sh installs it)"
	d=$BATS_FILE_TMPDIR
	for i in 0 1 2 3 4; do
		nash-export --onnx -o "$d/t$i.onnx" "$d/t$i.h5"
	done
	run -0 /usr/bin/python3 "$BATS_TEST_DIRNAME/../onnx/check.py" "$d"/t[0-4].onnx
	assert_output --partial "5 models pass onnx.checker"
	# the last model holds every morphism kind, so every op nash's morphisms make
	run -0 nash-show "$d/t4.h5"
	for op in deeper wider skip-add skip-concat; do assert_output --partial "$op "; done
	run -0 /usr/bin/python3 "$BATS_TEST_DIRNAME/../onnx/check.py" --ops "$d/t4.onnx"
	for op in Conv BatchNormalization Relu MaxPool Mul Add Concat Flatten Gemm; do assert_output --partial " $op"; done
}

@test "onnxruntime reproduces nash's logits on 1000 test images to 1e-4 relative" {
	need_models
	[ ! -f "$NODE_DIR/UNAVAILABLE" ] || skip "onnxruntime-node not installed: $(cat "$NODE_DIR/UNAVAILABLE")"
	[ -d "$NODE_DIR/node_modules/onnxruntime-node" ] || fail "onnxruntime-node missing: run make node-deps"
	d=$BATS_FILE_TMPDIR
	for model in t0 t1 t2 t3 t4; do
		nash-export --onnx -o "$d/$model.onnx" "$d/$model.h5"
		"$NASH_BUILD/tests/nash_logits" "$d/$model.h5" fashion-mnist 1000 cpu "$d/im.u8" "$d/lg.f32" >/dev/null
		run -0 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../onnx/compare.js" \
			"$d/$model.onnx" "$d/im.u8" "$d/lg.f32" 1 28 28 1e-4
		echo "# $model: $output" >&3
	done
}

@test "the ops no search makes: gap, dense after gap, bn and relu on [N, C], concat and add across ranks" {
	[ -f "$FMNIST_REAL/t10k-images-idx3-ubyte.gz" ] || skip "no Fashion-MNIST at $FMNIST_REAL"
	[ ! -f "$NODE_DIR/UNAVAILABLE" ] || skip "onnxruntime-node not installed: $(cat "$NODE_DIR/UNAVAILABLE")"
	d=$BATS_TEST_TMPDIR
	"$NASH_BUILD/tests/odd_graph" "$d/odd.h5"
	nash-export --onnx -o "$d/odd.onnx" "$d/odd.h5"
	run -0 /usr/bin/python3 "$BATS_TEST_DIRNAME/../onnx/check.py" --ops "$d/odd.onnx"
	for op in GlobalAveragePool Unsqueeze Concat Gemm; do assert_output --partial " $op"; done
	"$NASH_BUILD/tests/nash_logits" "$d/odd.h5" fashion-mnist 500 cpu "$d/im.u8" "$d/lg.f32" >/dev/null
	run -0 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../onnx/compare.js" \
		"$d/odd.onnx" "$d/im.u8" "$d/lg.f32" 1 28 28 1e-4
	echo "# odd graph: $output" >&3
}

@test "the comparison fails when the logits are another model's" {
	need_models
	[ ! -f "$NODE_DIR/UNAVAILABLE" ] || skip "onnxruntime-node not installed: $(cat "$NODE_DIR/UNAVAILABLE")"
	d=$BATS_FILE_TMPDIR
	nash-export --onnx -o "$d/t3.onnx" "$d/t3.h5"
	"$NASH_BUILD/tests/nash_logits" "$d/t4.h5" fashion-mnist 100 cpu "$d/im4.u8" "$d/lg4.f32" >/dev/null
	run -1 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../onnx/compare.js" \
		"$d/t3.onnx" "$d/im4.u8" "$d/lg4.f32" 1 28 28 1e-4
}

@test "class names with spaces, commas, quotes and UTF-8: folders -> dataset -> model -> nash-show -> ONNX metadata -> classify.js" {
	d=$BATS_TEST_TMPDIR
	/usr/bin/python3 - "$d/t" <<-'PY'
		import os, sys, numpy as np
		from PIL import Image
		rng = np.random.default_rng(5)
		for name in ('big cat, striped', 'caf\u00e9 "cr\u00e8me"', '\u00f1and\u00fa \\ \U0001f426'):
		    os.makedirs(os.path.join(sys.argv[1], name))
		    for i in range(4):
		        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(os.path.join(sys.argv[1], name, '%d.png' % i))
	PY
	nash-data pack "$d/t" --test-fraction 0.25 --name names -o "$d/n.h5" 2>/dev/null
	nash-init --dataset "h5:$d/n.h5" --widths 4,8 --val 2 -o "$d/m.h5"
	run -0 nash-show "$d/m.h5"
	assert_line '  classes     0 big cat, striped, 1 café "crème", 2 ñandú \ 🐦'
	# fixed-length strings: nothing in HDF5's global heap
	run -0 h5dump -a class_names "$d/m.h5"
	assert_output --partial "STRSIZE 17;" # the longest name, 16 bytes, and its NUL
	refute_output --partial "H5T_VARIABLE"
	# training and morphing keep them
	nash-train --data "h5:$d/n.h5" --epochs 1 --batch 4 "$d/m.h5" 2>/dev/null | nash-morph -n 1 --seed 2 -o "$d/c.h5" 2>/dev/null
	run -0 nash-show "$d/c.h5"
	assert_line '  classes     0 big cat, striped, 1 café "crème", 2 ñandú \ 🐦'
	nash-export --onnx -o "$d/c.onnx" "$d/c.h5"
	run -0 /usr/bin/python3 - "$d/c.onnx" <<-'PY'
		import json, sys, onnx
		meta = {p.key: p.value for p in onnx.load(sys.argv[1]).metadata_props}
		assert meta["nash.classes"] == "3", meta
		names = json.loads(meta["nash.class_names"])
		assert names == ['big cat, striped', 'caf\u00e9 "cr\u00e8me"', '\u00f1and\u00fa \\ \U0001f426'], names
		print("ok")
	PY
	assert_output "ok"
	# a model from before class names: none shown, none exported
	cp "$d/c.h5" "$d/old.h5"
	/usr/bin/python3 -c 'import h5py, sys; del h5py.File(sys.argv[1], "a").attrs["class_names"]' "$d/old.h5"
	run -0 nash-show "$d/old.h5"
	assert_line "  classes     not recorded (a model made before nash-init recorded them)"
	nash-export --onnx -o "$d/old.onnx" "$d/old.h5"
	run -0 /usr/bin/python3 -c 'import onnx, sys; print(sorted(p.key for p in onnx.load(sys.argv[1]).metadata_props))' "$d/old.onnx"
	assert_output "['nash.classes', 'nash.dataset', 'nash.id']"

	[ ! -f "$NODE_DIR/UNAVAILABLE" ] || skip "onnxruntime-node not installed: $(cat "$NODE_DIR/UNAVAILABLE")"
	local img="$d/t/big cat, striped/0.png"
	run -0 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../../examples/classify.js" "$d/c.onnx" "$img"
	assert_output --regexp "^$d/t/big cat, striped/0\.png"$'\t(big cat, striped|café "crème"|ñandú \\\\ 🐦)\t(0\\.[0-9]{4}|1\\.0000)$'
	run -0 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../../examples/classify.js" "$d/old.onnx" "$img"
	assert_output --regexp $'\t[012]\t'
	run -0 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../../examples/classify.js" --classes x,y,z "$d/old.onnx" "$img"
	assert_output --regexp $'\t[xyz]\t'
}
