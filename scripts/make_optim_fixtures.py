#!/usr/bin/env python3
"""PyTorch trajectories of latent's optimizers and LR schedulers (read by
tests/test_optim_parity.cpp).

Regenerate (from anywhere):   scripts/make_optim_fixtures.sh
(it reuses make_fixtures.sh's virtual environment logic, then runs this script as
`python scripts/make_optim_fixtures.py --out tests/fixtures/optim`). The file lives in a
subdirectory because the op-parity registry test reads every top-level tests/fixtures/*.json.

Schema of tests/fixtures/optim/optim.json:

  {"format": 1, "generator": "scripts/make_optim_fixtures.py", "torch": "<version>",
   "steps": 10, "epochs": 12,
   "trajectories": [TRAJECTORY, ...], "schedules": [SCHEDULE, ...]}

  TRAJECTORY = one optimizer run on one dtype:
  {"name": "sgd/nesterov", "optimizer": "SGD" | "Adam" | "AdamW" | "RMSprop",
   "dtype": "float32" | "float64",
   "groups": [{"params": [param indices], "options": {OPTION: number | bool}}, ...],
             every option resolved (PyTorch's param_groups after construction); Adam's
             betas are split into beta1 and beta2
   "scheduler": null | SCHEDULER,         stepped once after every optimizer step
   "params": [TENSOR, TENSOR],            initial values, shapes (3, 4) and (4)
   "c": [TENSOR, TENSOR], "d": [TENSOR, TENSOR],
   "trajectory": [[TENSOR, TENSOR], ...], the parameters after each step
   "lrs": [[lr of each group], ...]}      after each step (and scheduler step)

  The loss at every step is  sum_k sum(sin(p_k) * c_k) + sum(p_k * p_k * d_k),
  whose gradient cos(p) c + 2 p d depends on the parameters.

  SCHEDULE = an LR schedule alone, on an SGD optimizer with two groups (lr 0.1 and 0.02):
  {"name": ..., "scheduler": SCHEDULER, "base_lrs": [0.1, 0.02],
   "lrs": [[lr of each group], ...]}      at epoch 0 (after construction) .. epochs

  SCHEDULER = {"type": "StepLR" | "ExponentialLR" | "CosineAnnealingLR" | "LinearLR" |
               "LambdaLR", "args": {...}} (LambdaLR: args.factor names a function that
               the test implements too: "inverse_linear" = 1 / (1 + epoch))

  TENSOR = {"shape": [...], "data": [row-major values]}; float32 data are the shortest
  decimals that round-trip through double to the same float32 (as make_fixtures.py).

Every optimizer runs PyTorch's single-tensor path (foreach=False), which latent's loops
mirror operation for operation.
"""
import argparse
import json
import math
import os

import numpy as np
import torch

FORMAT = 1
STEPS = 10
EPOCHS = 12
DTYPES = {"float32": torch.float32, "float64": torch.float64}

OPTION_KEYS = {
    "SGD": ["lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"],
    "Adam": ["lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "maximize"],
    "AdamW": ["lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "maximize"],
    "RMSprop": ["lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"],
}
OPTIMIZERS = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW,
              "RMSprop": torch.optim.RMSprop}
LAMBDAS = {"inverse_linear": lambda epoch: 1.0 / (1.0 + epoch)}


def short_float32(v):
    f = np.float32(v)
    d = float(str(f))
    if np.float32(d) != f:
        d = float(f)
    return d


def tensor_json(t):
    arr = t.detach().cpu().numpy()
    if arr.dtype == np.float32:
        data = [short_float32(v) for v in arr.ravel()]
    else:
        data = [float(v) for v in arr.ravel()]
    if not all(math.isfinite(v) for v in data):
        raise ValueError("non-finite value in an optimizer fixture")
    return {"shape": list(arr.shape), "data": data}


def problem(dtype):
    """Initial parameters and the loss constants, identical (up to rounding) for every case."""
    rng = np.random.default_rng(20240611)
    shapes = [(3, 4), (4,)]
    params = [torch.tensor(rng.uniform(-2, 2, s), dtype=dtype) for s in shapes]
    c = [torch.tensor(rng.uniform(0.5, 1.5, s), dtype=dtype) for s in shapes]
    d = [torch.tensor(rng.uniform(0.1, 0.5, s), dtype=dtype) for s in shapes]
    return params, c, d


def loss_fn(params, c, d):
    return sum((torch.sin(p) * ck).sum() + (p * p * dk).sum() for p, ck, dk in zip(params, c, d))


def make_scheduler(opt, spec):
    if spec is None:
        return None
    kind, args = spec["type"], spec["args"]
    S = torch.optim.lr_scheduler
    if kind == "StepLR":
        return S.StepLR(opt, step_size=args["step_size"], gamma=args["gamma"])
    if kind == "ExponentialLR":
        return S.ExponentialLR(opt, gamma=args["gamma"])
    if kind == "CosineAnnealingLR":
        return S.CosineAnnealingLR(opt, T_max=args["T_max"], eta_min=args["eta_min"])
    if kind == "LinearLR":
        return S.LinearLR(opt, start_factor=args["start_factor"], end_factor=args["end_factor"],
                          total_iters=args["total_iters"])
    if kind == "LambdaLR":
        return S.LambdaLR(opt, LAMBDAS[args["factor"]])
    raise ValueError("unknown scheduler " + kind)


def resolved_options(kind, group):
    out = {}
    for key in OPTION_KEYS[kind]:
        if key in ("beta1", "beta2"):
            out[key] = float(group["betas"][0 if key == "beta1" else 1])
        else:
            v = group[key]
            out[key] = v if isinstance(v, bool) else float(v)
    return out


def trajectory(name, kind, dtype_name, defaults, group1=None, single_group=False, scheduler=None):
    dtype = DTYPES[dtype_name]
    params, c, d = problem(dtype)
    initial = [tensor_json(p) for p in params]
    for p in params:
        p.requires_grad_(True)
    if single_group:
        groups = [{"params": params}]
    else:
        groups = [{"params": [params[0]]}, dict({"params": [params[1]]}, **(group1 or {}))]
    opt = OPTIMIZERS[kind](groups, foreach=False, **defaults)
    index = {id(p): i for i, p in enumerate(params)}
    group_json = [{"params": [index[id(p)] for p in g["params"]], "options": resolved_options(kind, g)}
                  for g in opt.param_groups]
    sched = make_scheduler(opt, scheduler)
    steps, lrs = [], []
    for _ in range(STEPS):
        opt.zero_grad()
        loss_fn(params, c, d).backward()
        opt.step()
        if sched is not None:
            sched.step()
        steps.append([tensor_json(p) for p in params])
        lrs.append([float(g["lr"]) for g in opt.param_groups])
    return {"name": name, "optimizer": kind, "dtype": dtype_name, "groups": group_json, "scheduler": scheduler,
            "params": initial, "c": [tensor_json(t) for t in c], "d": [tensor_json(t) for t in d],
            "trajectory": steps, "lrs": lrs}


def schedule(name, spec):
    p = torch.zeros(2, requires_grad=True)
    q = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([{"params": [p], "lr": 0.1}, {"params": [q], "lr": 0.02}], lr=0.1)
    sched = make_scheduler(opt, spec)
    lrs = [[float(g["lr"]) for g in opt.param_groups]]
    for _ in range(EPOCHS):
        opt.step()  # no gradients: nothing moves, but PyTorch expects step() before sched.step()
        sched.step()
        lrs.append([float(g["lr"]) for g in opt.param_groups])
    return {"name": name, "scheduler": spec, "base_lrs": [0.1, 0.02], "lrs": lrs}


def sched(kind, **args):
    return {"type": kind, "args": args}


# (name, optimizer, defaults, overrides of the second group, single group?, scheduler)
TRAJECTORIES = [
    ("sgd/plain", "SGD", dict(lr=0.1), None, True, None),
    ("sgd/momentum", "SGD", dict(lr=0.1, momentum=0.9), dict(lr=0.03), False, None),
    ("sgd/dampening", "SGD", dict(lr=0.1, momentum=0.9, dampening=0.3), None, False, None),
    ("sgd/nesterov", "SGD", dict(lr=0.05, momentum=0.8, nesterov=True), dict(lr=0.1), False, None),
    ("sgd/weight_decay", "SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.1), dict(weight_decay=0.0), False, None),
    ("sgd/maximize", "SGD", dict(lr=0.05, momentum=0.5, maximize=True), None, False, None),
    ("adam/default", "Adam", dict(lr=0.05), None, True, None),
    ("adam/groups", "Adam", dict(lr=0.05, betas=(0.8, 0.99)), dict(lr=0.01, eps=1e-6), False, None),
    ("adam/amsgrad", "Adam", dict(lr=0.1, amsgrad=True), None, False, None),
    ("adam/weight_decay", "Adam", dict(lr=0.05, weight_decay=0.1), dict(lr=0.02), False, None),
    ("adam/maximize", "Adam", dict(lr=0.05, maximize=True), None, False, None),
    ("adamw/default", "AdamW", dict(lr=0.05), None, True, None),
    ("adamw/weight_decay", "AdamW", dict(lr=0.05, weight_decay=0.3), dict(lr=0.1, weight_decay=0.05), False, None),
    ("adamw/amsgrad", "AdamW", dict(lr=0.1, amsgrad=True, weight_decay=0.1), None, False, None),
    ("rmsprop/default", "RMSprop", dict(lr=0.01), None, True, None),
    ("rmsprop/momentum", "RMSprop", dict(lr=0.01, momentum=0.9), dict(lr=0.02), False, None),
    ("rmsprop/centered", "RMSprop", dict(lr=0.01, centered=True), None, False, None),
    ("rmsprop/centered_momentum_wd", "RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.1,
                                                     alpha=0.9), dict(lr=0.005), False, None),
    # Schedulers driving an optimizer: the lr of each step comes from the scheduler.
    ("chain/sgd_momentum_steplr", "SGD", dict(lr=0.1, momentum=0.9), dict(lr=0.05), False,
     sched("StepLR", step_size=3, gamma=0.5)),
    ("chain/adam_cosine", "Adam", dict(lr=0.1), dict(lr=0.02), False,
     sched("CosineAnnealingLR", T_max=4, eta_min=0.001)),
    ("chain/adamw_linear_warmup", "AdamW", dict(lr=0.05), None, False,
     sched("LinearLR", start_factor=0.2, end_factor=1.0, total_iters=4)),
]

SCHEDULES = [
    ("step", sched("StepLR", step_size=3, gamma=0.5)),
    ("step_size1", sched("StepLR", step_size=1, gamma=0.7)),
    ("exponential", sched("ExponentialLR", gamma=0.9)),
    ("cosine", sched("CosineAnnealingLR", T_max=10, eta_min=0.0)),
    ("cosine_past_t_max", sched("CosineAnnealingLR", T_max=5, eta_min=0.001)),
    ("linear_default", sched("LinearLR", start_factor=1.0 / 3, end_factor=1.0, total_iters=5)),
    ("linear_decay", sched("LinearLR", start_factor=1.0, end_factor=0.1, total_iters=8)),
    ("lambda", sched("LambdaLR", factor="inverse_linear")),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "optim"))
    opts = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(opts.out, exist_ok=True)
    trajectories = [trajectory(name, kind, dt, defaults, group1, single, sc)
                    for name, kind, defaults, group1, single, sc in TRAJECTORIES for dt in DTYPES]
    schedules = [schedule(name, spec) for name, spec in SCHEDULES]
    head = {"format": FORMAT, "generator": "scripts/make_optim_fixtures.py", "torch": torch.__version__.split("+")[0],
            "steps": STEPS, "epochs": EPOCHS}
    dumps = lambda o: json.dumps(o, separators=(",", ":"), allow_nan=False)
    text = (dumps(head)[:-1] + ',"trajectories":[\n' + ",\n".join(dumps(t) for t in trajectories) +
            '\n],"schedules":[\n' + ",\n".join(dumps(s) for s in schedules) + "\n]}\n")
    path = os.path.join(opts.out, "optim.json")
    with open(path, "w") as f:
        f.write(text)
    print("%-40s %3d trajectories %3d schedules %8d bytes" % (os.path.relpath(path), len(trajectories),
                                                               len(schedules), len(text)))


if __name__ == "__main__":
    main()
