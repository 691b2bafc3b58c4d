# Shared by the tests of nash-data (nash-data.bats, nash-data-pack.bats, nash-data-images.bats):
# the Python with Pillow and h5py, the fixtures' image tool, images written by PIL, and the check
# that a refused command wrote nothing.

PY=/usr/bin/python3
IMAGES="$BATS_TEST_DIRNAME/../fixtures/images.py"

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
