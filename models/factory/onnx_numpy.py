"""Tiny numpy interpreter for the ONNX graphs the factory exports.

Debian's python3-onnx is 1.12 (no `onnx.reference`) and there is no onnxruntime for
Python here, so to check that the bytes of model.onnx (weights, graph, temperature,
CAM head) compute what the torch model computes, this evaluates the graph in float64
numpy for the operators the exported CNNs use. Unknown operators raise, so a graph
that changes shape is never silently "verified".
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _conv(x, w, b, a):
    if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1])):
        raise NotImplementedError("Conv with group/dilation")
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise NotImplementedError("auto_pad")
    kh, kw = w.shape[2:]
    sh, sw = a.get("strides", [1, 1])
    pt, pl, pb, pr = a.get("pads", [0, 0, 0, 0])
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    n, c, h, wd = x.shape
    oh = (h - kh) // sh + 1
    ow = (wd - kw) // sw + 1
    out = np.zeros((n, oh, ow, w.shape[0]), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]                    # n,c,oh,ow
            out += np.tensordot(patch.transpose(0, 2, 3, 1), w[:, :, i, j].T, axes=1)  # n,oh,ow,o
    out = out.transpose(0, 3, 1, 2)
    if b is not None:
        out = out + b[None, :, None, None]
    return out


def _maxpool(x, a):
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    if any(a.get("pads", [0, 0, 0, 0])) or a.get("ceil_mode", 0):
        raise NotImplementedError("MaxPool pads/ceil_mode")
    n, c, h, w = x.shape
    oh = (h - kh) // sh + 1
    ow = (w - kw) // sw + 1
    out = np.full((n, c, oh, ow), -np.inf)
    for i in range(kh):
        for j in range(kw):
            out = np.maximum(out, x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw])
    return out


def _axes(a, ins, ndim):
    axes = a.get("axes")
    if axes is None and len(ins) > 1 and ins[1] is not None:
        axes = [int(v) for v in ins[1]]
    return tuple(range(ndim)) if axes is None else tuple(int(v) % ndim for v in axes)


def run(model_path: str, feeds: dict) -> dict:
    model = onnx.load(model_path)
    g = model.graph
    env = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    env = {k: (v.astype(np.float64) if v.dtype.kind == "f" else v) for k, v in env.items()}
    for k, v in feeds.items():
        env[k] = np.asarray(v, dtype=np.float64)
    for node in g.node:
        a = _attrs(node)
        ins = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Conv":
            y = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        elif op == "Relu":
            y = np.maximum(ins[0], 0.0)
        elif op == "MaxPool":
            y = _maxpool(ins[0], a)
        elif op == "GlobalAveragePool":
            y = ins[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1)
        elif op == "Gemm":
            A, B = ins[0], ins[1]
            if a.get("transA", 0):
                A = A.T
            if a.get("transB", 0):
                B = B.T
            y = a.get("alpha", 1.0) * (A @ B)
            if len(ins) > 2 and ins[2] is not None:
                y = y + a.get("beta", 1.0) * ins[2]
        elif op == "Constant":
            y = numpy_helper.to_array(a["value"])
            y = y.astype(np.float64) if y.dtype.kind == "f" else y
        elif op == "Div":
            y = ins[0] / ins[1]
        elif op == "Mul":
            y = ins[0] * ins[1]
        elif op == "Add":
            y = ins[0] + ins[1]
        elif op == "Sub":
            y = ins[0] - ins[1]
        elif op == "Sigmoid":
            y = 1.0 / (1.0 + np.exp(-ins[0]))
        elif op == "Identity":
            y = ins[0]
        elif op == "ReduceMax":
            y = ins[0].max(axis=_axes(a, ins, ins[0].ndim), keepdims=bool(a.get("keepdims", 1)))
        elif op == "ReduceMean":
            y = ins[0].mean(axis=_axes(a, ins, ins[0].ndim), keepdims=bool(a.get("keepdims", 1)))
        elif op == "Unsqueeze":
            y = ins[0]
            for ax in sorted(_axes(a, ins, ins[0].ndim + len(a.get("axes", ins[1] if len(ins) > 1 else [])))):
                y = np.expand_dims(y, ax)
        elif op == "Slice":  # opset >= 10: starts, ends, axes, steps as inputs (torch.flip exports as step -1)
            x = ins[0]
            axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(ins[1]))
            steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(ins[1])
            sl = [slice(None)] * x.ndim
            for st, en, ax, sp in zip(ins[1], ins[2], axes, steps):
                ax, dim, st, en, sp = int(ax) % x.ndim, x.shape[int(ax) % x.ndim], int(st), int(en), int(sp)
                # Clamp as the ONNX spec does; an end below -dim with a negative step means "through index 0".
                st = max(-1 if sp < 0 else 0, min(st + dim if st < 0 else st, dim - 1 if sp < 0 else dim))
                en = max(-1 if sp < 0 else 0, min(en + dim if en < 0 else en, dim - 1 if sp < 0 else dim))
                sl[ax] = slice(st, en if en >= 0 else None, sp)
            y = x[tuple(sl)]
        elif op == "Concat":
            y = np.concatenate(ins, axis=a["axis"])
        else:
            raise NotImplementedError(f"operator {op} not supported by onnx_numpy")
        env[node.output[0]] = y
    return {o.name: env[o.name] for o in g.output}
