#!/usr/bin/env bats
# nash-data: pack (image folders, decoded and resized as Pillow does), convert (byte for byte
# the built-in readers' data), info; h5:FILE in nash-init/nash-train; every bad input an error
# naming the file with nothing written; h5py-written files accepted, broken ones refused.

load common

PY=/usr/bin/python3
IMAGES="$BATS_TEST_DIRNAME/../fixtures/images.py"

setup_file() {
	# a PNG tree from the CIFAR-10 fixture: train/<class>/*.png, test/<class>/*.png
	nash-data convert "$CIFAR10" -o "$BATS_FILE_TMPDIR/c10.h5"
	$PY "$IMAGES" tree "$BATS_FILE_TMPDIR/c10.h5" "$BATS_FILE_TMPDIR/png"
}

# No output file, nor a temporary one, in directory $1.
assert_nothing_written() {
	run ls -A "$1"
	assert_output ""
}

# Writes image files with PIL: pil FILE MODE HxW VALUE [FORMAT]
pil() {
	$PY -c 'import sys; from PIL import Image
f, mode, size, v = sys.argv[1:5]; h, w = map(int, size.split("x"))
Image.new(mode, (w, h), eval(v)).save(f, *(sys.argv[5:6]))' "$@"
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

@test "nash-data pack: PNG tree round trip -> info -> nash-init -> nash-train" {
	local d=$BATS_TEST_TMPDIR p=$BATS_FILE_TMPDIR/png
	run -0 nash-data pack "$p/train" --test "$p/test" --name tiny -o "$d/tiny.h5"
	# the same images and labels as the file the PNGs came from (PNG is lossless)
	$PY - "$d/tiny.h5" "$BATS_FILE_TMPDIR/c10.h5" <<-'EOF'
		import sys, h5py
		a, b = (h5py.File(p, "r") for p in sys.argv[1:])
		assert [n.decode() for n in a.attrs["class_names"]] == [n.decode() for n in b.attrs["class_names"]]
		for s in ("train", "test"):
		    key = lambda f: sorted(bytes([l]) + x.tobytes() for x, l in zip(f[s + "/images"][:], f[s + "/labels"][:]))
		    assert key(a) == key(b), s
		# shuffled, not sorted by class: the validation split must see every class
		assert len(set(a["train/labels"][-100:])) == 10
	EOF
	run -0 nash-data info "$d/tiny.h5"
	assert_line "name       tiny"
	assert_line "train      600 images"
	run -0 nash-init --dataset "h5:$d/tiny.h5" --widths 4,8 --val 100 -o "$d/seed.h5"
	run -0 nash-show "$d/seed.h5"
	assert_output --partial "dataset     tiny (3x32x32, 10 classes), 100 validation images held out"
	run -0 nash-train --data "h5:$d/tiny.h5" --epochs 1 --limit 300 "$d/seed.h5" -o "$d/t.h5"
	assert_output --regexp "val_accuracy=0\.[0-9]{4}"
	run -0 nash-train --data "h5:$d/tiny.h5" --epochs 0 --eval test "$d/t.h5"
	assert_output --regexp "test_accuracy=0\.[0-9]{4}"
	# deterministic: the same tree and options give the same bytes
	nash-data pack "$p/train" --test "$p/test" --name tiny -o "$d/again.h5"
	cmp "$d/tiny.h5" "$d/again.h5"
}

@test "nash-data pack: --test-fraction holds out a seeded part of every class" {
	local d=$BATS_TEST_TMPDIR p=$BATS_FILE_TMPDIR/png
	nash-data pack "$p/train" --test-fraction 0.25 --seed 5 -o "$d/a.h5"
	nash-data pack "$p/train" --test-fraction 0.25 --seed 5 -o "$d/b.h5"
	nash-data pack "$p/train" --test-fraction 0.25 --seed 6 -o "$d/c.h5"
	cmp "$d/a.h5" "$d/b.h5"
	! cmp -s "$d/a.h5" "$d/c.h5"
	# default name: of DIR/train, DIR's (below); per class round(0.25 n) test images
	$PY - "$d/a.h5" "$p/train" <<-'EOF'
		import sys, os, h5py, numpy as np
		f = h5py.File(sys.argv[1], "r")
		assert f.attrs["name"] == b"png", f.attrs["name"]
		names = [n.decode() for n in f.attrs["class_names"]]
		assert names == sorted(os.listdir(sys.argv[2]))
		for k, name in enumerate(names):
		    n = len(os.listdir(os.path.join(sys.argv[2], name)))
		    t = int((f["test/labels"][:] == k).sum())
		    assert t == max(1, min(n - 1, int(np.floor(0.25 * n + 0.5)))), (name, n, t)
		    assert t + int((f["train/labels"][:] == k).sum()) == n
	EOF
	run -0 nash-data pack "$p/train" -o "$d/default.h5"
	run -0 nash-data info "$d/default.h5"
	assert_line --regexp "^test +[0-9]+ images$"
}

@test "nash-data pack: names the dataset after its folder, or after X for X/train; a one-line summary on stderr" {
	local d=$BATS_TEST_TMPDIR p=$BATS_FILE_TMPDIR/png
	mkdir "$d/pets" && cp -r "$p/train" "$p/test" "$d/pets/"
	name_of() { $PY -c 'import sys, h5py; print(h5py.File(sys.argv[1], "r").attrs["name"].decode())' "$1"; }
	run -0 nash-data pack "$d/pets/train/" --test "$d/pets/test" -o "$d/a.h5"
	assert_output "nash-data: packed 700 images (600 training, 100 test) of 10 classes, 3x32x32 (C x H x W), as dataset 'pets' into $d/a.h5"
	[ "$(name_of "$d/a.h5")" = pets ]
	# the names of ".", "train" and "../train" are looked up, not taken as written
	cd "$d/pets/train"
	nash-data pack . --test ../test -o "$d/b.h5" 2>/dev/null
	[ "$(name_of "$d/b.h5")" = pets ]
	nash-data pack ../train --test ../test -o "$d/c.h5" 2>/dev/null
	[ "$(name_of "$d/c.h5")" = pets ]
	cd "$d/pets"
	nash-data pack train --test test -o "$d/e.h5" 2>/dev/null
	[ "$(name_of "$d/e.h5")" = pets ]
	nash-data pack test --test train -o "$d/f.h5" 2>/dev/null
	[ "$(name_of "$d/f.h5")" = test ]
	# two datasets' training sets are two datasets: a model made for one refuses the other
	mkdir "$d/cars" && cp -r "$p/train" "$d/cars/"
	nash-data pack "$d/cars/train" -o "$d/cars.h5" 2>/dev/null
	nash-init --dataset "h5:$d/a.h5" --widths 4,8 --val 100 -o "$d/m.h5"
	run -1 nash-train --data "h5:$d/cars.h5" --epochs 1 "$d/m.h5" -o "$d/x.h5"
	assert_output --partial "the model is for the dataset 'pets', the data is 'cars'"
	run -0 --separate-stderr nash-data pack "$d/pets/train" -o - --name tiny
	[[ $stderr =~ ^nash-data:\ packed\ .*\ as\ dataset\ \'tiny\'\ into\ standard\ output$ ]]
	# a dataset file is binary: not written to a terminal
	run -2 script -qec "nash-data pack $d/pets/train" /dev/null
	assert_output --partial "nash-data: refusing to write a dataset file to a terminal; use -o FILE or redirect stdout"
}

@test "nash-data pack: a tree of sets, or of folders of classes, is refused with the command that packs it; notes beside the classes skipped" {
	local d=$BATS_TEST_TMPDIR p=$BATS_FILE_TMPDIR/png out=$BATS_TEST_TMPDIR/out
	mkdir "$out" "$d/pets" && cp -r "$p/train" "$p/test" "$d/pets/"
	run -1 nash-data pack "$d/pets" -o "$out/x.h5"
	assert_output "nash-data: $d/pets: class folders named 'test' and 'train': those are a dataset's sets, not classes; pack the sets as such: nash-data pack $d/pets/train --test $d/pets/test -o FILE.h5 (or give --force to take them as classes)"
	# the command it gives works
	run -0 nash-data pack "$d/pets/train" --test "$d/pets/test" -o "$out/pets.h5"
	rm "$out/pets.h5"
	mv "$d/pets/test" "$d/pets/Validation" && cp -r "$d/pets/Validation" "$d/pets/val"
	run -1 nash-data pack "$d/pets" -o "$out/x.h5"
	assert_output "nash-data: $d/pets: class folders named 'Validation', 'train' and 'val': those are a dataset's sets, not classes; pack the sets as such: nash-data pack $d/pets/train --test $d/pets/val -o FILE.h5 (or give --force to take them as classes)"
	rm -r "$d/pets/Validation" "$d/pets/val" && mkdir "$d/pets/cat" && cp "$p/train/cat/"0*.png "$d/pets/cat/"
	run -1 nash-data pack "$d/pets" -o "$out/x.h5"
	assert_output "nash-data: $d/pets: class folders named 'train': those are a dataset's sets, not classes; pack the sets as such: nash-data pack $d/pets/train -o FILE.h5 (or give --force to take them as classes)"
	assert_nothing_written "$out"
	# --force: as classes
	run -0 nash-data pack "$d/pets" --force -o "$out/forced.h5"
	run -0 nash-data info "$out/forced.h5"
	assert_line "classes    2"
	assert_line --regexp "^    1  train +[0-9]+ +[0-9]+$"
	rm "$out/forced.h5"
	# a class named like a set whose folder holds images is a class (CIFAR-100 has 'train')
	mkdir -p "$d/c100/train" "$d/c100/tractor" && cp "$p/train/cat/"0*.png "$d/c100/train/" && cp "$p/train/cat/"0*.png "$d/c100/tractor/"
	run -0 nash-data pack "$d/c100" -o "$out/c100.h5"
	rm "$out/c100.h5"

	# class folders holding only folders: the classes are a level down
	mkdir -p "$d/deep/part1" "$d/deep/part2"
	cp -r "$p/train/cat" "$p/train/dog" "$d/deep/part1/" && cp -r "$p/train/cat" "$p/train/dog" "$d/deep/part2/"
	run -1 nash-data pack "$d/deep" -o "$out/x.h5"
	assert_output "nash-data: $d/deep: the class folders hold only folders, no images of their own ($d/deep/part1 holds cat/): if the classes are a level down, pack that level: nash-data pack $d/deep/part1 -o FILE.h5 (or give --force to take each folder with its sub-folders as one class)"
	assert_nothing_written "$out"
	run -0 nash-data pack "$d/deep/part1" -o "$out/p1.h5"
	run -0 nash-data pack "$d/deep" --force -o "$out/deep.h5"
	run -0 nash-data info "$out/deep.h5"
	assert_line "classes    2"
	assert_line --regexp "^    1  part2 +[0-9]+ +[0-9]+$"
	# every image of each part, in its sub-folders, is its class's
	local total
	total=$(echo "$output" | awk '$1 == "train" || $1 == "test" { n += $2 } END { print n }')
	[ "$total" -eq $(($(find "$p/train/cat" "$p/train/dog" -name '*.png' | wc -l) * 2)) ]
	# one class folder of images is enough
	cp "$p/train/cat/"0*.png "$d/deep/part2/"
	run -0 nash-data pack "$d/deep" -o "$out/mixed.h5"

	# notes beside the class folders are skipped and named, in one line; hidden files silently
	mkdir "$d/notes" && cp -r "$p/train/cat" "$p/train/dog" "$d/notes/"
	echo "my pets" >"$d/notes/README" && echo a >"$d/notes/readme.md" && echo b >"$d/notes/labels.CSV"
	echo c >"$d/notes/notes.txt" && echo d >"$d/notes/.DS_Store"
	run -0 nash-data pack "$d/notes" --test "$d/deep/part1" -o "$out/n.h5"
	assert_line -n 0 "nash-data: $d/notes: skipped README, labels.CSV, notes.txt and 1 more beside the class folders (notes, not images)"
	assert_line -n 1 --regexp "^nash-data: packed [0-9]+ images"
	[ "${#lines[@]}" -eq 2 ]
	rm "$d/notes/README" "$d/notes/notes.txt" "$d/notes/labels.CSV"
	run -0 nash-data pack "$d/notes" -o "$out/n.h5"
	assert_line -n 0 "nash-data: $d/notes: skipped readme.md beside the class folders (notes, not images)"
	# anything else beside them is still an error, and so is a note inside a class folder
	echo e >"$d/notes/labels.json"
	run -1 nash-data pack "$d/notes" -o "$out/y.h5"
	assert_output --partial "nash-data: $d/notes/labels.json: not a folder ($d/notes must hold one folder of images per class, nothing else)"
	rm "$d/notes/labels.json" && echo f >"$d/notes/cat/notes.txt"
	run -1 nash-data pack "$d/notes" -o "$out/y.h5"
	assert_output --partial "nash-data: $d/notes/cat/notes.txt: not an image file"
	[ ! -e "$out/y.h5" ]
}

@test "nash-data pack: JPEG and PNG decode as Pillow decodes them; subfolders belong to their class" {
	local d=$BATS_TEST_TMPDIR
	$PY "$IMAGES" tree "$BATS_FILE_TMPDIR/c10.h5" "$d/mixed" mixed
	mkdir "$d/mixed/train/cat/more"
	mv "$d/mixed/train/cat/"0*.jpg "$d/mixed/train/cat/more/"
	nash-data pack "$d/mixed/train" --test "$d/mixed/test" -o "$d/m.h5"
	$PY - "$d/m.h5" "$d/mixed" <<-'EOF'
		import sys, glob, h5py, numpy as np
		from PIL import Image
		f = h5py.File(sys.argv[1], "r")
		names = [n.decode() for n in f.attrs["class_names"]]
		files = glob.glob(sys.argv[2] + "/train/**/*.*", recursive=True)
		want = sorted(bytes([names.index(p.split("/train/")[1].split("/")[0])]) + np.asarray(Image.open(p).convert("RGB")).tobytes() for p in files)
		got = sorted(bytes([l]) + x.tobytes() for x, l in zip(f["train/images"][:], f["train/labels"][:]))
		assert len(got) == len(want) == 600
		assert got == want, "decoded pixels differ from Pillow's"
	EOF
}

@test "nash-data pack: --resize is Pillow's bilinear to +-1; channels: gray, RGB, RGBA, palette" {
	local d=$BATS_TEST_TMPDIR
	mkdir -p "$d/t/a" "$d/t/b" "$d/t/c" "$d/s/a" "$d/s/b" "$d/s/c"
	# one image per class, so the label tells which image a packed one is
	$PY - "$d" <<-'EOF'
		import sys, numpy as np
		from PIL import Image
		d = sys.argv[1]
		rng = np.random.default_rng(3)
		Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(d + "/t/a/x.png")
		Image.fromarray(rng.integers(0, 256, (9, 7, 4), dtype=np.uint8)).save(d + "/t/b/x.png")    # RGBA, upscaled
		Image.fromarray(rng.integers(0, 256, (30, 30), dtype=np.uint8)).convert("P").save(d + "/t/c/x.png")
		for k in "abc":
		    Image.fromarray(rng.integers(0, 256, (12, 16), dtype=np.uint8)).save(d + "/s/%s/y.png" % k)
	EOF
	nash-data pack "$d/t" --test "$d/s" --resize 12x16 -o "$d/rgb.h5"
	nash-data pack "$d/t" --test "$d/s" --resize 12x16 --channels 1 -o "$d/l.h5"
	nash-data pack "$d/t" --test "$d/s" --resize 12x16 --channels 4 -o "$d/rgba.h5"
	nash-data pack "$d/s" --test "$d/s" -o "$d/gray.h5"
	$PY - "$d" <<-'EOF'
		import sys, h5py, numpy as np
		from PIL import Image
		d = sys.argv[1]
		def packed(name):
		    f = h5py.File(d + "/" + name, "r")
		    return {int(l): x.astype(int) for x, l in zip(f["train/images"][:], f["train/labels"][:])}
		def pil(k, mode):
		    im = Image.open(d + "/t/%s/x.png" % k).convert(mode).resize((16, 12), Image.BILINEAR)
		    a = np.asarray(im).astype(int)
		    return a[:, :, None] if a.ndim == 2 else a
		for name, mode in (("rgb.h5", "RGB"), ("l.h5", "L"), ("rgba.h5", "RGBA")):
		    got = packed(name)
		    for i, k in enumerate("abc"):
		        if mode == "RGBA" and k == "b":
		            continue  # Pillow resizes RGBA premultiplied; nash per channel (documented)
		        worst = np.abs(got[i] - pil(k, mode)).max()
		        assert worst <= 1, (name, k, worst)
		assert packed("rgba.h5")[0][:, :, 3].min() == 255  # no alpha: opaque
		g = h5py.File(d + "/gray.h5", "r")
		assert g["train/images"].shape[1:] == (12, 16, 1), g["train/images"].shape
		assert h5py.File(d + "/rgb.h5", "r")["train/images"].shape[1:] == (12, 16, 3)
	EOF
}

@test "nash-data pack: 16-bit PNG rounds to 8 bits, grayscale JPEG is 1 channel, CMYK JPEG refused" {
	local d=$BATS_TEST_TMPDIR
	mkdir -p "$d/t/a" "$d/t/b"
	$PY - "$d/t" <<-'EOF'
		import sys, numpy as np
		from PIL import Image
		Image.fromarray((np.arange(64).reshape(8, 8) * 1000).astype(np.uint16)).save(sys.argv[1] + "/a/x.png")
		Image.fromarray((np.arange(64).reshape(8, 8) * 4).astype(np.uint8)).save(sys.argv[1] + "/b/y.jpg")
		Image.new("CMYK", (8, 8), (1, 2, 3, 4)).save(sys.argv[1] + "/../cmyk.jpg")
	EOF
	nash-data pack "$d/t" --test "$d/t" -o "$d/p.h5"
	$PY - "$d/p.h5" "$d/t" <<-'EOF'
		import sys, h5py, numpy as np
		from PIL import Image
		f = h5py.File(sys.argv[1], "r")
		x = {int(l): im[:, :, 0].astype(int) for im, l in zip(f["train/images"][:], f["train/labels"][:])}
		assert f["train/images"].shape == (2, 8, 8, 1)
		want = np.floor(np.arange(64).reshape(8, 8) * 1000 / 257 + 0.5).astype(int)
		assert (x[0] == want).all(), x[0][0]
		assert (x[1] == np.asarray(Image.open(sys.argv[2] + "/b/y.jpg"))).all()
	EOF
	cp "$d/cmyk.jpg" "$d/t/b/"
	run -1 nash-data pack "$d/t" --test "$d/t" -o "$d/q.h5"
	assert_output "nash-data: $d/t/b/cmyk.jpg: JPEG: CMYK images are not supported; convert it to RGB"
	[ ! -e "$d/q.h5" ]
}

@test "nash-data pack: bad trees are errors naming the file, and nothing is written" {
	local d=$BATS_TEST_TMPDIR p=$BATS_FILE_TMPDIR/png out=$BATS_TEST_TMPDIR/out
	mkdir "$out"
	mk() { rm -rf "$d/t" && mkdir -p "$d/t/cat" "$d/t/dog" && cp "$p/train/cat/"*.png "$d/t/cat/" && cp "$p/train/dog/"*.png "$d/t/dog/"; }
	local one
	one=$(ls "$p/train/cat" | head -1)

	mk && echo hello >"$d/t/cat/notes.txt"
	run -1 nash-data pack "$d/t" -o "$out/x.h5"
	assert_output "nash-data: $d/t/cat/notes.txt: not an image file (expected .png, .jpg or .jpeg)"

	mk && echo "GIF89a" >"$d/t/dog/fake.png"
	run -1 nash-data pack "$d/t" -o "$out/x.h5"
	assert_output "nash-data: $d/t/dog/fake.png: not a PNG or JPEG file"

	mk && head -c 300 "$d/t/cat/$one" >"$d/t/cat/short.png"
	run -1 nash-data pack "$d/t" -o "$out/x.h5"
	assert_output --partial "nash-data: $d/t/cat/short.png: PNG: "

	mk && $PY -c 'import sys; from PIL import Image; Image.new("RGB", (32, 32), (1, 2, 3)).save(sys.argv[1], quality=90)' "$d/x.jpg"
	head -c 400 "$d/x.jpg" >"$d/t/cat/cut.jpg"
	run -1 nash-data pack "$d/t" -o "$out/x.h5"
	assert_output --partial "nash-data: $d/t/cat/cut.jpg: JPEG: "

	mk && ln -s "$d/nowhere.png" "$d/t/dog/link.png"
	run -1 nash-data pack "$d/t" -o "$out/x.h5"
	assert_output "nash-data: $d/t/dog/link.png: No such file or directory"

	if [ "$(id -u)" -ne 0 ]; then # root reads anything
		mk && chmod 000 "$d/t/dog/$(ls "$d/t/dog" | head -1)"
		run -1 nash-data pack "$d/t" -o "$out/x.h5"
		assert_output --partial "Permission denied"
	fi

	mk && mkdir "$d/t/fox"
	run -1 nash-data pack "$d/t" -o "$out/x.h5"
	assert_output "nash-data: $d/t/fox: no images in the class folder"

	mk && rm -r "$d/t/dog"
	run -1 nash-data pack "$d/t" -o "$out/x.h5"
	assert_output "nash-data: $d/t: only one class folder, 'cat'; a classifier needs at least two classes"

	mk && cp "$d/t/cat/$one" "$d/t/stray.png"
	run -1 nash-data pack "$d/t" -o "$out/x.h5"
	assert_output --partial "nash-data: $d/t/stray.png: not a folder"

	mk && mkdir "$d/t/Cat" && cp "$d/t/cat/$one" "$d/t/Cat/"
	run -1 nash-data pack "$d/t" -o "$out/x.h5"
	assert_output --partial "nash-data: $d/t/Cat and $d/t/cat: class names that differ only in case"

	mk && pil "$d/t/dog/zz.png" RGB 30x32 '(5, 5, 5)'
	run -1 nash-data pack "$d/t" -o "$out/x.h5"
	assert_output --partial "nash-data: $d/t/dog/zz.png: 30x32 image (H x W), but $d/t/cat/$one is 32x32"
	run -0 nash-data pack "$d/t" --resize 32x32 -o "$out/ok.h5"
	rm "$out/ok.h5"

	mk && mkdir -p "$d/s/cat" "$d/s/fox" && cp "$d/t/cat/$one" "$d/s/cat/" && cp "$d/t/cat/$one" "$d/s/fox/"
	run -1 nash-data pack "$d/t" --test "$d/s" -o "$out/x.h5"
	assert_output "nash-data: $d/t/dog: the class has no folder in the test tree $d/s"
	mkdir "$d/s/dog" && cp "$d/t/cat/$one" "$d/s/dog/"
	run -1 nash-data pack "$d/t" --test "$d/s" -o "$out/x.h5"
	assert_output "nash-data: $d/s/fox: the test tree's class is not one of $d/t's"

	mk && rm -r "$d/t/dog" && mkdir "$d/t/dog" && cp "$d/t/cat/$one" "$d/t/dog/"
	run -1 nash-data pack "$d/t" --test-fraction 0.5 -o "$out/x.h5"
	assert_output --partial "nash-data: $d/t/dog: 1 image: a test fraction needs at least 2 of every class"

	run -1 nash-data pack "$d/none" -o "$out/x.h5"
	assert_output "nash-data: $d/none: No such file or directory"
	assert_nothing_written "$out"
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

@test "nash-data pack: sizes are checked from each image's header, before decoding; over 4096 a side needs --resize" {
	local d=$BATS_TEST_TMPDIR out=$BATS_TEST_TMPDIR/out
	mkdir -p "$out" "$d/t/a" "$d/t/b" "$d/w/a" "$d/w/b"
	pil "$d/t/a/x.png" RGB 3x32 '(1, 2, 3)'
	pil "$d/t/b/y.png" RGB 3x4097 '(4, 5, 6)'
	run -1 nash-data pack "$d/t" --test "$d/t" -o "$out/x.h5"
	assert_output "nash-data: $d/t/b/y.png: 3x4097 image (H x W), larger than a dataset holds (at most 4096 a side); resize the images (nash-data pack --resize HxW)"
	# the first image, which sets the size, too
	pil "$d/w/a/x.jpg" RGB 4097x2 '(1, 2, 3)' JPEG
	pil "$d/w/b/y.jpg" RGB 4097x2 '(1, 2, 3)' JPEG
	run -1 nash-data pack "$d/w" --test "$d/w" -o "$out/x.h5"
	assert_output "nash-data: $d/w/a/x.jpg: 4097x2 image (H x W), larger than a dataset holds (at most 4096 a side); resize the images (nash-data pack --resize HxW)"
	assert_nothing_written "$out"
	run -0 nash-data pack "$d/t" --test "$d/t" --resize 3x32 -o "$out/t.h5"
	run -0 nash-data pack "$d/w" --test "$d/w" --resize 64x2 -o "$out/w.h5"
	# a header declaring more than the decoder takes: refused from a file of a few bytes
	$PY - "$d/t/b/y.png" <<-'EOF'
		import struct, sys, zlib
		def chunk(kind, data):
		    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
		ihdr = struct.pack(">IIBBBBB", 20000, 3, 8, 2, 0, 0, 0)
		open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b""))
	EOF
	run -1 nash-data pack "$d/t" --test "$d/t" --resize 3x32 -o "$out/x.h5"
	assert_output "nash-data: $d/t/b/y.png: PNG of 3x20000 pixels: too large (at most 16384 a side, 67108864 in all)"
}

@test "nash-data pack: a 2 GiB file is refused from its first bytes, or read only up to the image's end, in little memory" {
	local d=$BATS_TEST_TMPDIR out=$BATS_TEST_TMPDIR/out
	mkdir -p "$out" "$d/t/a" "$d/t/b"
	for f in a/x a/y b/x b/y; do pil "$d/t/$f.png" RGB 8x8 '(1, 2, 3)'; done
	printf 'not an image' >"$d/t/a/huge.png"
	truncate -s 2G "$d/t/a/huge.png" # sparse: no disk, no memory
	run -1 /usr/bin/time -f 'maxrss_kb %M' nash-data pack "$d/t" --threads 1 -o "$out/x.h5"
	assert_line "nash-data: $d/t/a/huge.png: not a PNG or JPEG file"
	[ "$(echo "$output" | awk '/maxrss_kb/ { print $2 }')" -lt 100000 ]
	assert_nothing_written "$out"
	# a real image with 2 GiB after its end: decoded up to the end, the rest never read
	cp "$d/t/a/x.png" "$d/t/a/huge.png"
	truncate -s 2G "$d/t/a/huge.png"
	run -0 /usr/bin/time -f 'maxrss_kb %M' nash-data pack "$d/t" --threads 1 -o "$out/x.h5"
	[ "$(echo "$output" | awk '/maxrss_kb/ { print $2 }')" -lt 100000 ]
}

@test "nash-data pack: --resize decodes a large JPEG at a reduced scale, as Pillow's draft, in little memory" {
	local d=$BATS_TEST_TMPDIR
	mkdir -p "$d/t/a" "$d/t/b"
	$PY - "$d/t" <<-'EOF'
		import sys
		from PIL import Image
		size = (4000, 3000)  # a camera photo: 12 Mpixel
		for k, seed in (("a", 0), ("b", 1)):
		    r = Image.linear_gradient("L").resize(size)
		    g = Image.effect_noise(size, 40 + 20 * seed)
		    b = Image.radial_gradient("L").resize(size)
		    Image.merge("RGB", (r, g, b)).save("%s/%s/p.jpg" % (sys.argv[1], k), quality=90)
	EOF
	run -0 /usr/bin/time -f 'maxrss_kb %M' nash-data pack "$d/t" --test "$d/t" --resize 32x32 --threads 1 -o "$d/s.h5"
	# decoded whole, the photo alone would take 48 MB as RGBA, and as much again to resize
	[ "$(echo "$output" | awk '/maxrss_kb/ { print $2 }')" -lt 60000 ]
	nash-data pack "$d/t" --test "$d/t" --resize 1000x1500 -o "$d/m.h5"
	$PY - "$d" <<-'EOF'
		import sys, h5py, numpy as np
		from PIL import Image
		d = sys.argv[1]
		for name, h, w in (("s.h5", 32, 32), ("m.h5", 1000, 1500)):  # 1/8, 1/2 scale
		    f = h5py.File(d + "/" + name, "r")
		    got = {int(l): x.astype(int) for x, l in zip(f["train/images"][:], f["train/labels"][:])}
		    for i, k in enumerate("ab"):
		        im = Image.open("%s/t/%s/p.jpg" % (d, k))
		        im.draft("RGB", (w, h))
		        want = np.asarray(im.convert("RGB").resize((w, h), Image.BILINEAR)).astype(int)
		        worst = np.abs(got[i] - want).max()
		        assert worst <= 1, (name, k, worst)
	EOF
}

@test "nash-data pack: names from files and folders are escaped in messages, the reason kept after a long path" {
	local d=$BATS_TEST_TMPDIR p=$BATS_FILE_TMPDIR/png out=$BATS_TEST_TMPDIR/out
	mkdir "$out"
	mk() { rm -rf "$d/t" && mkdir -p "$d/t/cat" "$d/t/dog" && cp "$p/train/cat/"*.png "$d/t/cat/" && cp "$p/train/dog/"*.png "$d/t/dog/"; }
	local one
	one=$(ls "$p/train/cat" | head -1)

	# a newline in a file name cannot forge a line; an escape sequence cannot reach the terminal
	mk && echo junk >"$d/t/cat/evil"$'\n'"nash-data: all good.png"
	run -1 nash-data pack "$d/t" -o "$out/x.h5"
	assert_output "nash-data: $d/t/cat/evil\\nnash-data: all good.png: not a PNG or JPEG file"
	[ "${#lines[@]}" -eq 1 ]
	mk && echo junk >"$d/t/dog/red"$'\e[31m'"text.png"
	run -1 nash-data pack "$d/t" -o "$out/x.h5"
	assert_output "nash-data: $d/t/dog/red\\x1b[31mtext.png: not a PNG or JPEG file"

	# UTF-8 text is shown as it is
	mk && mkdir "$d/t/chat noir" && echo junk >"$d/t/chat noir/été.png"
	run -1 nash-data pack "$d/t" --test "$d/t" -o "$out/x.h5"
	assert_output "nash-data: $d/t/chat noir/été.png: not a PNG or JPEG file"

	# a class folder whose name cannot be a class name is named
	mk && mkdir "$d/t/do"$'\n'"g" && cp "$d/t/cat/$one" "$d/t/do"$'\n'"g/"
	run -1 nash-data pack "$d/t" -o "$out/x.h5"
	assert_output "nash-data: $d/t/do\\ng: a class folder's name must be UTF-8 text without control characters (it becomes the class's name); rename the folder"
	mk && mkdir "$d/t/caf"$'\xe9' && cp "$d/t/cat/$one" "$d/t/caf"$'\xe9/'
	run -1 nash-data pack "$d/t" -o "$out/x.h5"
	assert_output --partial "nash-data: $d/t/caf\\xe9: a class folder's name must be UTF-8 text"
	mk && mv "$d/t/dog" "$d/t/do"$'\x1b'"g"
	run -1 nash-data pack "$d/t" --test "$p/train" -o "$out/x.h5"
	assert_output --partial "nash-data: $d/t/do\\x1bg: a class folder's name must be UTF-8 text"

	# a path of 1,200 bytes is shortened in the middle: the reason stays whole
	local deep=$d/t/cat n=$(printf 'n%.0s' $(seq 230))
	mk && for _ in 1 2 3 4 5; do deep=$deep/$n; done
	mkdir -p "$deep" && echo junk >"$deep/bad.png"
	run -1 nash-data pack "$d/t" -o "$out/x.h5"
	assert_output --regexp "^nash-data: $d/t/cat/n+\.\.\.n+/bad\.png: not a PNG or JPEG file$"
	[ "${#output}" -lt 400 ]
	assert_nothing_written "$out"
}
