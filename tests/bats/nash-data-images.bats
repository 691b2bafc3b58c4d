#!/usr/bin/env bats
# nash-data pack's images: JPEG and PNG decoded, and resized, as Pillow does; channels and bit
# depths; sizes checked from the headers before decoding; huge files refused or read in little
# memory. The folder trees themselves: nash-data-pack.bats.

load common
load data

setup_file() {
	# the CIFAR-10 fixture as a dataset file, for images.py's trees
	nash-data convert "$CIFAR10" -o "$BATS_FILE_TMPDIR/c10.h5"
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
