#!/usr/bin/env python3
"""Reference values of latent::diffusion's schedules and schedulers, from diffusers'
DDPMScheduler and DDIMScheduler and from the course's own code (RECIPES R9), read by
tests/test_diffusion.cpp.

Regenerate (from anywhere):   scripts/make_diffusion_fixtures.sh
(virtual environment as scripts/make_fixtures.sh, with torch, numpy and diffusers).

diffusers computes its schedule in float32. To compare the step logic tightly, every step
case runs diffusers' own step() on a scheduler whose betas / alphas / alphas_cumprod were
replaced by float64 tensors of the same schedule, with float64 inputs; the float32
schedules are recorded separately and compared at float32 precision.

Schema of tests/fixtures/diffusion/schedulers.json:

  {"format": 1, "generator": ..., "versions": {...},
   "schedules": [{"name", "config": {...}, "T", "index": [i...],
                  "betas": [...], "alphas_cumprod": [...]   values at those indices,
                  "source": "diffusers-float32" | "course-float64"}],
   "timesteps": [{"spacing", "n", "steps_offset", "T", "timesteps": [...]}],
   "add_noise": {"shape", "x0", "noise", "t": [...], "noisy": [...], "velocity": [...]},
   "ddpm_step": [{"config": {...}, "set_timesteps": n | null, "t", "shape",
                  "sample", "model_output", "noise", "prev_sample", "pred_original_sample"}],
   "ddim_step": [{"config": {...}, "n", "t", "eta", "use_clipped_model_output", "shape",
                  "sample", "model_output", "noise", "prev_sample", "pred_original_sample",
                  "reference": "diffusers" | "list-prev",
                  "diffusers_prev_sample": [...] (list-prev cases only: what diffusers' t - T/n gives)}],
   "recipe_r9": {"shape", "steps": [{"t", "x", "eps", "z", "x_prev"}]}   the seed's update}
Tensors are flattened row-major lists.
"""
import argparse
import json
import math
import os

import diffusers
import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler

FORMAT = 1
SHAPE = (2, 1, 3, 3)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def to_float64(scheduler, betas64):
    """Replaces the scheduler's float32 schedule with float64 tensors of the same betas."""
    scheduler.betas = betas64
    scheduler.alphas = 1.0 - betas64
    scheduler.alphas_cumprod = torch.cumprod(scheduler.alphas, dim=0)
    scheduler.one = torch.tensor(1.0, dtype=torch.float64)
    if hasattr(scheduler, "final_alpha_cumprod"):
        set_one = scheduler.config.set_alpha_to_one
        scheduler.final_alpha_cumprod = scheduler.one if set_one else scheduler.alphas_cumprod[0]
    return scheduler


def betas64_for(config):
    T = config.get("num_train_timesteps", 1000)
    schedule = config.get("beta_schedule", "linear")
    start, end = config.get("beta_start", 1e-4), config.get("beta_end", 0.02)
    if schedule == "linear":
        return torch.linspace(start, end, T, dtype=torch.float64)
    if schedule == "scaled_linear":
        return torch.linspace(start**0.5, end**0.5, T, dtype=torch.float64) ** 2
    if schedule == "squaredcos_cap_v2":
        f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        return torch.tensor([min(1 - f((i + 1) / T) / f(i / T), 0.999) for i in range(T)], dtype=torch.float64)
    raise ValueError(schedule)


def course_cosine_betas(T, s=0.008):
    """The seed's cosine_beta_schedule, in float64."""
    x = torch.linspace(0, T, T + 1, dtype=torch.float64)
    alphas_cumprod = torch.cos(((x / T) + s) / (1 + s) * torch.pi * 0.5) ** 2
    alphas_cumprod = alphas_cumprod / alphas_cumprod[0]
    betas = 1 - (alphas_cumprod[1:] / alphas_cumprod[:-1])
    return torch.clip(betas, 0.0001, 0.9999)


def schedules():
    index = [0, 1, 2, 10, 100, 500, 998, 999]
    out = []
    for name, config in [
        ("linear", {"beta_schedule": "linear", "beta_start": 1e-4, "beta_end": 0.02}),
        ("scaled_linear", {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}),
        ("squaredcos_cap_v2", {"beta_schedule": "squaredcos_cap_v2"}),
    ]:
        s = DDPMScheduler(num_train_timesteps=1000, **config)
        out.append({"name": name, "config": config, "T": 1000, "index": index, "source": "diffusers-float32",
                    "betas": [float(s.betas[i]) for i in index],
                    "alphas_cumprod": [float(s.alphas_cumprod[i]) for i in index]})
    betas = course_cosine_betas(1000)
    abar = torch.cumprod(1 - betas, 0)
    out.append({"name": "cosine", "config": {"beta_schedule": "cosine"}, "T": 1000, "index": index,
                "source": "course-float64", "betas": [float(betas[i]) for i in index],
                "alphas_cumprod": [float(abar[i]) for i in index]})
    return out


def timesteps():
    out = []
    for spacing in ["leading", "linspace", "trailing"]:
        for n, offset in [(10, 0), (50, 0), (30, 0), (7, 0), (1000, 0), (1, 0), (50, 1)]:
            if offset and spacing != "leading":
                continue
            s = DDPMScheduler(num_train_timesteps=1000, timestep_spacing=spacing, steps_offset=offset)
            s.set_timesteps(n)
            d = DDIMScheduler(num_train_timesteps=1000, timestep_spacing=spacing, steps_offset=offset)
            d.set_timesteps(n)
            assert s.timesteps.tolist() == d.timesteps.tolist()
            out.append({"spacing": spacing, "n": n, "steps_offset": offset, "T": 1000,
                        "timesteps": s.timesteps.tolist()})
    return out


def add_noise(gen):
    s = to_float64(DDPMScheduler(num_train_timesteps=1000), betas64_for({}))
    shape = (4, 1, 2, 3)
    x0 = torch.randn(shape, generator=gen, dtype=torch.float64)
    noise = torch.randn(shape, generator=gen, dtype=torch.float64)
    t = torch.tensor([0, 10, 500, 999])
    return {"shape": list(shape), "x0": flat(x0), "noise": flat(noise), "t": t.tolist(),
            "noisy": flat(s.add_noise(x0, noise, t)), "velocity": flat(s.get_velocity(x0, noise, t))}


def ddpm_steps(gen):
    out = []
    cases = []
    for variance in ["fixed_small", "fixed_large"]:
        for prediction in ["epsilon", "sample", "v_prediction"]:
            for t in [999, 500, 1, 0]:
                cases.append(({"variance_type": variance, "prediction_type": prediction, "clip_sample": False}, None, t))
    cases += [
        ({"clip_sample": True, "clip_sample_range": 1.0}, None, 999),
        ({"clip_sample": True, "clip_sample_range": 0.5, "prediction_type": "sample"}, None, 300),
        ({"beta_schedule": "squaredcos_cap_v2", "clip_sample": False}, None, 700),
        ({"timestep_spacing": "leading", "clip_sample": False}, 50, 980),
        ({"timestep_spacing": "trailing", "clip_sample": False, "variance_type": "fixed_large"}, 30, 966),
        ({"timestep_spacing": "linspace", "clip_sample": False}, 50, 0),
    ]
    for config, n, t in cases:
        s = to_float64(DDPMScheduler(num_train_timesteps=1000, **config), betas64_for(config))
        if n is not None:
            s.set_timesteps(n)
            assert t in s.timesteps.tolist()
        sample = torch.randn(SHAPE, generator=gen, dtype=torch.float64) * 1.5
        model_output = torch.randn(SHAPE, generator=gen, dtype=torch.float64)
        seed = int(torch.randint(0, 2**31, (1,), generator=gen))
        noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        r = s.step(model_output, t, sample, generator=torch.Generator().manual_seed(seed))
        out.append({"config": config, "set_timesteps": n, "t": t, "shape": list(SHAPE), "sample": flat(sample),
                    "model_output": flat(model_output), "noise": flat(noise),
                    "prev_sample": flat(r.prev_sample), "pred_original_sample": flat(r.pred_original_sample)})
    return out


def list_prev_ddim_step(s, model_output, t, sample, eta, noise, prediction, clip, clip_range, use_clipped):
    """DDIM (Song et al. eq. 12) with the previous timestep taken from the timestep list."""
    ts = s.timesteps.tolist()
    i = ts.index(t)
    prev = ts[i + 1] if i + 1 < len(ts) else -1
    a = s.alphas_cumprod[t]
    a_prev = s.alphas_cumprod[prev] if prev >= 0 else s.final_alpha_cumprod
    b = 1 - a
    if prediction == "epsilon":
        x0, eps = (sample - b.sqrt() * model_output) / a.sqrt(), model_output
    elif prediction == "sample":
        x0, eps = model_output, (sample - a.sqrt() * model_output) / b.sqrt()
    else:
        x0, eps = a.sqrt() * sample - b.sqrt() * model_output, a.sqrt() * model_output + b.sqrt() * sample
    if clip:
        x0 = x0.clamp(-clip_range, clip_range)
    if use_clipped:
        eps = (sample - a.sqrt() * x0) / b.sqrt()
    var = (1 - a_prev) / (1 - a) * (1 - a / a_prev)
    std = eta * var.sqrt()
    prev_sample = a_prev.sqrt() * x0 + (1 - a_prev - std**2).sqrt() * eps
    if eta > 0:
        prev_sample = prev_sample + std * noise
    return prev_sample, x0


def ddim_steps(gen):
    out = []
    cases = []
    for prediction in ["epsilon", "sample", "v_prediction"]:
        for eta in [0.0, 0.5, 1.0]:
            cases.append(({"prediction_type": prediction, "clip_sample": False}, 50, 980, eta, False))
    cases += [
        ({"clip_sample": False}, 50, 0, 0.0, False),  # last step: abar_prev = final_alpha_cumprod = 1
        ({"clip_sample": False, "set_alpha_to_one": False}, 50, 0, 0.0, False),
        ({"clip_sample": True}, 50, 500, 0.5, False),
        ({"clip_sample": True}, 50, 500, 0.5, True),
        ({"clip_sample": False, "steps_offset": 1}, 50, 481, 0.0, False),
        # spacings where diffusers' prev = t - T // n misses the list's next entry
        ({"timestep_spacing": "linspace", "clip_sample": False}, 50, 979, 0.0, False),
        ({"timestep_spacing": "linspace", "clip_sample": False}, 50, 979, 0.7, False),
        ({"timestep_spacing": "trailing", "clip_sample": False}, 30, 966, 0.0, False),
        ({"timestep_spacing": "trailing", "clip_sample": False, "prediction_type": "v_prediction"}, 30, 866, 0.3, False),
    ]
    for config, n, t, eta, use_clipped in cases:
        s = to_float64(DDIMScheduler(num_train_timesteps=1000, **config), betas64_for(config))
        s.set_timesteps(n)
        assert t in s.timesteps.tolist(), (config, n, t)
        sample = torch.randn(SHAPE, generator=gen, dtype=torch.float64) * 1.5
        model_output = torch.randn(SHAPE, generator=gen, dtype=torch.float64)
        noise = torch.randn(SHAPE, generator=gen, dtype=torch.float64)
        r = s.step(model_output, t, sample, eta=eta, use_clipped_model_output=use_clipped, variance_noise=noise)
        spacing = config.get("timestep_spacing", "leading")
        case = {"config": config, "n": n, "t": t, "eta": eta, "use_clipped_model_output": use_clipped,
                "shape": list(SHAPE), "sample": flat(sample), "model_output": flat(model_output), "noise": flat(noise)}
        if spacing == "leading":
            case.update(reference="diffusers", prev_sample=flat(r.prev_sample),
                        pred_original_sample=flat(r.pred_original_sample))
        else:
            prev, x0 = list_prev_ddim_step(s, model_output, t, sample, eta, noise,
                                           config.get("prediction_type", "epsilon"), config.get("clip_sample", True),
                                           config.get("clip_sample_range", 1.0), use_clipped)
            ts = s.timesteps.tolist()
            assert ts[ts.index(t) + 1] != t - 1000 // n, "case does not exercise the t - T/n bug"
            case.update(reference="list-prev", prev_sample=flat(prev), pred_original_sample=flat(x0),
                        diffusers_prev_sample=flat(r.prev_sample))
        out.append(case)
    return out


def recipe_r9(gen):
    """The seed's generate_images_batch update, float64, for a few t (linear schedule)."""
    beta = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    alpha = 1.0 - beta
    alpha_hat = torch.cumprod(alpha, dim=0)
    steps = []
    for t in [999, 600, 20, 1, 0]:
        x = torch.randn(SHAPE, generator=gen, dtype=torch.float64)
        eps = torch.randn(SHAPE, generator=gen, dtype=torch.float64)
        z = torch.randn(SHAPE, generator=gen, dtype=torch.float64)
        y = x - (1.0 - alpha[t]) / (1 - alpha_hat[t]).sqrt() * eps
        y = (1 / alpha[t].sqrt()) * y
        if t > 0:
            y = y + beta[t].sqrt() * z
        steps.append({"t": t, "x": flat(x), "eps": flat(eps), "z": flat(z), "x_prev": flat(y)})
    return {"shape": list(SHAPE), "steps": steps}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(20261123)
    data = {
        "format": FORMAT,
        "generator": "scripts/make_diffusion_fixtures.py",
        "versions": {"torch": torch.__version__, "diffusers": diffusers.__version__, "numpy": np.__version__},
        "schedules": schedules(),
        "timesteps": timesteps(),
        "add_noise": add_noise(gen),
        "ddpm_step": ddpm_steps(gen),
        "ddim_step": ddim_steps(gen),
        "recipe_r9": recipe_r9(gen),
    }
    with open(args.out + ".tmp", "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
