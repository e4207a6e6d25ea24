#!/usr/bin/env python3
"""PyTorch parity fixtures for latent's core ops (read by tests/test_parity.cpp).

Regenerate (one command, from anywhere):   scripts/make_fixtures.sh
(it creates or reuses a virtual environment with torch and numpy, then runs this script
as `python scripts/make_fixtures.py --out tests/fixtures`).

Schema. One JSON file per op family, tests/fixtures/<family>.json:

  {"format": 1, "family": "<family>", "generator": "scripts/make_fixtures.py",
   "torch": "<torch version>", "cases": [CASE, ...]}

  CASE = one op on one dtype:
  {"name":     "add/broadcast",          unique in its family; shared by both dtypes
   "op":       "add",                    latent's name; test_parity.cpp maps it to a call
   "dtype":    "float32" | "float64",    element type of every "float" tensor of the case
   "args":     {...},                    op parameters (dims, keepdim, p, ...); the string
                                         "inf" stands for infinity
   "inputs":   [TENSOR + {"requires_grad": bool}, ...],
   "outputs":  [TENSOR, ...],            PyTorch's forward result(s), in order
   "upstream": [TENSOR | null, ...],     one per output: the weights u_k (null for outputs
                                         that are not differentiable, e.g. indices)
   "grads":    [TENSOR | null, ...]}     one per input: the gradient of
                                         sum_k sum(output_k * u_k) w.r.t. that input
                                         (null: the input does not require grad)

  TENSOR = {"dtype": "float" | "int64", "shape": [d0, d1, ...], "data": [row-major values]}

  "float" data are in the case's dtype: float64 values are written with repr (exact
  round trip); float32 values with the shortest decimal that gives the same float32
  when parsed as a double and then cast to float (checked here), so readers can parse
  doubles and cast.

Cases of the core ops are defined below; other families live one file each in
scripts/fixture_cases/*.py, executed in this script's namespace.

Inputs are drawn from numpy generators seeded from the case name (crc32), identical for
both dtypes up to float32 rounding. Ops with kinks (relu, abs, clamp, softplus's
threshold, ...) get inputs kept away from them; max/min-type ops get inputs without
ties unless the case is about ties. Gradients come from torch.autograd.grad with
grad_outputs = upstream.
"""
import argparse
import json
import math
import os
import zlib

import numpy as np
import torch
import torch.nn.functional as F

FORMAT = 1
DTYPES = {"float32": torch.float32, "float64": torch.float64}


# ----------------------------------------------------------------------------- inputs
class Inp:
    """One input: gen(rng) -> ndarray; kind "float" (the case dtype) or "int64"."""

    def __init__(self, gen, kind="float", grad=True):
        self.gen, self.kind, self.grad = gen, kind, grad and kind == "float"


def randn(*shape, grad=True):
    return Inp(lambda rng: np.asarray(rng.standard_normal(shape)), grad=grad)


def unif(lo, hi, *shape, grad=True):
    return Inp(lambda rng: np.asarray(rng.uniform(lo, hi, shape)), grad=grad)


def away(*shape, lo=-2.0, hi=2.0, points=(0.0,), eps=0.1, grad=True):
    """Uniform in [lo, hi) but at least eps from every point in `points` (kinks)."""

    def gen(rng):
        x = np.asarray(rng.uniform(lo, hi, shape))
        for _ in range(1000):
            near = np.zeros(x.shape, dtype=bool)
            for p in points:
                near |= np.abs(x - p) < eps
            if not near.any():
                return x
            x[near] = rng.uniform(lo, hi, int(near.sum()))
        raise RuntimeError("away: could not draw values away from the kinks")

    return Inp(gen, grad=grad)


def signed(lo, hi, *shape, grad=True):
    """Magnitude uniform in [lo, hi), random sign (denominators)."""
    return Inp(lambda rng: np.asarray(rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)), grad=grad)


def const(values, grad=True):
    return Inp(lambda rng: np.asarray(values, dtype=np.float64), grad=grad)


def mask(values):
    """A 0/1 mask in the case dtype (latent's where takes masks of the element type)."""
    return Inp(lambda rng: np.asarray(values, dtype=np.float64), grad=False)


def index(values):
    return Inp(lambda rng: np.asarray(values, dtype=np.int64), kind="int64")


# ----------------------------------------------------------------------------- cases
class Case:
    def __init__(self, family, name, op, inputs, fn, args=None):
        self.family, self.name, self.op, self.inputs, self.fn = family, name, op, inputs, fn
        self.args = args or {}


CASES = []


def case(family, name, op, inputs, fn, **args):
    CASES.append(Case(family, name, op, inputs, fn, args))


def all_dims(x, dims):
    return list(dims) if dims else list(range(x.dim()))


def pnum(p):
    return math.inf if p == "inf" else p


# ---- elementwise: arithmetic with broadcasting and unary math
E = "elementwise"
case(E, "add/broadcast", "add", [randn(3, 1, 4), randn(2, 4)], lambda t, a: t[0] + t[1])
case(E, "add/same_shape", "add", [randn(2, 3), randn(2, 3)], lambda t, a: t[0] + t[1])
case(E, "add/zero_dim", "add", [randn(2, 3), randn()], lambda t, a: t[0] + t[1])
case(E, "sub/broadcast", "sub", [randn(3, 1, 4), randn(2, 4)], lambda t, a: t[0] - t[1])
case(E, "sub/row", "sub", [randn(4), randn(3, 4)], lambda t, a: t[0] - t[1])
case(E, "mul/broadcast", "mul", [randn(3, 1, 4), randn(2, 4)], lambda t, a: t[0] * t[1])
case(E, "mul/column", "mul", [randn(2, 3), randn(2, 1)], lambda t, a: t[0] * t[1])
case(E, "div/broadcast", "div", [randn(3, 1, 4), signed(0.5, 2.0, 2, 4)], lambda t, a: t[0] / t[1])
case(E, "div/same_shape", "div", [randn(2, 3), signed(0.5, 2.0, 2, 3)], lambda t, a: t[0] / t[1])
case(E, "add_scalar", "add_scalar", [randn(2, 3)], lambda t, a: t[0] + a["scalar"], scalar=1.5)
case(E, "sub_scalar", "sub_scalar", [randn(2, 3)], lambda t, a: t[0] - a["scalar"], scalar=0.75)
case(E, "mul_scalar", "mul_scalar", [randn(2, 3)], lambda t, a: t[0] * a["scalar"], scalar=-2.5)
case(E, "div_scalar", "div_scalar", [randn(2, 3)], lambda t, a: t[0] / a["scalar"], scalar=4.0)
case(E, "rsub", "rsub", [randn(2, 3)], lambda t, a: a["scalar"] - t[0], scalar=2.0)
case(E, "rdiv", "rdiv", [signed(0.5, 2.0, 2, 3)], lambda t, a: a["scalar"] / t[0], scalar=3.0)
case(E, "neg", "neg", [randn(2, 3)], lambda t, a: -t[0])
for name, p, inp in [("square", 2.0, randn(3, 4)), ("cube", 3.0, randn(3, 4)), ("sqrt", 0.5, unif(0.2, 3, 3, 4)),
                     ("neg_frac", -1.5, unif(0.2, 3, 3, 4)), ("frac", 2.5, unif(0.2, 3, 3, 4)),
                     ("zero", 0.0, randn(3, 4)), ("one", 1.0, randn(3, 4)), ("neg_int", -2.0, signed(0.5, 2, 3, 4))]:
    case(E, "pow_scalar/" + name, "pow_scalar", [inp], lambda t, a: t[0] ** a["exponent"], exponent=p)
case(E, "pow/broadcast", "pow", [unif(0.5, 2, 3, 1), unif(-2, 2, 4)], lambda t, a: torch.pow(t[0], t[1]))
case(E, "pow/same_shape", "pow", [unif(0.5, 2, 2, 3), unif(-2, 2, 2, 3)], lambda t, a: torch.pow(t[0], t[1]))
case(E, "pow/zero_base", "pow", [const([0.0, 0.0, 0.0, 1.5, 0.5]), const([0.0, 2.0, 3.5, 0.0, 1.0])],
     lambda t, a: torch.pow(t[0], t[1]))
case(E, "pow_scalar/zero_base", "pow_scalar", [const([0.0, -1.5, 2.0, 0.0])], lambda t, a: t[0] ** a["exponent"],
     exponent=3.0)
case(E, "exp", "exp", [randn(3, 4)], lambda t, a: torch.exp(t[0]))
case(E, "log", "log", [unif(0.2, 3, 3, 4)], lambda t, a: torch.log(t[0]))
case(E, "log1p", "log1p", [unif(-0.5, 2, 3, 4)], lambda t, a: torch.log1p(t[0]))
case(E, "expm1", "expm1", [randn(3, 4)], lambda t, a: torch.expm1(t[0]))
case(E, "sqrt", "sqrt", [unif(0.2, 3, 3, 4)], lambda t, a: torch.sqrt(t[0]))
case(E, "rsqrt", "rsqrt", [unif(0.2, 3, 3, 4)], lambda t, a: torch.rsqrt(t[0]))
case(E, "abs", "abs", [away(3, 4)], lambda t, a: torch.abs(t[0]))
case(E, "sign", "sign", [away(3, 4)], lambda t, a: torch.sign(t[0]))
case(E, "sin", "sin", [unif(-3, 3, 3, 4)], lambda t, a: torch.sin(t[0]))
case(E, "cos", "cos", [unif(-3, 3, 3, 4)], lambda t, a: torch.cos(t[0]))
case(E, "erf", "erf", [randn(3, 4)], lambda t, a: torch.erf(t[0]))
case(E, "square", "square", [randn(3, 4)], lambda t, a: torch.square(t[0]))
# At the kinks both libraries pick a one-sided derivative; latent documents PyTorch's choice.
KINK = [-1.0, 0.0, 0.5, 0.0, 2.0, -0.0]
case(E, "abs/at_zero", "abs", [const(KINK)], lambda t, a: torch.abs(t[0]))
case(E, "sign/at_zero", "sign", [const(KINK)], lambda t, a: torch.sign(t[0]))

# ---- activations, clamp, minimum/maximum, where
A = "activation"
case(A, "tanh", "tanh", [unif(-3, 3, 3, 4)], lambda t, a: torch.tanh(t[0]))
case(A, "sigmoid", "sigmoid", [unif(-4, 4, 3, 4)], lambda t, a: torch.sigmoid(t[0]))
case(A, "relu", "relu", [away(3, 4)], lambda t, a: F.relu(t[0]))
case(A, "leaky_relu", "leaky_relu", [away(3, 4)], lambda t, a: F.leaky_relu(t[0], a["negative_slope"]),
     negative_slope=0.2)
case(A, "elu/alpha1", "elu", [away(3, 4, lo=-3)], lambda t, a: F.elu(t[0], a["alpha"]), alpha=1.0)
case(A, "elu/alpha0.5", "elu", [away(3, 4, lo=-3)], lambda t, a: F.elu(t[0], a["alpha"]), alpha=0.5)
case(A, "gelu/exact", "gelu", [unif(-3, 3, 3, 4)], lambda t, a: F.gelu(t[0], approximate=a["approximate"]),
     approximate="none")
case(A, "gelu/tanh", "gelu", [unif(-3, 3, 3, 4)], lambda t, a: F.gelu(t[0], approximate=a["approximate"]),
     approximate="tanh")
case(A, "silu", "silu", [unif(-4, 4, 3, 4)], lambda t, a: F.silu(t[0]))
case(A, "softplus/beta2_threshold3", "softplus", [away(3, 4, lo=-3, hi=3, points=(1.5,))],
     lambda t, a: F.softplus(t[0], beta=a["beta"], threshold=a["threshold"]), beta=2.0, threshold=3.0)
case(A, "softplus/default", "softplus", [unif(-4, 4, 3, 4)],
     lambda t, a: F.softplus(t[0], beta=a["beta"], threshold=a["threshold"]), beta=1.0, threshold=20.0)
case(A, "clamp", "clamp", [away(3, 4, points=(-0.5, 0.7))], lambda t, a: torch.clamp(t[0], a["min"], a["max"]),
     min=-0.5, max=0.7)
case(A, "clamp_min", "clamp_min", [away(3, 4, points=(0.2,))], lambda t, a: torch.clamp(t[0], min=a["min"]),
     min=0.2)
case(A, "clamp_max", "clamp_max", [away(3, 4, points=(-0.1,))], lambda t, a: torch.clamp(t[0], max=a["max"]),
     max=-0.1)
case(A, "relu/at_zero", "relu", [const(KINK)], lambda t, a: F.relu(t[0]))
case(A, "leaky_relu/at_zero", "leaky_relu", [const(KINK)], lambda t, a: F.leaky_relu(t[0], a["negative_slope"]),
     negative_slope=0.2)
case(A, "elu/at_zero", "elu", [const(KINK)], lambda t, a: F.elu(t[0], a["alpha"]), alpha=0.5)
case(A, "softplus/at_threshold", "softplus", [const([1.5, 1.25, 1.75, -1.5])],
     lambda t, a: F.softplus(t[0], beta=a["beta"], threshold=a["threshold"]), beta=2.0, threshold=3.0)
case(A, "clamp/at_bounds", "clamp", [const([-0.5, 0.75, 0.0, 1.0, -1.0])],
     lambda t, a: torch.clamp(t[0], a["min"], a["max"]), min=-0.5, max=0.75)
case(A, "minimum/broadcast", "minimum", [randn(3, 1, 4), randn(2, 4)], lambda t, a: torch.minimum(t[0], t[1]))
case(A, "maximum/broadcast", "maximum", [randn(3, 1, 4), randn(2, 4)], lambda t, a: torch.maximum(t[0], t[1]))
case(A, "minimum/ties", "minimum", [const([1.0, 2.0, -3.0, 4.0]), const([1.0, 0.5, -3.0, 5.0])],
     lambda t, a: torch.minimum(t[0], t[1]))
case(A, "maximum/ties", "maximum", [const([1.0, 2.0, -3.0, 4.0]), const([1.0, 0.5, -3.0, 5.0])],
     lambda t, a: torch.maximum(t[0], t[1]))
case(A, "where/broadcast", "where", [mask([[1.0], [0.0], [1.0]]), randn(3, 4), randn(4)],
     lambda t, a: torch.where(t[0] != 0, t[1], t[2]))
case(A, "where/same_shape", "where", [mask([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]), randn(2, 3), randn(2, 3)],
     lambda t, a: torch.where(t[0] != 0, t[1], t[2]))

# ---- reductions
R = "reduce"
for dims, keep in [([], False), ([1], True), ([0, 2], False), ([-1], False), ([0, 1, 2], True)]:
    tag = "all" if not dims else "dims" + "_".join(map(str, dims))
    tag += "_keepdim" if keep else ""
    case(R, "sum/" + tag, "sum", [randn(2, 3, 4)],
         lambda t, a: torch.sum(t[0], dim=all_dims(t[0], a["dims"]), keepdim=a["keepdim"]), dims=dims, keepdim=keep)
    case(R, "mean/" + tag, "mean", [randn(2, 3, 4)],
         lambda t, a: torch.mean(t[0], dim=all_dims(t[0], a["dims"]), keepdim=a["keepdim"]), dims=dims, keepdim=keep)
for dims, keep in [([], False), ([1], False), ([0, 2], True), ([-1], True)]:
    for unbiased in (True, False):
        tag = ("all" if not dims else "dims" + "_".join(map(str, dims))) + ("_keepdim" if keep else "")
        tag += "_unbiased" if unbiased else "_biased"
        for op, fn in (("var", torch.var), ("std", torch.std)):
            case(R, op + "/" + tag, op, [randn(2, 3, 4)],
                 lambda t, a, fn=fn: fn(t[0], dim=all_dims(t[0], a["dims"]), correction=1 if a["unbiased"] else 0,
                                        keepdim=a["keepdim"]),
                 dims=dims, unbiased=unbiased, keepdim=keep)
for dims, keep in [([], False), ([1], False), ([0, 2], True), ([-1], False)]:
    tag = ("all" if not dims else "dims" + "_".join(map(str, dims))) + ("_keepdim" if keep else "")
    case(R, "amax/" + tag, "amax", [randn(2, 3, 4)],
         lambda t, a: torch.amax(t[0], dim=all_dims(t[0], a["dims"]), keepdim=a["keepdim"]), dims=dims, keepdim=keep)
    case(R, "amin/" + tag, "amin", [randn(2, 3, 4)],
         lambda t, a: torch.amin(t[0], dim=all_dims(t[0], a["dims"]), keepdim=a["keepdim"]), dims=dims, keepdim=keep)
    case(R, "logsumexp/" + tag, "logsumexp", [randn(2, 3, 4)],
         lambda t, a: torch.logsumexp(t[0], dim=all_dims(t[0], a["dims"]), keepdim=a["keepdim"]), dims=dims,
         keepdim=keep)
TIES = [[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 2.0, 0.5], [-1.0, -4.0, 0.0, -4.0]]
case(R, "amax/ties", "amax", [const(TIES)], lambda t, a: torch.amax(t[0], dim=a["dims"], keepdim=a["keepdim"]),
     dims=[1], keepdim=False)
case(R, "amin/ties", "amin", [const(TIES)], lambda t, a: torch.amin(t[0], dim=a["dims"], keepdim=a["keepdim"]),
     dims=[1], keepdim=True)
case(R, "amax/ties_all", "amax", [const(TIES)], lambda t, a: torch.amax(t[0]), dims=[], keepdim=False)
for dim, keep in [(1, False), (-1, True), (0, False)]:
    tag = "dim%d" % dim + ("_keepdim" if keep else "")
    case(R, "max_dim/" + tag, "max_dim", [randn(2, 3, 4)], lambda t, a: torch.max(t[0], a["dim"], a["keepdim"]),
         dim=dim, keepdim=keep)
    case(R, "min_dim/" + tag, "min_dim", [randn(2, 3, 4)], lambda t, a: torch.min(t[0], a["dim"], a["keepdim"]),
         dim=dim, keepdim=keep)
    case(R, "argmax/" + tag, "argmax", [randn(2, 3, 4)], lambda t, a: torch.argmax(t[0], a["dim"], a["keepdim"]),
         dim=dim, keepdim=keep)
    case(R, "argmin/" + tag, "argmin", [randn(2, 3, 4)], lambda t, a: torch.argmin(t[0], a["dim"], a["keepdim"]),
         dim=dim, keepdim=keep)
for p in (1, 2, "inf"):
    for dims, keep in [([], False), ([1], True), ([0, 2], False), ([-1], False)]:
        tag = "p%s_" % p + ("all" if not dims else "dims" + "_".join(map(str, dims))) + ("_keepdim" if keep else "")
        case(R, "norm/" + tag, "norm", [randn(2, 3, 4)],
             lambda t, a: torch.linalg.vector_norm(t[0], ord=pnum(a["p"]), dim=all_dims(t[0], a["dims"]),
                                                   keepdim=a["keepdim"]),
             p=p, dims=dims, keepdim=keep)
case(R, "norm/p2_zero_row", "norm", [const([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0], [3.0, 0.25, -1.0]])],
     lambda t, a: torch.linalg.vector_norm(t[0], ord=pnum(a["p"]), dim=a["dims"], keepdim=a["keepdim"]),
     p=2, dims=[1], keepdim=False)
for dim in (0, 1, -1):
    case(R, "softmax/dim%d" % dim, "softmax", [randn(2, 3, 4)], lambda t, a: torch.softmax(t[0], a["dim"]), dim=dim)
    case(R, "log_softmax/dim%d" % dim, "log_softmax", [randn(2, 3, 4)],
         lambda t, a: torch.log_softmax(t[0], a["dim"]), dim=dim)

# ---- linear algebra
L = "linalg"
for name, sa, sb in [("dot", (4,), (4,)), ("mv", (3, 4), (4,)), ("vm", (4,), (4, 3)), ("mm", (3, 4), (4, 2)),
                     ("batched_broadcast", (2, 1, 3, 4), (5, 4, 2)), ("batched_2d", (2, 3, 4), (4, 2)),
                     ("2d_batched", (3, 4), (2, 4, 2)), ("vec_batched", (4,), (2, 4, 3)),
                     ("batched_vec", (2, 3, 4), (4,)), ("batched_same", (2, 3, 4), (2, 4, 5))]:
    case(L, "matmul/" + name, "matmul", [randn(*sa), randn(*sb)], lambda t, a: torch.matmul(t[0], t[1]))
case(L, "mm", "mm", [randn(3, 4), randn(4, 5)], lambda t, a: torch.mm(t[0], t[1]), transpose_a=False,
     transpose_b=False)
case(L, "mm/transposed", "mm", [randn(4, 3), randn(5, 4)], lambda t, a: torch.mm(t[0].t(), t[1].t()),
     transpose_a=True, transpose_b=True)
case(L, "bmm", "bmm", [randn(2, 3, 4), randn(2, 4, 5)], lambda t, a: torch.bmm(t[0], t[1]))
case(L, "outer", "outer", [randn(3), randn(4)], lambda t, a: torch.outer(t[0], t[1]))
case(L, "cdist/2d", "cdist", [randn(3, 4), randn(5, 4)], lambda t, a: torch.cdist(t[0], t[1]))
case(L, "cdist/zero_distance", "cdist", [const([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]]),
                                         const([[0.5, 0.0, 3.0], [2.0, -1.0, 1.0], [1.0, 2.0, -1.0]])],
     lambda t, a: torch.cdist(t[0], t[1]))
case(L, "cdist/batched", "cdist", [randn(2, 3, 4), randn(2, 5, 4)], lambda t, a: torch.cdist(t[0], t[1]))

# ---- indexing and joining
I = "index"
case(I, "cat/dim0", "cat", [randn(2, 3), randn(1, 3), randn(3, 3)], lambda t, a: torch.cat(t, a["dim"]), dim=0)
case(I, "cat/dim1", "cat", [randn(2, 1), randn(2, 3)], lambda t, a: torch.cat(t, a["dim"]), dim=1)
case(I, "cat/dim_neg", "cat", [randn(2, 2, 1), randn(2, 2, 2)], lambda t, a: torch.cat(t, a["dim"]), dim=-1)
case(I, "stack/dim0", "stack", [randn(2, 3), randn(2, 3), randn(2, 3)], lambda t, a: torch.stack(t, a["dim"]), dim=0)
case(I, "stack/dim1", "stack", [randn(2, 3), randn(2, 3)], lambda t, a: torch.stack(t, a["dim"]), dim=1)
case(I, "stack/dim_neg", "stack", [randn(2, 3), randn(2, 3)], lambda t, a: torch.stack(t, a["dim"]), dim=-1)
case(I, "split/dim0", "split", [randn(5, 3)], lambda t, a: torch.split(t[0], a["size"], a["dim"]), size=2, dim=0)
case(I, "split/dim1", "split", [randn(2, 5)], lambda t, a: torch.split(t[0], a["size"], a["dim"]), size=3, dim=1)
case(I, "chunk/dim1", "chunk", [randn(2, 7)], lambda t, a: torch.chunk(t[0], a["chunks"], a["dim"]), chunks=3, dim=1)
case(I, "chunk/dim0", "chunk", [randn(6, 2)], lambda t, a: torch.chunk(t[0], a["chunks"], a["dim"]), chunks=4, dim=0)
case(I, "gather/dim1", "gather", [randn(3, 4), index([[0, 3], [2, 2], [1, 0]])],
     lambda t, a: torch.gather(t[0], a["dim"], t[1]), dim=1)
case(I, "gather/dim0", "gather", [randn(3, 4), index([[2, 0, 1, 1], [0, 0, 2, 1]])],
     lambda t, a: torch.gather(t[0], a["dim"], t[1]), dim=0)
case(I, "index_select/dim0", "index_select", [randn(4, 3), index([2, 0, 2])],
     lambda t, a: torch.index_select(t[0], a["dim"], t[1]), dim=0)
case(I, "index_select/dim1", "index_select", [randn(2, 3, 2), index([1, 1, 0, 2])],
     lambda t, a: torch.index_select(t[0], a["dim"], t[1]), dim=1)
# latent's one_hot<T> gives T; the stored output is cast to the case dtype either way.
case(I, "one_hot", "one_hot", [index([[0, 2], [3, 1]])],
     lambda t, a: F.one_hot(t[0], a["num_classes"]).double(), num_classes=4)
case(I, "one_hot/infer", "one_hot", [index([1, 0, 2, 1])],
     lambda t, a: F.one_hot(t[0], a["num_classes"]).double(), num_classes=-1)
case(I, "pad/last", "pad", [randn(2, 3)], lambda t, a: F.pad(t[0], a["pads"], value=a["value"]), pads=[1, 2],
     value=0.0)
case(I, "pad/two_dims_value", "pad", [randn(2, 3, 4)], lambda t, a: F.pad(t[0], a["pads"], value=a["value"]),
     pads=[1, 0, 2, 1], value=1.5)
case(I, "pad/negative", "pad", [randn(3, 4)], lambda t, a: F.pad(t[0], a["pads"], value=a["value"]),
     pads=[-1, 2, 1, -1], value=-0.5)

# ---- views: gradients flow back through them
V = "view"
case(V, "transpose", "transpose", [randn(2, 3, 4)], lambda t, a: t[0].transpose(a["dim0"], a["dim1"]), dim0=0, dim1=2)
case(V, "t", "t", [randn(3, 4)], lambda t, a: t[0].t())
case(V, "permute", "permute", [randn(2, 3, 4)], lambda t, a: t[0].permute(*a["dims"]), dims=[2, 0, 1])
case(V, "expand", "expand", [randn(3, 1)], lambda t, a: t[0].expand(*a["shape"]), shape=[2, 3, 4])
case(V, "expand/minus_one", "expand", [randn(1, 4)], lambda t, a: t[0].expand(*a["shape"]), shape=[3, -1])
case(V, "narrow", "narrow", [randn(4, 5)], lambda t, a: t[0].narrow(a["dim"], a["start"], a["length"]), dim=1,
     start=1, length=3)
case(V, "slice/step", "slice", [randn(6, 4)], lambda t, a: t[0][a["start"]:a["end"]:a["step"]], dim=0, start=1,
     end=6, step=2)
case(V, "slice/negative_start", "slice", [randn(3, 7)], lambda t, a: t[0][:, a["start"]:a["end"]:a["step"]], dim=1,
     start=-5, end=7, step=3)
case(V, "select", "select", [randn(3, 4)], lambda t, a: t[0].select(a["dim"], a["index"]), dim=1, index=2)
case(V, "select/negative", "select", [randn(3, 4)], lambda t, a: t[0].select(a["dim"], a["index"]), dim=0, index=-1)
case(V, "unsqueeze", "unsqueeze", [randn(3, 4)], lambda t, a: t[0].unsqueeze(a["dim"]), dim=1)
case(V, "unsqueeze/last", "unsqueeze", [randn(3, 4)], lambda t, a: t[0].unsqueeze(a["dim"]), dim=-1)
case(V, "squeeze/all", "squeeze", [randn(3, 1, 4, 1)], lambda t, a: t[0].squeeze(), dim=None)
case(V, "squeeze/dim", "squeeze", [randn(3, 1, 4, 1)], lambda t, a: t[0].squeeze(a["dim"]), dim=1)
case(V, "flatten", "flatten", [randn(2, 3, 4)], lambda t, a: t[0].flatten(a["start"], a["end"]), start=1, end=-1)
case(V, "flatten/all", "flatten", [randn(2, 3, 4)], lambda t, a: t[0].flatten(a["start"], a["end"]), start=0, end=-1)
case(V, "reshape", "reshape", [randn(2, 3, 4)], lambda t, a: t[0].reshape(a["shape"]), shape=[4, -1])
case(V, "view", "view", [randn(2, 3, 4)], lambda t, a: t[0].view(a["shape"]), shape=[6, 4])


def view_chain(t, a):
    # permute -> narrow -> strided slice -> reshape (copies: not a view) -> expand, then math
    y = t[0].permute(2, 0, 1).narrow(0, 1, 3)[:, :, 0:3:2]  # (3, 2, 2), non-contiguous
    y = y.reshape(3, 4).unsqueeze(0).expand(2, 3, 4)
    return torch.exp(y.transpose(1, 2)) * t[1]


case(V, "view_chain", "view_chain", [randn(2, 3, 4), randn(4, 3)], view_chain)


# ---- more families, one file each in scripts/fixture_cases/ (nn layers, losses, ...).
# They run in this script's namespace, so they call case(), randn(), ... directly.
CASES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixture_cases")
for _fname in sorted(os.listdir(CASES_DIR)) if os.path.isdir(CASES_DIR) else []:
    if _fname.endswith(".py"):
        _path = os.path.join(CASES_DIR, _fname)
        with open(_path) as _f:
            exec(compile(_f.read(), _path, "exec"), globals())


# ----------------------------------------------------------------------------- running
def short_float32(v):
    """Shortest decimal for a float32 value that survives parse-as-double then cast."""
    f = np.float32(v)
    s = str(f)
    d = float(s)
    if np.float32(d) != f or (f == 0 and math.copysign(1, d) != math.copysign(1, float(f))):
        d = float(f)  # exact, longer
    if not math.isfinite(d):
        raise ValueError("non-finite value in a fixture: %r" % d)
    return d


def tensor_json(x, kind, dtype):
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if kind == "int64":
        data = [int(v) for v in arr.ravel()]
    elif dtype == "float32":
        data = [short_float32(v) for v in arr.astype(np.float32).ravel()]
    else:
        data = [float(v) for v in arr.astype(np.float64).ravel()]
        for v in data:
            if not math.isfinite(v):
                raise ValueError("non-finite value in a fixture: %r" % v)
    return {"dtype": kind, "shape": list(arr.shape), "data": data}


def seed_of(text):
    return zlib.crc32(text.encode())


def run_case(c, dtype_name):
    dtype = DTYPES[dtype_name]
    rng = np.random.default_rng(seed_of(c.name))
    ts, inputs = [], []
    for inp in c.inputs:
        a = inp.gen(rng)
        if inp.kind == "int64":
            t = torch.tensor(a, dtype=torch.int64)
        else:
            t = torch.tensor(a, dtype=dtype).requires_grad_(inp.grad)
        ts.append(t)
        j = tensor_json(t, inp.kind, dtype_name)
        j["requires_grad"] = inp.grad
        inputs.append(j)
    out = c.fn(ts, c.args)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    up_rng = np.random.default_rng(seed_of(c.name + "/upstream"))
    outputs, upstream, diff_outs, diff_ups = [], [], [], []
    for o in outs:
        floating = o.dtype.is_floating_point
        outputs.append(tensor_json(o, "float" if floating else "int64", dtype_name))
        if floating and o.requires_grad:
            u = torch.tensor(np.asarray(up_rng.standard_normal(tuple(o.shape))), dtype=dtype)
            upstream.append(tensor_json(u, "float", dtype_name))
            diff_outs.append(o)
            diff_ups.append(u)
        else:
            upstream.append(None)
    grad_inputs = [t for t, inp in zip(ts, c.inputs) if inp.grad]
    grads = [None] * len(ts)
    if diff_outs and grad_inputs:
        gs = torch.autograd.grad(diff_outs, grad_inputs, grad_outputs=diff_ups, allow_unused=True)
        k = 0
        for i, inp in enumerate(c.inputs):
            if inp.grad:
                if gs[k] is None:
                    raise ValueError("%s: input %d gets no gradient; mark it grad=False" % (c.name, i))
                grads[i] = tensor_json(gs[k], "float", dtype_name)
                k += 1
    return {"name": c.name, "op": c.op, "dtype": dtype_name, "args": c.args, "inputs": inputs,
            "outputs": outputs, "upstream": upstream, "grads": grads}


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures"))
    ap.add_argument("--only", default="", help="comma-separated families to write (others are left as they are)")
    opts = ap.parse_args()
    only = set(filter(None, opts.only.split(",")))
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(opts.out, exist_ok=True)
    families = {}
    names = set()
    for c in CASES:
        key = (c.family, c.name)
        if key in names:
            raise ValueError("duplicate case name %s/%s" % key)
        names.add(key)
        families.setdefault(c.family, []).append(c)
    total = 0
    for family, cases in families.items():
        if only and family not in only:
            continue
        lines = []
        for c in cases:
            for dtype_name in DTYPES:
                lines.append(dumps(run_case(c, dtype_name)))
        head = {"format": FORMAT, "family": family, "generator": "scripts/make_fixtures.py",
                "torch": torch.__version__.split("+")[0]}
        text = dumps(head)[:-1] + ',"cases":[\n' + ",\n".join(lines) + "\n]}\n"
        path = os.path.join(opts.out, family + ".json")
        with open(path, "w") as f:
            f.write(text)
        total += len(text)
        print("%-40s %4d cases %8d bytes" % (os.path.relpath(path), len(lines), len(text)))
    # Remove fixture files of families that no longer exist.
    for fname in sorted(os.listdir(opts.out)) if not only else []:
        if fname.endswith(".json") and fname[:-5] not in families:
            os.remove(os.path.join(opts.out, fname))
            print("removed stale", fname)
    print("total %d bytes in %d families" % (total, len(families)))


if __name__ == "__main__":
    main()
