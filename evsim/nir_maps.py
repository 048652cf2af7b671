"""NIR's linear nodes as sparse matrices on flattened (C-order) tensors, for :mod:`evsim.nir`.

:func:`linear_map` returns, for one node and the shape of its input (without batch or time),
the matrix M (output size x input size, ``scipy.sparse``), the constant b (output size,) and
the output shape, so that the node computes ``M x + b`` on the flattened input. Convolutions
and pooling become sparse synapses: one entry per (output, input) pair the kernel connects.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from .errors import ValidationError

__all__ = ["LINEAR_NODES", "linear_map"]

LINEAR_NODES = ("Affine", "Linear", "Scale", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d",
                "Flatten", "Identity")


def linear_map(name: str, node, shape: tuple) -> tuple:
    """(M, b, output shape) of the linear node ``name`` on inputs of ``shape``."""
    kind = type(node).__name__
    size = int(np.prod(shape))
    if kind in ("Affine", "Linear"):
        weight = np.asarray(node.weight, dtype=float)
        if weight.ndim != 2 or weight.shape[1] != size:
            raise ValidationError("graph", f"{kind} '{name}' has weight shape {weight.shape}; "
                                           f"evsim.nir needs (out, {size}) for its input {shape}")
        bias = np.asarray(node.bias, dtype=float).reshape(-1) if kind == "Affine" else \
            np.zeros(weight.shape[0])
        return sparse.csr_matrix(weight), bias, (weight.shape[0],)
    if kind == "Scale":
        scale = np.asarray(node.scale, dtype=float).reshape(-1)
        if scale.size not in (1, size):
            raise ValidationError("graph", f"Scale '{name}' has {scale.size} factors for inputs "
                                           f"of shape {shape}")
        scale = np.broadcast_to(scale, (size,))
        return sparse.diags(scale).tocsr(), np.zeros(size), shape
    if kind == "Identity":
        return sparse.identity(size, format="csr"), np.zeros(size), shape
    if kind == "Flatten":
        start, end = node.start_dim % len(shape), node.end_dim % len(shape)
        out = shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:]
        return sparse.identity(size, format="csr"), np.zeros(size), out
    if kind in ("Conv1d", "Conv2d"):
        weight = np.asarray(node.weight, dtype=float)
        matrix, out = _convolution(name, weight, shape, node.stride, node.padding,
                                   node.dilation, int(node.groups))
        bias = np.asarray(node.bias, dtype=float).reshape(-1)
        if bias.size != out[0]:
            raise ValidationError("graph", f"{kind} '{name}' has {bias.size} biases for "
                                           f"{out[0]} output channels")
        bias = np.repeat(bias, int(np.prod(out[1:])))
        return matrix, bias, out
    kernel = tuple(int(k) for k in np.atleast_1d(node.kernel_size))
    kernel = kernel * 2 if len(kernel) == 1 else kernel
    ones = np.ones((shape[0], 1) + kernel)
    if kind == "AvgPool2d":  # count_include_pad: the kernel's area divides
        ones = ones / np.prod(kernel)
    stride = kernel if node.stride is None else node.stride
    matrix, out = _convolution(name, ones, shape, stride, node.padding, 1, shape[0])
    return matrix, np.zeros(int(np.prod(out))), out


def _tuple(value, n: int) -> tuple:
    values = tuple(int(v) for v in np.atleast_1d(value))
    return values * n if len(values) == 1 else values


def _convolution(name: str, weight: np.ndarray, shape: tuple, stride, padding, dilation,
                 groups: int) -> tuple:
    """Sparse matrix of a zero-padded convolution (PyTorch's cross-correlation) of ``weight``
    (C_out, C_in / groups, *kernel) on inputs (C_in, *spatial); returns it and the output
    shape."""
    c_out, c_group, *kernel = weight.shape
    c_in, *spatial = shape
    dims = len(kernel)
    if len(spatial) != dims or c_group * groups != c_in or c_out % groups:
        raise ValidationError("graph", f"'{name}': a kernel {weight.shape} with {groups} groups "
                                       f"does not apply to inputs of shape {shape}")
    stride, dilation = _tuple(stride, dims), _tuple(dilation, dims)
    same = isinstance(padding, str) and padding == "same"
    if isinstance(padding, str) and (padding not in ("same", "valid")
                                     or (same and max(stride) > 1)):
        raise ValidationError("graph", f"'{name}': padding {padding!r} with stride {stride} "
                                       "(PyTorch allows 'same' only at stride 1)")
    if isinstance(padding, str):
        span = [d * (k - 1) for d, k in zip(dilation, kernel)]
        pad = tuple(s // 2 for s in span) if same else (0,) * dims
    else:
        pad = _tuple(padding, dims)
    out = tuple(n if same else (n + 2 * p - d * (k - 1) - 1) // s + 1
                for n, p, d, k, s in zip(spatial, pad, dilation, kernel, stride))
    if min(out) < 1:
        raise ValidationError("graph", f"'{name}': the kernel leaves no output of inputs {shape}")
    taps = np.indices(weight.shape).reshape(2 + dims, -1, 1)  # every weight entry
    positions = np.indices(out).reshape(dims, 1, -1)  # every output position
    inside = np.ones((taps.shape[1], positions.shape[2]), bool)
    column = (taps[0] // (c_out // groups)) * c_group + taps[1]  # input channel
    for d in range(dims):
        coordinate = positions[d] * stride[d] + taps[2 + d] * dilation[d] - pad[d]
        inside &= (coordinate >= 0) & (coordinate < spatial[d])
        column = column * spatial[d] + coordinate
    row = np.broadcast_to(taps[0] * int(np.prod(out)) + np.ravel_multi_index(
        positions[:, 0], out)[None, :], inside.shape)
    values = np.broadcast_to(weight.reshape(-1, 1), inside.shape)
    matrix = sparse.csr_matrix((values[inside], (row[inside], column[inside])),
                               shape=(c_out * int(np.prod(out)), c_in * int(np.prod(spatial))))
    return matrix, (c_out,) + out
