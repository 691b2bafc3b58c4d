"""Runs Debian's onnx.checker (full check, with shape inference) on exported models.
Usage: check.py [--ops] MODEL.onnx...   --ops: also print each model's operator types."""
import sys

import onnx

args = sys.argv[1:]
show_ops = args[:1] == ["--ops"]
paths = args[1:] if show_ops else args
for path in paths:
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    print(f"{path}: ok, opset {opset[0]}, {len(model.graph.node)} nodes")
    if show_ops:
        print("ops:", " ".join(sorted({n.op_type for n in model.graph.node})))
print(f"{len(paths)} models pass onnx.checker")
