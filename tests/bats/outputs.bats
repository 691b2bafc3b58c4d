#!/usr/bin/env bats
# Where the tools write OUT (-o; lib/base/atomic.c for all of them): a regular file or a new
# name is replaced atomically, a symbolic link's target is replaced and the link stays a link,
# a character device, FIFO or socket is written in place, and a directory or a block device is
# an error. Device nodes are private ones made with mknod in the test's own directory (so root
# only), never those in /dev.
load common

PY=/usr/bin/python3
TOOLS="nash-init nash-morph nash-train nash-export nash-data nash-ensemble nash-select"

setup_file() {
	d=$BATS_FILE_TMPDIR
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 -o "$d/seed.h5"
	nash-train --data "$FMNIST" --limit 64 --batch 32 --epochs 1 -o "$d/trained.h5" "$d/seed.h5" >/dev/null 2>&1
	# an image tree for nash-data pack: two classes of four 8x8 PNGs
	$PY -c 'import os, sys
from PIL import Image
for c in ("cat", "dog"):
    os.makedirs(sys.argv[1] + "/" + c)
    for i in range(4):
        Image.new("L", (8, 8), 40 * i + 100 * (c == "dog")).save("%s/%s/%d.png" % (sys.argv[1], c, i))' "$d/png"
	for t in $TOOLS; do
		job $t "$d/expected.$t" >/dev/null 2>&1
	done
}

# Runs TOOL's small job, writing to OUT: job TOOL OUT
job() {
	local d=$BATS_FILE_TMPDIR
	case $1 in
	nash-init) nash-init --dataset "$FMNIST" --widths 4,8 --val 200 -o "$2" ;;
	nash-morph) nash-morph -n 1 --seed 3 -o "$2" "$d/seed.h5" ;;
	nash-train) nash-train --data "$FMNIST" --limit 64 --batch 32 --epochs 1 -o "$2" "$d/seed.h5" ;;
	nash-export) nash-export --onnx -o "$2" "$d/seed.h5" ;;
	nash-data) nash-data pack "$d/png" -o "$2" ;;
	nash-ensemble) nash-ensemble --data "$FMNIST" -o "$2" "$d/trained.h5" ;;
	nash-select) nash-select -o "$2" "$d/trained.h5" ;;
	esac
}

# Whether FILE is what TOOL's job writes: the bytes it wrote to a file in setup_file
# (nash-train's vary with its timings: a model it can read).
is_output() {
	case $1 in
	nash-train) nash-show "$2" >/dev/null ;;
	*) cmp "$2" "$BATS_FILE_TMPDIR/expected.$1" ;;
	esac
}

# Skips unless this test may make device nodes and open them (root, and no nodev mount).
need_mknod() {
	[ "$(id -u)" = 0 ] || skip "mknod needs root"
	mknod "$BATS_TEST_TMPDIR/probe" c 1 3 || skip "mknod failed"
	echo x 2>/dev/null >"$BATS_TEST_TMPDIR/probe" || skip "device nodes cannot be opened here (nodev)"
	rm "$BATS_TEST_TMPDIR/probe"
}

@test "a character device is written in place: a private null takes it all, a private full fails" {
	need_mknod
	mknod "$BATS_TEST_TMPDIR/null" c 1 3
	mknod "$BATS_TEST_TMPDIR/full" c 1 7
	for t in $TOOLS; do
		run -0 job $t "$BATS_TEST_TMPDIR/null"
		[ -c "$BATS_TEST_TMPDIR/null" ] || fail "$t replaced the device null"
		run -1 job $t "$BATS_TEST_TMPDIR/full"
		assert_output --partial "$t: $BATS_TEST_TMPDIR/full: No space left on device"
		[ -c "$BATS_TEST_TMPDIR/full" ] || fail "$t replaced the device full"
	done
	run ls -A "$BATS_TEST_TMPDIR"
	assert_output "$(printf 'full\nnull')" # and no temporary file beside them
}

@test "a FIFO is written in place, to its reader" {
	f=$BATS_TEST_TMPDIR/fifo
	mkfifo "$f"
	for t in $TOOLS; do
		# the timeout only ends a reader left waiting when the test has already failed
		timeout 60 cat "$f" >"$BATS_TEST_TMPDIR/read" 3>&- &
		reader=$!
		run -0 job $t "$f"
		[ -p "$f" ] || { kill $reader; fail "$t replaced the FIFO"; }
		wait $reader
		is_output $t "$BATS_TEST_TMPDIR/read" || fail "$t: what the FIFO's reader got is not its output"
	done
}

@test "a Unix socket is written to whoever listens on it" {
	s=$BATS_TEST_TMPDIR/sock
	mkfifo "$BATS_TEST_TMPDIR/ready"
	for t in $TOOLS; do
		rm -f "$s"
		# listens, then takes the socket's name (so it can be connected to once it exists),
		# says so on the FIFO ready, and saves what one connection sends
		timeout 60 $PY -c 'import os, socket, sys
sock, out, ready = sys.argv[1:]
try:
    s = socket.socket(socket.AF_UNIX)
    s.bind(sock + ".new")
    s.listen(1)
    os.rename(sock + ".new", sock)
finally:
    open(ready, "w").write("ready\n")
c = s.accept()[0]
with open(out, "wb") as f:
    for b in iter(lambda: c.recv(65536), b""):
        f.write(b)' "$s" "$BATS_TEST_TMPDIR/read" "$BATS_TEST_TMPDIR/ready" 3>&- &
		listener=$!
		read -r _ <"$BATS_TEST_TMPDIR/ready"
		run -0 job $t "$s"
		[ -S "$s" ] || { kill $listener; fail "$t replaced the socket"; }
		wait $listener
		is_output $t "$BATS_TEST_TMPDIR/read" || fail "$t: what the listener got is not its output"
	done
}

@test "a symbolic link's target is replaced atomically and the link stays a link" {
	d=$BATS_TEST_TMPDIR
	mkdir "$d/in" "$d/models"
	ln -s ../models/out "$d/in/link"     # relative: to the link's own directory
	ln -s "$d/in/link" "$d/chain"        # a chain of links
	ln -s "$d/models/new" "$d/dangling" # its target does not exist yet
	for t in $TOOLS; do
		echo old >"$d/models/out"
		run -0 job $t "$d/in/link"
		[ -L "$d/in/link" ] && [ "$(readlink "$d/in/link")" = ../models/out ] || fail "$t replaced the link"
		is_output $t "$d/models/out" || fail "$t: the link's target is not its output"
		echo old >"$d/models/out"
		run -0 job $t "$d/chain"
		[ -L "$d/chain" ] && [ -L "$d/in/link" ] || fail "$t replaced a link of the chain"
		is_output $t "$d/models/out" || fail "$t: the chain's target is not its output"
		rm -f "$d/models/new"
		run -0 job $t "$d/dangling"
		[ -L "$d/dangling" ] || fail "$t replaced the dangling link"
		is_output $t "$d/models/new" || fail "$t: the dangling link's new target is not its output"
	done
	run ls -A "$d/in" "$d/models"
	refute_output --partial ".tmp" # every temporary file renamed, each beside its target
	ln -s loop "$d/loop"
	run -1 job nash-init "$d/loop"
	assert_output "nash-init: $d/loop: Too many levels of symbolic links"
}

@test "a directory is refused, and so is a block device" {
	mkdir "$BATS_TEST_TMPDIR/dir"
	for t in $TOOLS; do
		run -1 job $t "$BATS_TEST_TMPDIR/dir"
		assert_output --partial "$t: $BATS_TEST_TMPDIR/dir: is a directory; an output must be a file, a character device, a FIFO or a socket"
	done
	run ls -A "$BATS_TEST_TMPDIR/dir"
	assert_output ""
	run ls -A "$BATS_TEST_TMPDIR"
	assert_output dir
	need_mknod
	mknod "$BATS_TEST_TMPDIR/loop" b 7 0 # a private node of loop0: refused before it is opened
	for t in $TOOLS; do
		run -1 job $t "$BATS_TEST_TMPDIR/loop"
		assert_output --partial "$t: $BATS_TEST_TMPDIR/loop: is a block device; an output must be"
		[ -b "$BATS_TEST_TMPDIR/loop" ] || fail "$t replaced the block device"
	done
}
