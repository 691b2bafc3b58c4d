#!/usr/bin/env bats
# nash-data: convert (byte for byte the built-in readers' data), info, usage errors; h5:FILE in
# nash-init/nash-train, a model refusing data of another shape; h5py-written files accepted
# (docs/DATASETS.md's example), broken ones refused. Packing image folders: nash-data-pack.bats;
# decoding and resizing images: nash-data-images.bats.

load common
load data

setup_file() {
	# a PNG tree from the CIFAR-10 fixture: train/<class>/*.png, test/<class>/*.png
	nash-data convert "$CIFAR10" -o "$BATS_FILE_TMPDIR/c10.h5"
	$PY "$IMAGES" tree "$BATS_FILE_TMPDIR/c10.h5" "$BATS_FILE_TMPDIR/png"
}

@test "nash-data: --help, --version and usage errors" {
	run -0 nash-data --help
	assert_output --partial "Usage: nash-data pack DIR"
	run -0 nash-data pack --help
	assert_output --partial "--test-fraction F"
	assert_output --partial "--force"
	run -0 nash-data --version
	assert_output --regexp "^nash-data \(nash\) [0-9]"
	run -2 nash-data
	assert_output --partial "missing command: pack, convert or info"
	run -2 nash-data frobnicate
	assert_output --partial "unknown command 'frobnicate'"
	run -2 nash-data pack
	assert_output --partial "pack: missing DIR"
	run -2 nash-data pack a --test b --test-fraction 0.2 -o x.h5
	assert_output --partial "--test and --test-fraction exclude each other"
	run -2 nash-data pack a --resize 32 -o x.h5
	assert_output --partial "--resize: '32' is not HxW"
	run -2 nash-data pack a --channels 2 -o x.h5
	assert_output --partial "--channels: 2 is not 1, 3 or 4"
	run -2 nash-data pack a --test-fraction 1 -o x.h5
	assert_output --partial "--test-fraction"
	run -2 nash-data convert "$CIFAR10" --seed 3 -o x.h5
	assert_output --partial "convert takes only -o"
	run -2 nash-data convert h5:x.h5 -o y.h5
	assert_output --partial "is a dataset file already"
	run -2 nash-data info
	assert_output --partial "info: missing FILE"
	run -2 nash-data pack "$BATS_FILE_TMPDIR/png/train" --name "my pets" -o x.h5
	assert_output --partial "dataset name 'my pets'"
	run -2 nash-data pack "$BATS_FILE_TMPDIR/png/train" --name cifar10 -o x.h5
	assert_output --partial "dataset name 'cifar10' is a built-in dataset's"
	[ ! -e x.h5 ]
}

@test "nash-data convert: the built-in readers' bytes, as h5py sees them; a model trains on either identically" {
	local d=$BATS_TEST_TMPDIR f=$BATS_FILE_TMPDIR/c10.h5
	run -0 nash-data info "$f"
	assert_line "name       cifar10"
	assert_line "images     3x32x32 (C x H x W)"
	assert_line "train      600 images"
	assert_line "test       100 images"
	assert_line --regexp "^    3  cat +[0-9]+ +[0-9]+$"
	$PY -c 'import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
raw = np.concatenate([np.fromfile(sys.argv[2] + "/data_batch_%d.bin" % b, np.uint8).reshape(-1, 3073) for b in range(1, 6)])
assert (f["train/images"][:] == raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)).all()
assert (f["train/labels"][:] == raw[:, 0]).all()
assert [n.decode() for n in f.attrs["class_names"]][:2] == ["airplane", "automobile"]' "$f" "$FIX/cifar10"
	nash-init --dataset "$CIFAR10" --widths 4,8 --val 100 -o "$d/a.h5"
	nash-init --dataset "h5:$f" --widths 4,8 --val 100 -o "$d/b.h5"
	[ "$(graph_dump "$d/a.h5")" = "$(graph_dump "$d/b.h5")" ]
	run -0 nash-train --data "h5:$f" --epochs 1 --device cpu --threads 1 "$d/a.h5" -o "$d/ta.h5"
	local via_h5=${lines[-1]}
	run -0 nash-train --data "$CIFAR10" --epochs 1 --device cpu --threads 1 "$d/b.h5" -o "$d/tb.h5"
	[ "${lines[-1]}" = "$via_h5" ]
	[ "$(graph_dump "$d/ta.h5")" = "$(graph_dump "$d/tb.h5")" ]
	nash-data convert "$FMNIST" -o "$d/fm.h5"
	run -0 nash-data info "$d/fm.h5"
	assert_line --regexp "^    0  T-shirt/top +[0-9]+ +[0-9]+$"
}

@test "nash-data: the h5py example of docs/DATASETS.md is accepted end to end" {
	cd "$BATS_TEST_TMPDIR"
	awk '/^```python$/{p=1; next} /^```$/{p=0} p' "$BATS_TEST_DIRNAME/../../docs/DATASETS.md" >example.py
	[ "$(wc -l <example.py)" -ge 5 ]
	$PY example.py
	run -0 nash-data info mydata.h5
	assert_line "name       mydata"
	assert_line --regexp "^    2  fox +[0-9]+ +[0-9]+$"
	# the class names as fixed-length strings: nothing in HDF5's global heap
	run -0 h5dump -a class_names mydata.h5
	assert_line --regexp "STRSIZE 64;"
	refute_line --partial "H5T_VARIABLE"
	nash-init --dataset h5:mydata.h5 --widths 4,8 --val 100 -o seed.h5
	run -0 nash-train --data h5:mydata.h5 --epochs 1 seed.h5 -o t.h5
	assert_output --regexp "val_accuracy=0\.[0-9]{4}"
	# normalisation given by the file is the model's
	$PY -c 'import h5py; f = h5py.File("mydata.h5", "a"); f.attrs["norm_mean"] = [0.25, 0.5, 0.75]; f.attrs["norm_std"] = [0.5, 0.5, 0.5]'
	nash-init --dataset h5:mydata.h5 --widths 4,8 --val 100 -o normed.h5
	run -0 h5dump -a norm_mean normed.h5
	assert_output --regexp "0\.25, 0\.5, 0\.75"
}

@test "nash-data: broken dataset files are refused with the reason" {
	local d=$BATS_TEST_TMPDIR
	$PY "$IMAGES" bad "$d/bad" >"$d/cases"
	[ "$(wc -l <"$d/cases")" -ge 20 ]
	while IFS="$(printf '\t')" read -r name msg; do
		run -1 nash-data info "$d/bad/$name.h5"
		assert_output --partial "nash-data: $d/bad/$name.h5: $msg"
		run -1 nash-init --dataset "h5:$d/bad/$name.h5" --val 1
		assert_output --partial "$msg"
	done <"$d/cases"
	run -1 nash-data info "$d/none.h5"
	assert_output "nash-data: $d/none.h5: No such file or directory"
}

@test "nash-train/nash-ensemble: a model refuses data of another shape, class count or name" {
	local d=$BATS_TEST_TMPDIR p=$BATS_FILE_TMPDIR/png
	nash-data pack "$p/train" --test "$p/test" --name pets -o "$d/pets.h5"
	nash-data pack "$p/train" --test "$p/test" --name cars -o "$d/cars.h5"
	nash-data pack "$p/train" --test "$p/test" --name small --resize 16x16 -o "$d/small.h5"
	nash-init --dataset "h5:$d/pets.h5" --widths 4,8 --val 100 -o "$d/m.h5"
	run -1 nash-train --data "h5:$d/small.h5" --epochs 1 "$d/m.h5" -o "$d/x.h5"
	assert_output "nash-train: $d/m.h5: the model is for 3x32x32 images in 10 classes, the data small has 3x16x16 in 10"
	run -1 nash-train --data "h5:$d/cars.h5" --epochs 1 "$d/m.h5" -o "$d/x.h5"
	assert_output --partial "nash-train: $d/m.h5: the model is for the dataset 'pets', the data is 'cars'"
	run -1 nash-train --data "$FMNIST" --epochs 1 "$d/m.h5" -o "$d/x.h5"
	assert_output --partial "the model is for 3x32x32 images in 10 classes, the data fashion-mnist has 1x28x28"
	run -2 nash-train --epochs 1 "$d/m.h5" -o "$d/x.h5"
	assert_output --partial "the model is for the dataset pets; give its file with --data h5:FILE"
	run -1 nash-ensemble --data "h5:$d/cars.h5" "$d/m.h5"
	assert_output --partial "nash-ensemble: $d/m.h5: the model is for the dataset 'pets', the data is 'cars'"
	run -2 nash-ensemble "$d/m.h5" # the same words as nash-train's
	assert_output --partial "nash-ensemble: $d/m.h5: the model is for the dataset pets; give its file with --data h5:FILE"
	run -0 nash-ensemble --data "h5:$d/pets.h5" "$d/m.h5"
	[ ! -e "$d/x.h5" ]
}

@test "h5py interop: str attributes (variable-length UTF-8) are read in models and ensembles; non-ASCII refused" {
	local d=$BATS_TEST_TMPDIR m
	m=$(seed_model)
	cp "$m" "$d/m.h5"
	$PY -c 'import sys, h5py
f = h5py.File(sys.argv[1], "a"); f.attrs["dataset"] = "fashion-mnist"; f.attrs["model_id"] = "00000000000000ab"' "$d/m.h5"
	run -0 h5dump -a dataset "$d/m.h5"
	assert_output --partial "H5T_CSET_UTF8"
	run -0 nash-show "$d/m.h5"
	assert_output --partial "dataset     fashion-mnist (1x28x28, 10 classes)"
	assert_output --partial "00000000000000ab"
	run -0 nash-train --data "$FMNIST" --epochs 0 "$d/m.h5"
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed 2 -o "$d/m2.h5"
	nash-ensemble --eval none -o "$d/e.h5" "$d/m.h5" "$d/m2.h5"
	$PY -c 'import sys, h5py
f = h5py.File(sys.argv[1], "a"); f.attrs["format"] = "nash-ensemble"; f.attrs["dataset"] = "fashion-mnist"' "$d/e.h5"
	run -0 nash-ensemble --data "$FMNIST" "$d/e.h5"
	assert_output --partial "ensemble of 2"
	$PY -c 'import sys, h5py
f = h5py.File(sys.argv[1], "a"); f.attrs["dataset"] = "fashion-mn\u00efst"' "$d/m.h5"
	run -1 nash-show "$d/m.h5"
	assert_output "nash-show: $d/m.h5: attribute 'dataset' is not ASCII text"
}
