#!/usr/bin/env bats
# nash-export --onnx: errors, and exported models from a small real search (every morphism kind,
# trained on Fashion-MNIST) checked by Debian's ONNX checker and run by onnxruntime on real test
# images against nash's own logits; with --tta, against nash's own test-time augmentation.
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
	run -2 nash-export --onnx --tta sideways -o "$BATS_TEST_TMPDIR/x.onnx" "$m"
	assert_output --partial "nash-export: --tta: 'sideways' is not none, flip or flip-shift"
	run -2 nash-export --onnx --tta -o "$BATS_TEST_TMPDIR/x.onnx" "$m"
	assert_output --partial "--tta: '-o' is not"
	[ ! -e "$BATS_TEST_TMPDIR/x.onnx" ]
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
		"$NASH_BUILD/tests/nash_logits" "$d/$model.h5" fashion-mnist 1000 cpu "$BATS_TEST_TMPDIR/im.u8" "$BATS_TEST_TMPDIR/lg.f32" >/dev/null
		run -0 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../onnx/compare.js" \
			"$d/$model.onnx" "$BATS_TEST_TMPDIR/im.u8" "$BATS_TEST_TMPDIR/lg.f32" 1 28 28 1e-4
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
	"$NASH_BUILD/tests/nash_logits" "$d/odd.h5" fashion-mnist 500 cpu "$BATS_TEST_TMPDIR/im.u8" "$BATS_TEST_TMPDIR/lg.f32" >/dev/null
	run -0 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../onnx/compare.js" \
		"$d/odd.onnx" "$BATS_TEST_TMPDIR/im.u8" "$BATS_TEST_TMPDIR/lg.f32" 1 28 28 1e-4
	echo "# odd graph: $output" >&3
}

@test "the comparison fails when the logits are another model's" {
	need_models
	[ ! -f "$NODE_DIR/UNAVAILABLE" ] || skip "onnxruntime-node not installed: $(cat "$NODE_DIR/UNAVAILABLE")"
	d=$BATS_FILE_TMPDIR
	nash-export --onnx -o "$d/t3.onnx" "$d/t3.h5"
	"$NASH_BUILD/tests/nash_logits" "$d/t4.h5" fashion-mnist 100 cpu "$BATS_TEST_TMPDIR/im4.u8" "$BATS_TEST_TMPDIR/lg4.f32" >/dev/null
	run -1 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../onnx/compare.js" \
		"$d/t3.onnx" "$BATS_TEST_TMPDIR/im4.u8" "$BATS_TEST_TMPDIR/lg4.f32" 1 28 28 1e-4
}

@test "--tta none is the default export: the same bytes, output 'logits', no softmax, no nash.tta" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	nash-export --onnx -o "$d/a.onnx" "$m"
	nash-export --onnx --tta none -o "$d/b.onnx" "$m"
	cmp "$d/a.onnx" "$d/b.onnx"
	run -0 /usr/bin/python3 - "$d/a.onnx" <<-'PY'
		import sys, onnx
		m = onnx.load(sys.argv[1])
		ops = {n.op_type for n in m.graph.node}
		print([o.name for o in m.graph.output], m.graph.doc_string, sorted(p.key for p in m.metadata_props),
		      sorted(ops & {"Softmax", "Pad", "Slice", "Gather"}))
	PY
	assert_output "['logits'] input 'image': float32 pixels 0..255 [N,C,H,W], normalised inside; output 'logits' [N,classes] ['nash.class_names', 'nash.classes', 'nash.dataset', 'nash.id', 'nash.input'] []"
}

@test "--tta flip and flip-shift: the checker accepts the graphs, whose output 'probabilities' says what it is" {
	need_models
	d=$BATS_FILE_TMPDIR
	nash-export --onnx -o "$d/t4.onnx" "$d/t4.h5"
	for t in flip flip-shift; do
		nash-export --onnx --tta $t -o "$d/t4.$t.onnx" "$d/t4.h5"
	done
	run -0 /usr/bin/python3 "$BATS_TEST_DIRNAME/../onnx/check.py" --ops "$d/t4.flip.onnx" "$d/t4.flip-shift.onnx"
	assert_output --partial "2 models pass onnx.checker"
	assert_line --regexp "^ops: .*Gather .*Slice Softmax"
	assert_line --regexp "^ops: .*Pad .*Slice Softmax"
	run -0 /usr/bin/python3 - "$d/t4.flip-shift.onnx" "$d/t4.onnx" <<-'PY'
		import sys, onnx
		m, plain = onnx.load(sys.argv[1]), onnx.load(sys.argv[2])
		out = m.graph.output[0]
		print(out.name, [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim])
		print(out.doc_string)
		print(m.graph.doc_string)
		print({p.key: p.value for p in m.metadata_props}["nash.tta"])
		# one network, run once on the views stacked along the batch: each conv once, as without TTA
		convs = lambda g: [n.name for n in g.graph.node if n.op_type == "Conv"]
		print(convs(m) == convs(plain) and len(convs(m)) > 0)
	PY
	assert_line -n 0 "probabilities ['N', 10]"
	assert_line -n 1 --partial "softmax probabilities (not logits)"
	assert_line -n 2 --partial "output 'probabilities' [N,classes]: the mean softmax of the image's views, as nash-train --tta flip-shift evaluates"
	assert_line -n 3 "flip-shift"
	assert_line -n 4 "True"
}

@test "onnxruntime on the TTA graphs gives nash's own TTA probabilities on 300 test images to 1e-5" {
	need_models
	[ ! -f "$NODE_DIR/UNAVAILABLE" ] || skip "onnxruntime-node not installed: $(cat "$NODE_DIR/UNAVAILABLE")"
	d=$BATS_FILE_TMPDIR
	for model in t0 t4; do
		for t in flip flip-shift; do
			nash-export --onnx --tta $t -o "$d/$model.$t.onnx" "$d/$model.h5"
			"$NASH_BUILD/tests/nash_logits" "$d/$model.h5" fashion-mnist 300 cpu "$BATS_TEST_TMPDIR/im.u8" "$BATS_TEST_TMPDIR/p.f32" $t "$BATS_TEST_TMPDIR/y.u8" >/dev/null
			run -0 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../onnx/compare.js" \
				"$d/$model.$t.onnx" "$BATS_TEST_TMPDIR/im.u8" "$BATS_TEST_TMPDIR/p.f32" 1 28 28 1e-5 "$BATS_TEST_TMPDIR/y.u8"
			assert_output --regexp "^probabilities: images=300 .* same_class=300/300 accuracy_onnx=([0-9.]+) accuracy_nash=\1\$"
			echo "# $model --tta $t: $output" >&3
		done
	done
	# the views matter: nash's flip probabilities are not the flip-shift graph's
	"$NASH_BUILD/tests/nash_logits" "$d/t4.h5" fashion-mnist 300 cpu "$BATS_TEST_TMPDIR/im.u8" "$BATS_TEST_TMPDIR/p.f32" flip "$BATS_TEST_TMPDIR/y.u8" >/dev/null
	run -1 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../onnx/compare.js" \
		"$d/t4.flip-shift.onnx" "$BATS_TEST_TMPDIR/im.u8" "$BATS_TEST_TMPDIR/p.f32" 1 28 28 1e-5
}

@test "the flip-shift graph's accuracy on a whole test set is nash-train --epochs 0 --eval test --tta flip-shift's" {
	need_models
	[ ! -f "$NODE_DIR/UNAVAILABLE" ] || skip "onnxruntime-node not installed: $(cat "$NODE_DIR/UNAVAILABLE")"
	d=$BATS_FILE_TMPDIR
	# the fixture's 200 test images (images of the same shape and classes): two independent
	# paths to one figure, nash-train's evaluation and onnxruntime's, not the accuracy itself
	nash-export --onnx --tta flip-shift -o "$d/t4.fs.onnx" "$d/t4.h5"
	run -0 nash-train --data "$FMNIST" --epochs 0 --eval test --tta flip-shift -o /dev/null "$d/t4.h5"
	acc=$(sed -n 's/.*test_accuracy=\([0-9.]*\) tta=flip-shift$/\1/p' <<<"$output")
	[ -n "$acc" ]
	"$NASH_BUILD/tests/nash_logits" "$d/t4.h5" "$FMNIST" 200 cpu "$BATS_TEST_TMPDIR/im.u8" "$BATS_TEST_TMPDIR/p.f32" flip-shift "$BATS_TEST_TMPDIR/y.u8" >/dev/null
	run -0 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../onnx/compare.js" \
		"$d/t4.fs.onnx" "$BATS_TEST_TMPDIR/im.u8" "$BATS_TEST_TMPDIR/p.f32" 1 28 28 1e-5 "$BATS_TEST_TMPDIR/y.u8"
	assert_output --partial "images=200 "
	assert_output --partial " accuracy_onnx=$acc accuracy_nash=$acc"
	echo "# nash-train $acc; $output" >&3
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
	assert_output "['nash.classes', 'nash.dataset', 'nash.id', 'nash.input']"

	[ ! -f "$NODE_DIR/UNAVAILABLE" ] || skip "onnxruntime-node not installed: $(cat "$NODE_DIR/UNAVAILABLE")"
	local img="$d/t/big cat, striped/0.png"
	run -0 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../../examples/classify.js" "$d/c.onnx" "$img"
	assert_output --regexp "^$d/t/big cat, striped/0\.png"$'\t(big cat, striped|café "crème"|ñandú \\\\ 🐦)\t(0\\.[0-9]{4}|1\\.0000)$'
	# a graph with test-time augmentation outputs probabilities, printed as they are
	nash-export --onnx --tta flip-shift -o "$d/c.tta.onnx" "$d/c.h5"
	run -0 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../../examples/classify.js" "$d/c.tta.onnx" "$img"
	assert_output --regexp "^$d/t/big cat, striped/0\.png"$'\t(big cat, striped|café "crème"|ñandú \\\\ 🐦)\t(0\\.[0-9]{4}|1\\.0000)$'
	run -0 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../../examples/classify.js" "$d/old.onnx" "$img"
	assert_output --regexp $'\t[012]\t'
	run -0 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../../examples/classify.js" --classes x,y,z "$d/old.onnx" "$img"
	assert_output --regexp $'\t[xyz]\t'
}

@test "classify.js: a PNG or JPEG of another size, resized as nash-data pack --resize does (Pillow's bilinear)" {
	d=$BATS_TEST_TMPDIR
	/usr/bin/python3 - "$d" <<-'PY'
		import os, sys, numpy as np
		from PIL import Image
		d = sys.argv[1]
		rng = np.random.default_rng(7)
		for c in ('a', 'b', 'c'):
		    os.makedirs(os.path.join(d, 't', c))
		    for i in range(4):
		        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(os.path.join(d, 't', c, '%d.png' % i))
		# a 12x20 photo: the same network's input, 8x8, through Pillow's resize, and as a JPEG
		im = Image.fromarray(rng.integers(0, 256, (12, 20, 3), dtype=np.uint8))
		im.save(os.path.join(d, 'big.png'))
		im.resize((8, 8), Image.BILINEAR).save(os.path.join(d, 'small.png'))
		im.save(os.path.join(d, 'big.jpg'), quality=95, subsampling=0) # 4:4:4 (below)
		Image.open(os.path.join(d, 'big.jpg')).convert('RGB').resize((8, 8), Image.BILINEAR).save(os.path.join(d, 'jpg-small.png'))
	PY
	nash-data pack "$d/t" --resize 8x8 --test-fraction 0.25 -o "$d/n.h5" 2>/dev/null
	nash-init --dataset "h5:$d/n.h5" --widths 4,8 --val 2 --seed 3 -o "$d/m.h5"
	nash-export --onnx -o "$d/m.onnx" "$d/m.h5"
	run -0 /usr/bin/python3 -c 'import onnx, sys; print({p.key: p.value for p in onnx.load(sys.argv[1]).metadata_props}["nash.input"])' "$d/m.onnx"
	assert_output "3,8,8"
	[ ! -f "$NODE_DIR/UNAVAILABLE" ] || skip "onnxruntime-node not installed: $(cat "$NODE_DIR/UNAVAILABLE")"
	classify() { env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../../examples/classify.js" "$@" | cut -f 2-; }
	# resized in classify.js: the very class and probability of Pillow's resize
	run -0 classify "$d/m.onnx" "$d/small.png"
	want=$output
	run -0 classify "$d/m.onnx" "$d/big.png"
	assert_output "$want"
	# a JPEG: jpeg-js's decoding against libjpeg's (Pillow's): without chroma subsampling they
	# differ by rounding, 3 units at most here (mean 0.5); the same class, nearly the same
	# probability (with 4:2:0 subsampling their chroma upsampling differs: docs/EXPORT.md)
	run -0 classify "$d/m.onnx" "$d/jpg-small.png"
	want=$output
	run -0 classify "$d/m.onnx" "$d/big.jpg"
	[ "${output%%	*}" = "${want%%	*}" ]
	awk -v a="${output#*	}" -v b="${want#*	}" 'BEGIN { d = a - b; exit !(d < 0.01 && d > -0.01) }'
	# neither a PNG nor a JPEG
	echo "not an image" >"$d/x.gif"
	run -1 env NODE_PATH="$NODE_DIR/node_modules" node "$BATS_TEST_DIRNAME/../../examples/classify.js" "$d/m.onnx" "$d/x.gif"
	assert_output "classify.js: $d/x.gif: not a PNG file"
}
