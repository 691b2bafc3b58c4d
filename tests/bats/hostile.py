#!/usr/bin/python3
"""Makes hostile variants of a real model or ensemble file for tests/bats/hostile.bats, with
h5py: each edits FILE in place. Usage: hostile.py OP FILE [ARG...]

  external DS TARGET      dataset DS stored externally in TARGET (raw data in another file)
  extlink PATH TARGET     the link PATH made an external link to PATH in file TARGET
  softlink PATH TO        the link PATH made a soft link to TO
  virtual DS SOURCE       dataset DS made a virtual dataset of SOURCE's /data (written here)
  filter DS NAME          dataset DS rewritten with filter NAME (gzip, shuffle, fletcher32)
  attr PATH NAME KIND V   attribute NAME of PATH set to V as KIND (int, uint64, float, str)
  lineage ROW FIELD V     field FIELD of row ROW of /lineage set to V
  negvar GROUP            the first running_var of batch norm GROUP set to -1
  biglineage PATH [N]     PATH (a table) declared with N (10,000,000) rows, none written
  bigweights              the graph replaced by input 1x1024x1280 -> flatten -> dense 256,
                          whose 1.34 GB of weights are declared and never written
"""
import os
import stat
import sys

import h5py
import numpy as np


def replace(f, ds, **kw):
    """Dataset ds recreated with its own data, shape and type plus kw's storage settings."""
    old = f[ds]
    data, attrs = old[()], dict(old.attrs)
    del f[ds]
    new = f.create_dataset(ds, data=data if "external" not in kw else None,
                           shape=data.shape, dtype=data.dtype, **kw)
    for k, v in attrs.items():
        new.attrs[k] = v
    return data


def main():
    op, path, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    with h5py.File(path, "r+") as f:
        if op == "external":
            ds, target = args
            data = f[ds][()]
            need = data.size * data.dtype.itemsize
            # a FIFO is never opened here: that would block, as it must not in nash
            assert stat.S_ISFIFO(os.stat(target).st_mode) or os.path.getsize(target) >= need
            replace(f, ds, external=[(target, 0, need)])
        elif op == "extlink":
            p, target = args
            del f[p]
            f[p] = h5py.ExternalLink(target, "/" + p)
        elif op == "softlink":
            p, to = args
            del f[p]
            f[p] = h5py.SoftLink(to)
        elif op == "virtual":
            ds, source = args
            data = f[ds][()]
            with h5py.File(source, "w") as s:
                s["data"] = data
            del f[ds]
            layout = h5py.VirtualLayout(shape=data.shape, dtype=data.dtype)
            layout[...] = h5py.VirtualSource(source, "data", shape=data.shape)
            f.create_virtual_dataset(ds, layout)
        elif op == "filter":
            ds, name = args
            kw = {"gzip": {"compression": "gzip"}, "shuffle": {"shuffle": True},
                  "fletcher32": {"fletcher32": True}}[name]
            replace(f, ds, chunks=True, **kw)
        elif op == "attr":
            p, name, kind, v = args
            obj = f[p]
            if name in obj.attrs:
                del obj.attrs[name]
            if kind == "int":
                obj.attrs[name] = np.int32(int(v))
            elif kind == "uint64":
                obj.attrs[name] = np.uint64(int(v))
            elif kind == "float":
                obj.attrs[name] = np.float32(float(v))
            else:
                obj.attrs[name] = np.bytes_(v.encode())
        elif op == "lineage":
            row, field, v = int(args[0]), args[1], int(args[2])
            rows = f["lineage"][()]
            rows[field][row] = v
            f["lineage"][...] = rows
        elif op == "negvar":
            (g,) = args
            v = f[g + "/running_var"]
            a = v[()]
            a[0] = -1.0
            v[...] = a
        elif op == "biglineage":
            p, rows = args[0], int(args[1]) if len(args) > 1 else 10_000_000
            dt = f[p].dtype
            del f[p]
            f.create_dataset(p, shape=(rows,), dtype=dt)
        elif op == "bigweights":
            del f["graph"]
            f.attrs["input_shape"] = np.array([1, 1024, 1280], dtype=np.int32)
            f.attrs["num_classes"] = np.int32(256)
            if "class_names" in f.attrs:  # the seed's 10 names would not fit 256 classes
                del f.attrs["class_names"]
            g = f.create_group("graph")
            def node(name, op_, inputs, shape):
                n = g.create_group(name)
                n.attrs["op"] = np.bytes_(op_.encode())
                n.attrs["inputs"] = np.bytes_(inputs.encode())
                n.attrs["output_shape"] = np.array(shape, dtype=np.int32)
                return n
            node("000_input", "input", "", [1, 1024, 1280])
            node("001_flatten", "flatten", "000_input", [1310720, 1, 1])
            d = node("002_dense", "dense", "001_flatten", [256, 1, 1])
            d.attrs["out_channels"] = np.int32(256)
            d.attrs["has_bias"] = np.int32(1)
            d.create_dataset("weight", shape=(256, 1310720), dtype="<f4")
            d.create_dataset("bias", shape=(256,), dtype="<f4")
        else:
            sys.exit("hostile.py: unknown operation " + op)


main()
