#!/usr/bin/python3
"""Rewrites a nash model file as h5py writes one, for timing the reader on such files
(docs/FORMAT.md): every group, dataset and attribute copied with h5py's defaults, so groups are
old-style symbol tables (no creation-order index) and string attributes variable-length UTF-8.
Usage: h5py_copy.py IN OUT"""
import sys

import h5py
import numpy as np


def copy_attrs(src, dst):
    for k, v in src.attrs.items():
        dst.attrs[k] = v.decode() if isinstance(v, bytes) else v  # a str: variable-length


def copy(src, dst):
    copy_attrs(src, dst)
    for name, obj in src.items():
        if isinstance(obj, h5py.Group):
            copy(obj, dst.create_group(name))
        else:
            d = dst.create_dataset(name, data=np.asarray(obj[()]))
            copy_attrs(obj, d)


with h5py.File(sys.argv[1], "r") as src, h5py.File(sys.argv[2], "w") as dst:
    copy(src, dst)
