#!/usr/bin/env bats
# Broken and hostile model, checkpoint and ensemble files (docs/FORMAT.md, "Security"): made
# from real files by tests/bats/hostile.py (h5py), each must be refused with a clear error, no
# output left behind, nothing read from another file, no hang, no crash.
load common

setup_file() {
	have_h5py || return 0
	d=$BATS_FILE_TMPDIR
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 -o "$d/seed.h5"
	nash-train --data "$FMNIST" --limit 256 --batch 32 --epochs 1 -o "$d/a.h5" "$d/seed.h5" >/dev/null 2>&1
	nash-ensemble --data "$FMNIST" -o "$d/ens.h5" "$d/a.h5" "$d/seed.h5" >/dev/null 2>&1
}

setup() {
	have_h5py || skip "python3-h5py not installed"
	cp "$BATS_FILE_TMPDIR/seed.h5" "$BATS_TEST_TMPDIR/m.h5"
	cp "$BATS_FILE_TMPDIR/ens.h5" "$BATS_TEST_TMPDIR/e.h5"
	M=$BATS_TEST_TMPDIR/m.h5
	E=$BATS_TEST_TMPDIR/e.h5
}

hostile() { /usr/bin/python3 "$BATS_TEST_DIRNAME/hostile.py" "$@"; }

# A file of /etc/passwd-like text, the marker that must never reach any output.
marker_file() {
	for _ in $(seq 2000); do echo "root:x:0:0:NASH-MARKER:/root:/bin/bash"; done >"$1"
}

@test "external storage is refused, and its bytes reach no output" {
	marker_file "$BATS_TEST_TMPDIR/passwd"
	hostile external "$M" graph/009_dense/weight "$BATS_TEST_TMPDIR/passwd"
	run -1 nash-show "$M"
	assert_output --partial "graph/009_dense/weight: external storage"
	run -1 nash-morph -o "$BATS_TEST_TMPDIR/child.h5" "$M"
	assert_output --partial "external storage"
	[ ! -e "$BATS_TEST_TMPDIR/child.h5" ]
	run -1 nash-train --data "$FMNIST" --epochs 0 -o "$BATS_TEST_TMPDIR/t.h5" "$M"
	assert_output --partial "external storage"
	[ ! -e "$BATS_TEST_TMPDIR/t.h5" ]
	refute_output --partial "NASH-MARKER"
	! grep -rq "NASH-MARKER" "$BATS_TEST_TMPDIR" --exclude=passwd
}

@test "external storage on a FIFO is refused before anything is read" {
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	hostile external "$M" graph/001_conv/weight "$BATS_TEST_TMPDIR/fifo"
	run -1 timeout 20 nash-show "$M"
	assert_output --partial "external storage"
}

@test "a checkpoint with external storage is refused by nash-train" {
	marker_file "$BATS_TEST_TMPDIR/passwd"
	cp "$M" "$BATS_TEST_TMPDIR/ck.h5"
	hostile attr "$BATS_TEST_TMPDIR/ck.h5" / checkpoint_epochs_done int 1
	hostile external "$BATS_TEST_TMPDIR/ck.h5" graph/001_conv/weight "$BATS_TEST_TMPDIR/passwd"
	# a checkpoint is resumed by giving it as MODEL
	run -1 nash-train --data "$FMNIST" --epochs 2 --checkpoint "$BATS_TEST_TMPDIR/ck.h5" -o "$BATS_TEST_TMPDIR/t.h5" \
		"$BATS_TEST_TMPDIR/ck.h5"
	assert_output --partial "external storage"
	[ ! -e "$BATS_TEST_TMPDIR/t.h5" ]
}

@test "external links, soft links and virtual datasets are refused" {
	cp "$M" "$BATS_TEST_TMPDIR/other.h5"
	hostile extlink "$M" graph/001_conv "$BATS_TEST_TMPDIR/other.h5"
	run -1 nash-show "$M"
	assert_output --partial "graph/001_conv: an external link"
	cp "$BATS_FILE_TMPDIR/seed.h5" "$M"
	hostile extlink "$M" training "$BATS_TEST_TMPDIR/other.h5"
	run -1 nash-show "$M"
	assert_output --partial "training: an external link"
	cp "$BATS_FILE_TMPDIR/seed.h5" "$M"
	hostile softlink "$M" graph/005_conv/weight /graph/001_conv/weight
	run -1 nash-show "$M"
	assert_output --partial "graph/005_conv/weight: a soft link"
	cp "$BATS_FILE_TMPDIR/seed.h5" "$M"
	hostile virtual "$M" graph/001_conv/weight "$BATS_TEST_TMPDIR/source.h5"
	run -1 nash-show "$M"
	assert_output --partial "graph/001_conv/weight: a virtual dataset"
}

@test "filters nash does not write are refused" {
	for filter in gzip shuffle fletcher32; do
		cp "$BATS_FILE_TMPDIR/seed.h5" "$M"
		hostile filter "$M" graph/009_dense/weight $filter
		run -1 nash-show "$M"
		assert_output --partial "graph/009_dense/weight: filter"
		assert_output --partial "is not one nash reads"
	done
	cp "$BATS_FILE_TMPDIR/seed.h5" "$M"
	hostile filter "$M" lineage gzip
	run -1 nash-show "$M"
	assert_output --partial "lineage: filter 1 (deflate)"
}

@test "an ensemble member is checked like a model file" {
	marker_file "$BATS_TEST_TMPDIR/passwd"
	hostile external "$E" members/001/graph/001_conv/weight "$BATS_TEST_TMPDIR/passwd"
	run -1 nash-ensemble --data "$FMNIST" -o "$BATS_TEST_TMPDIR/out.h5" "$E"
	assert_output --partial "members/001: graph/001_conv/weight: external storage"
	[ ! -e "$BATS_TEST_TMPDIR/out.h5" ]
	cp "$BATS_FILE_TMPDIR/ens.h5" "$E"
	cp "$BATS_FILE_TMPDIR/seed.h5" "$BATS_TEST_TMPDIR/other.h5"
	hostile extlink "$E" members/000 "$BATS_TEST_TMPDIR/other.h5"
	run -1 nash-show "$E"
	assert_output --partial "members/000: an external link"
}

@test "values out of range are refused" {
	for v in 5.0 -1.0 nan; do
		cp "$BATS_FILE_TMPDIR/seed.h5" "$M"
		hostile attr "$M" / val_accuracy float $v
		run -1 nash-show "$M"
		assert_output --regexp "val_accuracy (5|-1|nan|is not finite)"
	done
	cp "$BATS_FILE_TMPDIR/seed.h5" "$M"
	hostile attr "$M" / val_accuracy float 5.0
	run -1 nash-select -o "$BATS_TEST_TMPDIR/best.h5" "$BATS_FILE_TMPDIR/a.h5" "$M"
	assert_output --partial "val_accuracy 5 is not in 0..1"
	cp "$BATS_FILE_TMPDIR/seed.h5" "$M"
	hostile attr "$M" / test_accuracy float 1.5
	run -1 nash-show "$M"
	assert_output --partial "test_accuracy 1.5 is not in 0..1"
	for v in 2 -1; do
		cp "$BATS_FILE_TMPDIR/seed.h5" "$M"
		hostile attr "$M" / failed int $v
		hostile attr "$M" / failure str "diverged"
		run -1 nash-show "$M"
		assert_output --partial "failed is $v, must be 0 or 1"
	done
	cp "$BATS_FILE_TMPDIR/seed.h5" "$M"
	hostile negvar "$M" graph/002_bn
	run -1 nash-show "$M"
	assert_output --partial "graph/002_bn/running_var: element 0 is -1 (a variance must be >= 0)"
	cp "$BATS_FILE_TMPDIR/seed.h5" "$M"
	hostile attr "$M" / dataset str "$(printf 'fashion\tmnist\nx')"
	run -1 nash-show --tsv "$M"
	assert_output --partial "dataset name is not 1 to 63 of the characters"
}

@test "format_version 2^64-1 is out of range, not INT_MAX" {
	hostile attr "$M" / format_version uint64 18446744073709551615
	run -1 nash-show "$M"
	assert_output "nash-show: $M: attribute 'format_version' is out of range for a 32-bit signed integer"
}

@test "lineage rows naming nodes outside the graph are refused by every tool, with nothing written" {
	c=$BATS_TEST_TMPDIR/c.h5
	o=$BATS_TEST_TMPDIR/out
	mkdir "$o"
	# one skip-add row: node and target 7 (007_relu), source 3 (003_relu); the child has 13 nodes
	nash-morph -n 1 --op skip-add --seed 3 -o "$c" "$M" 2>/dev/null
	run -0 nash-show "$c"
	assert_output --partial "skip-add     node 7, from 3 to 7"
	hostile lineage "$c" 0 node -5
	want="$c: lineage row 0: node -5 is not a node of the graph after its input (1..12)"
	run -1 nash-show "$c"
	assert_output "nash-show: $want"
	run -1 nash-morph -o "$o/m.h5" "$c"
	assert_output "nash-morph: $want"
	run -1 nash-train --data "$FMNIST" --limit 64 --epochs 1 -o "$o/t.h5" "$c"
	assert_output "nash-train: $want"
	run -1 nash-select -o "$o/s.h5" "$c" "$BATS_FILE_TMPDIR/a.h5"
	assert_output "nash-select: $want"
	run -1 nash-ensemble --data "$FMNIST" -o "$o/e.h5" "$c"
	assert_output "nash-ensemble: $want"
	run -1 nash-export --onnx -o "$o/x.onnx" "$c"
	assert_output "nash-export: $want"
	run -1 nash-init --like "$c" -o "$o/i.h5"
	assert_output "nash-init: $want"
	run ls -A "$o"
	assert_output ""
	hostile lineage "$c" 0 node 7
	hostile lineage "$c" 0 source 2147483647
	run -1 nash-show "$c"
	assert_output "nash-show: $c: lineage row 0: source 2147483647 is not a node of the graph after its input (1..12)"
	hostile lineage "$c" 0 source 3
	hostile lineage "$c" 0 kernel 3
	run -1 nash-show "$c"
	assert_output "nash-show: $c: lineage row 0: kernel is 3, but a skip-add row has none (-1)"
}

@test "a small file declaring 10,000,000 lineage rows is refused at once" {
	hostile biglineage "$M" lineage
	[ "$(stat -c %s "$M")" -lt 200000 ]
	run -1 /usr/bin/time -f 'maxrss_kb %M' nash-show "$M"
	assert_output --partial "lineage: 10000000 rows, more than the 100000 nash reads and writes"
	[ "$(echo "$output" | awk '/maxrss_kb/ { print $2 }')" -lt 100000 ]
	cp "$BATS_FILE_TMPDIR/seed.h5" "$M"
	hostile biglineage "$M" training/record
	run -1 nash-show "$M"
	assert_output --partial "training/record: 10000000 rows, more than the 1000000 nash reads and writes"
	# within the limit, but more than the file could hold
	cp "$BATS_FILE_TMPDIR/seed.h5" "$M"
	hostile biglineage "$M" training/record 900000
	run -1 nash-show "$M"
	assert_output --partial "training/record: 900000 rows of 32 bytes, more than the file's"
}

@test "a small file declaring 1.34 GB of weights is refused at once, with little memory" {
	hostile bigweights "$M"
	[ "$(stat -c %s "$M")" -lt 200000 ]
	run -1 /usr/bin/time -f 'maxrss_kb %M' nash-show "$M"
	assert_output --partial "graph: its layers hold 335544576 weights (1342178304 bytes), more than the file's"
	[ "$(echo "$output" | awk '/maxrss_kb/ { print $2 }')" -lt 100000 ]
}

@test "weights declared but never written are refused" {
	/usr/bin/python3 - "$M" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    w = f["graph/009_dense/weight"]
    shape, dt = w.shape, w.dtype
    del f["graph/009_dense/weight"]
    f.create_dataset("graph/009_dense/weight", shape=shape, dtype=dt)
PY
	run -1 nash-show "$M"
	assert_output --partial "graph/009_dense/weight: only 0 of its 62720 bytes are stored (data never written)"
}

@test "the fuzzing regression files give a result or a clear error, never a crash or a hang" {
	# a quarter of a second of CPU time for each read: the files that spin are stopped sooner
	export NASH_READ_TIMEOUT=0.25
	for f in "$BATS_TEST_DIRNAME"/../fuzz/regress/*; do
		case ${f##*/} in
		dataset-* | isolated-dataset-*)
			run timeout 60 nash-data info "$f"
			[ "$status" -le 1 ] || { echo "nash-data info $f: status $status: $output"; false; }
			[ "$status" -eq 0 ] || [[ "$output" == "nash-data: $f: "* ]]
			continue
			;;
		esac
		run timeout 60 nash-show "$f"
		[ "$status" -le 1 ] || { echo "nash-show $f: status $status: $output"; false; }
		[ "$status" -eq 0 ] || [[ "$output" == "nash-show: $f: "* ]]
		run timeout 60 nash-ensemble --data "$FMNIST" --eval test -o "$BATS_TEST_TMPDIR/out.h5" "$f"
		[ "$status" -le 1 ] || { echo "nash-ensemble $f: status $status: $output"; false; }
	done
}

@test "the files nash writes are in the checksummed formats, and h5dump, h5ls and h5py read them" {
	run -0 h5dump -B -H "$M"
	assert_output --partial "SUPERBLOCK_VERSION 2"
	run -0 h5dump -B -H "$E"
	assert_output --partial "SUPERBLOCK_VERSION 2"
	run -0 h5ls -r "$E"
	assert_output --partial "/members/001/graph/009_dense/weight Dataset {10, 1568}"
	run -0 /usr/bin/python3 -c '
import sys, h5py
for p in sys.argv[1:]:
    with h5py.File(p, "r") as f:
        n = []
        f.visit(n.append)
        print(p, len(n), f.attrs["format"].decode())
' "$M" "$E" "$BATS_FILE_TMPDIR/a.h5"
	assert_output --partial "m.h5 "
	assert_output --partial "nash-ensemble"
	# every link and attribute in a (checksummed) object header: no fractal heap, whose blocks
	# HDF5 does not checksum
	! grep -q FRHP "$M"
	! grep -q FRHP "$E"
	# a corrupted object header is refused by its checksum rather than decoded
	/usr/bin/python3 - "$M" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.find(b"OHDR", 64)      # the second object header after the root's
b[i + 12] ^= 0xFF
open(p, "wb").write(bytes(b))
PY
	run -1 nash-show "$M"
}

@test "files in the older formats (superblock 0, version 1 headers) are still read" {
	for f in "$BATS_TEST_DIRNAME"/../fuzz/corpus/*-v0.h5; do
		run -0 h5dump -B -H "$f"
		assert_output --partial "SUPERBLOCK_VERSION 0"
		run -0 nash-show "$f"
	done
}

@test "a dataset file is read under the same rules" {
	nash-data convert "$FMNIST" -o "$BATS_TEST_TMPDIR/d.h5"
	run -0 h5dump -B -H "$BATS_TEST_TMPDIR/d.h5"
	assert_output --partial "SUPERBLOCK_VERSION 2"
	run -0 nash-data info "$BATS_TEST_TMPDIR/d.h5"
	# compression by another writer passes the filter check of dataset files, and a whole
	# compressed dataset is not taken for an incomplete one: the same statistics
	cp "$BATS_TEST_TMPDIR/d.h5" "$BATS_TEST_TMPDIR/z.h5"
	hostile filter "$BATS_TEST_TMPDIR/z.h5" train/images gzip
	nash-data info "$BATS_TEST_TMPDIR/d.h5" >"$BATS_TEST_TMPDIR/d.info"
	run -0 nash-data info "$BATS_TEST_TMPDIR/z.h5"
	refute_output --partial "filter"
	assert_output "$(sed 's|/d\.h5$|/z.h5|' "$BATS_TEST_TMPDIR/d.info")"
	marker_file "$BATS_TEST_TMPDIR/passwd"
	hostile external "$BATS_TEST_TMPDIR/d.h5" test/labels "$BATS_TEST_TMPDIR/passwd"
	run -1 nash-data info "$BATS_TEST_TMPDIR/d.h5"
	assert_output --partial "test/labels: external storage"
	refute_output --partial "NASH-MARKER"
	run -1 nash-init --dataset "h5:$BATS_TEST_TMPDIR/d.h5" -o "$BATS_TEST_TMPDIR/m2.h5"
	assert_output --partial "external storage"
	[ ! -e "$BATS_TEST_TMPDIR/m2.h5" ]
	nash-data convert "$FMNIST" -o "$BATS_TEST_TMPDIR/d.h5"
	cp "$BATS_TEST_TMPDIR/d.h5" "$BATS_TEST_TMPDIR/other.h5"
	hostile extlink "$BATS_TEST_TMPDIR/d.h5" train "$BATS_TEST_TMPDIR/other.h5"
	run -1 nash-data info "$BATS_TEST_TMPDIR/d.h5"
	assert_output --partial "train: an external link"
}

@test "names in messages are escaped, from the command line or from inside a file; a long path keeps the reason" {
	local d=$BATS_TEST_TMPDIR n
	echo junk >"$d/evil"$'\n'"nash-show: all good.h5"
	run -1 nash-show "$d/evil"$'\n'"nash-show: all good.h5"
	assert_output "nash-show: $d/evil\\nnash-show: all good.h5: not an HDF5 file"
	/usr/bin/python3 - "$M" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    f["graph"].move("000_input", "000_in\x1b[2Jput")
PY
	run -1 nash-show "$M"
	assert_output "nash-show: $M: graph/000_in\\x1b[2Jput: node 0 with op 'input' must be named 000_input"
	[ "${#lines[@]}" -eq 1 ]
	cp "$BATS_FILE_TMPDIR/seed.h5" "$d/caf"$'\xe9'".h5"
	run -0 nash-ensemble --data "$FMNIST" "$BATS_FILE_TMPDIR/seed.h5" "$d/caf"$'\xe9'".h5"
	assert_line "nash-ensemble: $d/caf\\xe9.h5: same weights as $BATS_FILE_TMPDIR/seed.h5; counted once"
	n=$(printf 'n%.0s' $(seq 230))
	mkdir -p "$d/$n/$n/$n/$n/$n"
	echo junk >"$d/$n/$n/$n/$n/$n/m.h5"
	run -1 nash-show "$d/$n/$n/$n/$n/$n/m.h5"
	assert_output --regexp "^nash-show: $d/n+\.\.\.n+/m\.h5: not an HDF5 file$"
	run -1 nash-select "$BATS_FILE_TMPDIR/seed.h5" "$d/$n/$n/$n/$n/$n/m.h5"
	assert_output --regexp "^nash-select: $d/n+\.\.\.n+/m\.h5: not an HDF5 file$"
}
