#!/usr/bin/env python3
"""Rebuilds a nash model in PyTorch from its HDF5 file with h5py alone (no nash), runs it on a
test set and compares its accuracy with the one nash recorded in the file.

Usage: load_pytorch.py MODEL.h5 [DATA] [--limit N]
  DATA: fashion-mnist[:DIR] (default), cifar10:DIR, or h5:FILE (a nash-data file)
Exit status 1 when PyTorch's accuracy differs from the recorded test_accuracy by more than one
image in a thousand (or one image, on a smaller test set).

The file holds the graph node by node (docs/FORMAT.md): group graph/NNN_op with attributes op,
inputs, kernel, ... and the weights in PyTorch's layouts, so each node becomes a few lines.
Tensors stay NCHW throughout, as in nash ([N, C, 1, 1] after flatten and dense)."""
import gzip, os, sys

import h5py
import numpy as np


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def pytorch_predictions(f, x):
    """The classes the network of the open model file f gives the uint8 images x [N, C, H, W].
    PyTorch is imported here, once the file and the data are known to fit: loading it takes
    seconds, and a wrong argument is answered without it."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class NashNet(nn.Module):
        def __init__(self, f):
            super().__init__()
            g = f["graph"]
            self.names = sorted(g.keys())  # 000_input, 001_conv, ... : topological order
            self.ops, self.inputs, self.layers = [], [], nn.ModuleDict()
            self.mean = torch.tensor(np.asarray(f.attrs["norm_mean"], np.float32)).view(1, -1, 1, 1)
            self.std = torch.tensor(np.asarray(f.attrs["norm_std"], np.float32)).view(1, -1, 1, 1)
            for name in self.names:
                node, op = g[name], text(g[name].attrs["op"])
                ins = text(node.attrs["inputs"])
                self.ops.append(op)
                self.inputs.append([self.names.index(i) for i in ins.split(",")] if ins else [])
                w = {k: torch.tensor(node[k][()]) for k in node.keys()}  # the node's tensors
                if op == "conv":
                    k = int(node.attrs["kernel"])
                    conv = nn.Conv2d(w["weight"].shape[1], w["weight"].shape[0], k, padding=k // 2, bias="bias" in w)
                    conv.weight.data, layer = w["weight"], conv
                    if "bias" in w:
                        conv.bias.data = w["bias"]
                elif op == "bn":
                    layer = nn.BatchNorm2d(len(w["gamma"]), eps=float(node.attrs["eps"]))
                    layer.weight.data, layer.bias.data = w["gamma"], w["beta"]
                    layer.running_mean.data, layer.running_var.data = w["running_mean"], w["running_var"]
                elif op == "dense":
                    layer = nn.Linear(w["weight"].shape[1], w["weight"].shape[0], bias="bias" in w)
                    layer.weight.data = w["weight"]
                    if "bias" in w:
                        layer.bias.data = w["bias"]
                elif op == "maxpool":
                    layer = nn.MaxPool2d(int(node.attrs["kernel"]))  # stride = window, floor
                elif op == "add":
                    layer = nn.Module()
                    layer.register_buffer("lam", w["lambda"].view(1, -1, 1, 1))  # one per channel
                else:
                    layer = nn.Identity()
                self.layers[name] = layer

        def forward(self, pixels):  # pixels: float [N, C, H, W], 0..255
            out = [(pixels / 255 - self.mean) / self.std]
            for name, op, ins in list(zip(self.names, self.ops, self.inputs))[1:]:
                x, layer = [out[i] for i in ins], self.layers[name]
                if op in ("conv", "bn", "maxpool"):
                    y = layer(x[0])
                elif op == "relu":
                    y = F.relu(x[0])
                elif op == "add":  # lambda a + (1 - lambda) b
                    y = layer.lam * x[0] + (1 - layer.lam) * x[1]
                elif op == "concat":
                    y = torch.cat(x, 1)
                elif op == "gap":
                    y = x[0].mean((2, 3), keepdim=True)
                elif op == "flatten":  # C, H, W order
                    y = x[0].reshape(len(x[0]), -1, 1, 1)
                elif op == "dense":
                    y = layer(x[0].flatten(1))[:, :, None, None]
                else:
                    raise ValueError(f"{name}: unknown op {op}")
                out.append(y)
            return out[-1].flatten(1)  # logits [N, classes]

    net = NashNet(f).eval()
    with torch.no_grad():
        return torch.cat([net(torch.tensor(x[i:i + 500], dtype=torch.float32)).argmax(1)
                          for i in range(0, len(x), 500)]).numpy()


def test_set(spec):
    """uint8 images [N, C, H, W] and labels [N]."""
    kind, _, where = spec.partition(":")
    if kind == "fashion-mnist":
        d = where or "/usr/share/datasets/fashion-mnist"

        def idx(name):
            p = os.path.join(d, name)
            b = gzip.open(p).read() if os.path.exists(p) else open(p[:-3], "rb").read()
            dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(b[3])]
            return np.frombuffer(b, np.uint8, offset=4 + 4 * b[3]).reshape(dims)

        return idx("t10k-images-idx3-ubyte.gz")[:, None], idx("t10k-labels-idx1-ubyte.gz")
    if kind == "cifar10":
        b = np.fromfile(os.path.join(where, "test_batch.bin"), np.uint8).reshape(-1, 3073)
        return b[:, 1:].reshape(-1, 3, 32, 32), b[:, 0]
    if kind == "h5":  # nash-data's layout: images [N, H, W, C]
        with h5py.File(where, "r") as f:
            return f["test/images"][()].transpose(0, 3, 1, 2), f["test/labels"][()]
    raise SystemExit(f"load_pytorch.py: unknown data '{spec}'")


def main():
    args = sys.argv[1:]
    limit = None
    if "--limit" in args:
        i = args.index("--limit")
        limit = int(args[i + 1])
        del args[i:i + 2]
    if not args:
        raise SystemExit(__doc__)
    with h5py.File(args[0], "r") as f:
        recorded = float(f.attrs["test_accuracy"]) if "test_accuracy" in f.attrs else float("nan")
        dataset = text(f.attrs["dataset"])
        shape = tuple(int(v) for v in f.attrs["input_shape"])
        if len(args) < 2 and dataset != "fashion-mnist":
            raise SystemExit(f"load_pytorch.py: {args[0]} is a network for the dataset '{dataset}': give its data "
                             "as the second argument (cifar10:DIR, cifar100:DIR or h5:FILE)")
        x, y = test_set(args[1] if len(args) > 1 else "fashion-mnist")
        if tuple(x.shape[1:]) != shape:
            raise SystemExit(f"load_pytorch.py: {args[0]} takes images of {'x'.join(map(str, shape))} (C x H x W), "
                             f"the data given has {'x'.join(map(str, x.shape[1:]))}: give the data it was trained on")
        x, y = x[:limit], y[:limit]
        acc = (pytorch_predictions(f, x) == y).mean()
    print(f"pytorch: {len(x)} test images, accuracy {acc:.4f}; nash recorded {recorded:.4f}")
    if limit is None and not np.isnan(recorded):
        tol = max(1 / len(x), 1e-3) + 1e-9
        if abs(acc - recorded) > tol:
            print(f"load_pytorch.py: accuracies differ by more than {tol:.4f}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
