#!/usr/bin/env bats
# nash-data pack: image folders to a dataset file (info, nash-init and nash-train read it), the
# held-out test part, the dataset's name, trees that are not folders of classes refused with the
# command that packs them, bad trees an error naming the file with nothing written, names
# escaped in messages. How the images decode: nash-data-images.bats.

load common
load data

setup_file() {
	# a PNG tree from the CIFAR-10 fixture: train/<class>/*.png, test/<class>/*.png
	nash-data convert "$CIFAR10" -o "$BATS_FILE_TMPDIR/c10.h5"
	$PY "$IMAGES" tree "$BATS_FILE_TMPDIR/c10.h5" "$BATS_FILE_TMPDIR/png"
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
