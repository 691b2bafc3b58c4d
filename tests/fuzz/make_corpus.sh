#!/bin/sh
# Regenerates the fuzzing seed corpus (tests/fuzz/corpus) with the built tools on the test
# fixtures: a seed network, a morphed child, a trained model, a checkpoint, an ensemble, each
# in the checksummed format nash writes and (copied by h5py with libver 'earliest') in the
# older format, superblock 0 with version 1 object headers, that nash still reads and whose
# metadata has no checksums: the one a mutation gets deepest into.
# Usage: tests/fuzz/make_corpus.sh [BUILD]   (after `make all fixtures`)
set -eu
build=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/tests/fuzz/corpus
bin=$build/bin
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
data="fashion-mnist:$build/fixtures/fmnist"
"$bin/nash-init" --dataset "$data" --widths 2,4 --val 64 -o "$d/seed.h5"
"$bin/nash-morph" -n 3 --seed 5 -o "$d/child.h5" "$d/seed.h5" 2>/dev/null
"$bin/nash-train" --data "$data" --limit 64 --batch 32 --epochs 1 -o "$d/trained.h5" "$d/child.h5" >/dev/null 2>&1
"$bin/nash-train" --data "$data" --limit 64 --batch 32 --epochs 2 --checkpoint "$d/ckpt.h5" \
	-o "$d/unused.h5" "$d/seed.h5" >/dev/null 2>&1 || true
"$bin/nash-ensemble" --data "$data" -o "$d/ensemble.h5" "$d/trained.h5" "$d/seed.h5" >/dev/null 2>&1
mkdir -p "$out"
for f in seed child trained ckpt ensemble; do
	[ -f "$d/$f.h5" ] || continue
	cp "$d/$f.h5" "$out/$f.h5"
	/usr/bin/python3 - "$d/$f.h5" "$out/$f-v0.h5" <<'PY'
# Every object made anew (h5py's copy would keep the version 2 headers).
import sys, h5py
def attrs(a, b):
    for k in a.attrs:
        b.attrs.create(k, a.attrs[k], dtype=a.attrs.get_id(k).dtype)
def copy(a, b):
    attrs(a, b)
    for k, v in a.items():
        if isinstance(v, h5py.Group):
            copy(v, b.create_group(k))
        else:
            attrs(v, b.create_dataset(k, data=v[()], dtype=v.dtype))
with h5py.File(sys.argv[1], "r") as a, h5py.File(sys.argv[2], "w", libver="earliest") as b:
    copy(a, b)
PY
done
ls -l "$out"
