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
data="fashion-mnist@1200,200:$build/fixtures/fmnist"
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
# A seed network as h5py writes one: string attributes as Python str, variable-length UTF-8 in
# HDF5's global heap (nash writes fixed-length ASCII); the model reader reads both.
/usr/bin/python3 - "$d/seed.h5" "$out/seed-h5py-vlen.h5" <<'PY'
import sys, h5py
def copy(a, b):
    for k in a.attrs:
        v = a.attrs[k]
        if isinstance(v, bytes):
            b.attrs[k] = v.decode()
        else:
            b.attrs.create(k, v, dtype=a.attrs.get_id(k).dtype)
    for k, v in a.items():
        if isinstance(v, h5py.Group):
            copy(v, b.create_group(k))
        else:
            b.create_dataset(k, data=v[()], dtype=v.dtype)
with h5py.File(sys.argv[1], "r") as a, h5py.File(sys.argv[2], "w") as b:
    copy(a, b)
PY
ls -l "$out"

# The dataset reader's seeds (tests/fuzz/corpus-datasets): tiny dataset files as nash writes
# them (fixed-length strings) and as h5py writes them (variable-length strings, in HDF5's
# global heap, where fuzzing found HDF5's spins and memory bombs), compressed and not, in the
# current and the older object formats.
dout=$top/tests/fuzz/corpus-datasets
mkdir -p "$dout" "$d/imgs/cat" "$d/imgs/dog"
/usr/bin/python3 - "$d/imgs" <<'PY'
import sys
from PIL import Image
for k, cls in enumerate(["cat", "dog"]):
    for i in range(4):
        Image.new("L", (4, 4), 40 * i + 100 * k).save(f"{sys.argv[1]}/{cls}/{i}.png")
PY
"$bin/nash-data" pack "$d/imgs" --test-fraction 0.25 --name tiny -o "$dout/dataset-nash.h5" 2>/dev/null
/usr/bin/python3 - "$dout" <<'PY'
import sys, h5py, numpy as np
out = sys.argv[1]
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (6, 4, 4, 3), dtype=np.uint8)
y = np.array([0, 1, 2, 0, 1, 2])
for name, libver, vlen, comp in [("h5py-vlen", "latest", True, None), ("h5py-vlen-v0", "earliest", True, None),
                                 ("h5py-fixed-utf8", "latest", False, None), ("h5py-deflate", "latest", True, "gzip")]:
    with h5py.File(f"{out}/dataset-{name}.h5", "w", libver=libver) as f:
        f.attrs.update(format="nash-dataset", format_version=1, name=name)
        names = ["cat", "chien", "été"]
        if vlen:
            f.attrs["class_names"] = names
        else:
            f.attrs.create("class_names", [n.encode() for n in names], dtype=h5py.string_dtype("utf-8", 16))
        kw = dict(compression=comp, shuffle=True, chunks=(2, 4, 4, 3)) if comp else {}
        f.create_dataset("train/images", data=x[:4], **kw)
        f["train/labels"] = y[:4]
        f.create_dataset("test/images", data=x[4:], **kw)
        f["test/labels"] = y[4:]
PY
ls -l "$dout"
