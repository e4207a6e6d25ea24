"""PyTorch peer of examples/ddpm/ddpm.cpp as ddpm_fashion (RECIPES R9-R10).

The same denoising U-Net on FashionMNIST at 32x32, trained and sampled the way latent's
trainer does with the same options, so that both libraries' samples can be scored by the
same classifier-FID (latent's `fid` example reads the samples_<sampler>.safetensors written
here):
  - data: train images / 255, padded by 2 with 0 (28 -> 32, exact pixels), then
    (x - 0.5) / 0.5 into [-1, 1] (--unit-range: [0, 1]); batch 64, reshuffled each epoch,
    the last partial batch kept (latent's DataLoader, drop_last = false);
  - model: latent's diffusion::UNet with UNetOptions from --width/--mults/--attention/--heads/
    --time-dim/--groups/--dropout/--classes (the seed's U-Net of RECIPES R10 generalised, with
    the seed's and latent's parameter names, so the state_dicts are interchangeable);
  - one step: t ~ uniform integers in [--first-timestep, T) (diffusion::random_timesteps),
    noise ~ N(0, I), x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise (schedule in double, the
    per-sample coefficients cast to float32, as latent), with --classes each label replaced by
    the null label 10 with probability --label-dropout (draws in that order from one
    generator seeded seed + 1); MSE(model(x_t, t, y), target) with target = noise (epsilon),
    x0 (sample) or v; AdamW (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 1e-2: latent's
    and torch's defaults); EMA of the weights with decay min(--ema, (1 + n) / (10 + n)) after
    n earlier updates, 0 at the first (latent's optim::EMA with warm-up, diffusers' EMAModel);
  - sampling (EMA weights, eval mode, no grad): diffusers' DDPMScheduler (every one of the T
    steps, fixed_small variance, x0 clipped to [-1, 1]) and/or DDIMScheduler (--steps 50,
    "trailing" spacing, eta --eta, x0 clipped), the result clamped to the data range as latent's
    sample_loop; with --classes, classifier-free guidance eps_u + g (eps_c - eps_u) in one
    batch of 2N, labels one row per class as latent's export.

Run (from the repository root):
  /work/venv/bin/python benchmarks/peers/ddpm_fashion_peer.py [--epochs 10] [--max-steps N]
      [--width 32] [--mults 1,2,2] [--attention 8] [--time-dim 128] [--classes] [--threads 1]
      [--export 10000] [--sampler ddpm|ddim|both] [--out out/ddpm_fashion_torch]
  ... --sample-only --export 10000 [same model options]   (sample from <out>/model.safetensors)
Score with latent: build/release/examples/fid --classifier ... --samples <out>/samples_ddim.safetensors

Writes to --out:
  model.safetensors            the EMA weights (float32, latent's UNet names and shapes), after
                               each epoch and at the end of training
  losses.csv                   step,epoch,loss (one row per step)
  samples_<sampler>.safetensors  with --export N: "samples", float32 (N, 1, 32, 32) in [-1, 1]

Differences from latent that cannot be removed: random streams (weights, shuffling, t, noise)
are torch's, not latent's; diffusers keeps alphas_cumprod in float32 for sampling (latent in
double); latent's DataLoader prefetches on a worker thread; the export batch is
--sample-batch (latent uses --batch-size); diffusers' DDIM steps to t - T // steps, which is
latent's "next timestep in the list" only when --steps divides --timesteps (checked).
"""
import argparse
import copy
import gzip
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

IMAGE_SIZE = 32
NUM_CLASSES = 10


# ---------------------------------------------------------------------------------------------
# The U-Net: latent's diffusion::UNet in PyTorch (latent_unet.py beside this file).
# ---------------------------------------------------------------------------------------------
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from latent_unet import UNet  # noqa: E402


# ---------------------------------------------------------------------------------------------
# Schedules (include/latent/diffusion/schedule.hpp), in double.
# ---------------------------------------------------------------------------------------------

def cosine_betas(T, s=0.008, min_beta=1e-4, max_beta=0.9999):
    def abar(t):
        return math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    return np.array([min(max(1 - abar(i + 1) / abar(i), min_beta), max_beta) for i in range(T)], dtype=np.float64)


def make_betas(schedule, T, beta_start=1e-4, beta_end=0.02):
    if schedule == "linear":
        return np.array([beta_start + (beta_end - beta_start) * i / (T - 1) if T > 1 else beta_start
                         for i in range(T)], dtype=np.float64)
    if schedule == "scaled_linear":
        return make_betas("linear", T, math.sqrt(beta_start), math.sqrt(beta_end)) ** 2
    if schedule == "cosine":
        return cosine_betas(T)
    if schedule == "squaredcos_cap_v2":
        return cosine_betas(T, 0.008, 0.0, 0.999)
    raise ValueError(schedule)


def diffusers_schedule(a):
    """Keyword arguments giving a diffusers scheduler latent's betas: its own formula where
    diffusers has the same one, else the betas themselves (latent's clipped "cosine")."""
    kw = dict(num_train_timesteps=a.timesteps, beta_start=1e-4, beta_end=0.02, prediction_type=a.prediction,
              clip_sample=True, clip_sample_range=1.0)
    if a.schedule == "cosine":
        kw["trained_betas"] = make_betas("cosine", a.timesteps).tolist()
    else:
        kw["beta_schedule"] = a.schedule
    return kw


# ---------------------------------------------------------------------------------------------
# Data, weights
# ---------------------------------------------------------------------------------------------

def read_idx(path):
    opener = open if os.path.exists(path) else gzip.open  # raw first, as data/mnist.hpp
    with opener(path if opener is open else path + ".gz", "rb") as f:
        buf = f.read()
    ndim = buf[3]
    dims = [int.from_bytes(buf[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(buf, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion(data_dir, split, limit, unit_range):
    """(N, 1, 32, 32) float32 as latent's Compose{Pad(2), Normalize(0.5, 0.5)} ([-1, 1]; the
    border becomes -1) or Pad(2) alone with --unit-range; labels (N) int64."""
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte"))
    y = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte"))
    if 0 < limit < x.shape[0]:
        x, y = x[:limit], y[:limit]
    x = torch.from_numpy(x.astype(np.float32)[:, None] / np.float32(255.0))
    x = F.pad(x, (2, 2, 2, 2), value=0.0)
    if not unit_range:
        x = (x - 0.5) / 0.5
    return x.contiguous(), torch.from_numpy(y.astype(np.int64))


def save_tensors(tensors, path, metadata=None):
    tmp = path + ".tmp"
    save_file({k: v.detach().to(torch.float32).contiguous() for k, v in tensors.items()}, tmp,
              metadata={"format": "pt", **(metadata or {})})
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


class EMA:
    """latent's optim::EMA(model, decay, warmup = true): avg = d avg + (1 - d) p with
    d = 0 at the first update, then min(decay, (1 + n) / (10 + n)) after n updates; buffers
    (none in this U-Net) are copied."""

    def __init__(self, model, decay):
        self.decay, self.updates = decay, 0
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.param_names = [k for k, _ in model.named_parameters()]

    def current_decay(self):
        if self.updates == 0:
            return 0.0
        n = float(self.updates)
        return min(self.decay, (1 + n) / (10 + n))

    @torch.no_grad()
    def update(self, model):
        d = self.current_decay()
        params = dict(model.named_parameters())
        avgs = [self.shadow[k] for k in self.param_names]
        torch._foreach_mul_(avgs, d)
        torch._foreach_add_(avgs, [params[k].detach() for k in self.param_names], alpha=1.0 - d)
        names = set(self.param_names)
        for k, v in model.state_dict().items():
            if k not in names:
                self.shadow[k].copy_(v)
        self.updates += 1

    def copy_to(self, model):
        model.load_state_dict(self.shadow, strict=True)


# ---------------------------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------------------------

def make_scheduler(a, sampler):
    if sampler == "ddpm":
        from diffusers import DDPMScheduler
        # No set_timesteps: T-1..0, previous t - 1, as latent's DDPMScheduler without one.
        return DDPMScheduler(variance_type="fixed_small", timestep_spacing="leading", **diffusers_schedule(a))
    from diffusers import DDIMScheduler
    s = DDIMScheduler(set_alpha_to_one=True, steps_offset=0, timestep_spacing="trailing", **diffusers_schedule(a))
    s.set_timesteps(a.steps)
    return s


@torch.no_grad()
def sample_batch(model, a, scheduler, sampler, noise, gen):
    """latent's sample_images: the reverse process from noise, clamped to the data range."""
    n = noise.shape[0]
    if a.classes:
        per_row = max(1, n // 10)
        labels = torch.tensor([min(9, i // per_row) for i in range(n)], dtype=torch.long)
        null = torch.full((n,), model.null_label, dtype=torch.long)

    def eps(x, t):
        if not a.classes:
            return model(x, t)
        if a.guidance == 1.0:
            return model(x, t, labels)
        out = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([labels, null]))
        cond, uncond = out[:n], out[n:]
        return uncond + a.guidance * (cond - uncond)

    x = noise
    for t in scheduler.timesteps.tolist():
        out = eps(x, torch.full((n,), float(t)))
        if sampler == "ddpm":
            x = scheduler.step(out, t, x, generator=gen).prev_sample
        else:
            x = scheduler.step(out, t, x, eta=a.eta, generator=gen).prev_sample
    lo, hi = (0.0, 1.0) if a.unit_range else (-1.0, 1.0)
    return x.clamp(lo, hi)


def export_samples(model, a, sampler):
    """latent's export_samples: N images in batches (whole rows of ten classes when
    conditional), in [-1, 1] whatever the training range."""
    model.eval()
    batch = max(10, a.sample_batch // 10 * 10) if a.classes else a.sample_batch
    gen = torch.Generator().manual_seed(a.seed + 2)
    scheduler = make_scheduler(a, sampler)
    steps = len(scheduler.timesteps)
    parts, t0 = [], time.perf_counter()
    batches = (a.export + batch - 1) // batch
    for b, start in enumerate(range(0, a.export, batch)):
        n = min(batch, a.export - start)
        noise = torch.randn(n, 1, IMAGE_SIZE, IMAGE_SIZE, generator=gen)
        images = sample_batch(model, a, scheduler, sampler, noise, gen)
        parts.append(images * 2.0 - 1.0 if a.unit_range else images)
        el = time.perf_counter() - t0
        print(f"export ({sampler}) batch {b + 1}/{batches}: {(b + 1) * steps / el:.2f} steps/s, "
              f"ETA {(batches - b - 1) * el / (b + 1):.0f}s", flush=True)
    samples = torch.cat(parts).to(torch.float32)
    path = os.path.join(a.out, f"samples_{sampler}.safetensors")
    save_tensors({"samples": samples}, path, {"layout": "pad"})  # 28x28 padded to 32, as latent's export
    print(f"wrote {a.export} images to {path} ({sampler}, {steps} steps, "
          f"range [{samples.min().item():.3f}, {samples.max().item():.3f}], {time.perf_counter() - t0:.1f} s)",
          flush=True)


# ---------------------------------------------------------------------------------------------

def parse_attention(spec):
    if spec in ("all", "none"):
        return []
    return [int(s) for s in spec.split(",") if s]


def build_model(a):
    return UNet(in_channels=1, image_size=IMAGE_SIZE, base_channels=a.width, channel_mults=a.mults,
                attention=a.attention != "none", attention_resolutions=parse_attention(a.attention),
                num_heads=a.heads, time_embed_dim=a.time_dim, norm_groups=a.groups, dropout=a.dropout,
                num_classes=NUM_CLASSES if a.classes else 0)


def train(a, model):
    images, labels = load_fashion(a.data, a.split, a.limit, a.unit_range)
    n = images.shape[0]
    steps_per_epoch = (n + a.batch_size - 1) // a.batch_size  # drop_last = false
    total = a.epochs * steps_per_epoch
    if a.max_steps > 0:
        total = min(total, a.max_steps)
    print(f"FashionMNIST {a.split}: {n} images of 32x32, {steps_per_epoch} steps per epoch, {total} steps",
          flush=True)

    betas = make_betas(a.schedule, a.timesteps)
    abar = np.cumprod(1.0 - betas)
    sqrt_abar = torch.from_numpy(np.sqrt(abar)).to(torch.float32)  # double, then cast, as latent
    sqrt_one_minus = torch.from_numpy(np.sqrt(1.0 - abar)).to(torch.float32)

    optimizer = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)
    ema = EMA(model, a.ema)
    ema_model = copy.deepcopy(model)
    shuffle_gen = torch.Generator().manual_seed(a.seed)       # the DataLoader's seed
    train_gen = torch.Generator().manual_seed(a.seed + 1)     # t, noise, label dropout
    losses_path = os.path.join(a.out, "losses.csv")
    rows = []

    def write_outputs():
        ema.copy_to(ema_model)
        save_tensors(ema_model.state_dict(), os.path.join(a.out, "model.safetensors"))
        with open(losses_path + ".tmp", "w") as f:
            f.write("step,epoch,loss\n")
            f.writelines(f"{s},{e},{v!r}\n" for s, e, v in rows)
        os.replace(losses_path + ".tmp", losses_path)

    step, t0 = 0, time.perf_counter()
    model.train()
    for epoch in range(a.epochs):
        if step >= total:
            break
        order = torch.randperm(n, generator=shuffle_gen)
        epoch_loss, epoch_steps = 0.0, 0
        for b in range(steps_per_epoch):
            if step >= total:
                break
            idx = order[b * a.batch_size:(b + 1) * a.batch_size]
            x0 = images[idx]
            bs = x0.shape[0]
            t = torch.randint(a.first_timestep, a.timesteps, (bs,), generator=train_gen)
            noise = torch.randn(x0.shape, generator=train_gen)
            ca, cb = sqrt_abar[t].view(bs, 1, 1, 1), sqrt_one_minus[t].view(bs, 1, 1, 1)
            x_t = x0 * ca + noise * cb
            y = None
            if a.classes:
                draws = torch.rand(bs, generator=train_gen)
                y = torch.where(draws < a.label_dropout, torch.full_like(labels[idx], model.null_label), labels[idx])
            if a.prediction == "epsilon":
                target = noise
            elif a.prediction == "sample":
                target = x0
            else:
                target = noise * ca - x0 * cb
            prediction = model(x_t, t.to(torch.float32), y)
            loss = F.mse_loss(prediction, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            ema.update(model)
            value = loss.item()
            step += 1
            epoch_loss += value
            epoch_steps += 1
            rows.append((step, epoch + 1, value))
            if step % 50 == 0 or step == total or b + 1 == steps_per_epoch:
                el = time.perf_counter() - t0
                print(f"step {step}/{total}  epoch {epoch + 1}/{a.epochs} {b + 1}/{steps_per_epoch}  "
                      f"{step / el:.2f} it/s  ETA {(total - step) * el / step:.0f}s  loss={value:.4f}", flush=True)
        write_outputs()
        print(f"epoch {epoch + 1}: mean loss {epoch_loss / max(1, epoch_steps):.4f}; wrote model.safetensors",
              flush=True)
    el = time.perf_counter() - t0
    print(f"done: {step} steps in {el:.1f} s, {step / max(el, 1e-9):.2f} steps/s", flush=True)
    ema.copy_to(ema_model)
    return ema_model


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--split", default="train", choices=["train", "test"])
    p.add_argument("--limit", type=int, default=0, help="train on the first N images only (0: all)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after N optimizer steps (0: --epochs decide)")
    p.add_argument("--out", default="out/ddpm_fashion_torch")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate")
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay of the weights used for sampling (0: none)")
    p.add_argument("--width", type=int, default=32, help="U-Net base channels")
    p.add_argument("--mults", type=lambda s: [int(v) for v in s.split(",")], default=[1, 2, 2],
                   help="channel multiplier per level, e.g. 1,2,2")
    p.add_argument("--attention", default="8", help="sizes with self-attention: e.g. 8,4; all; none")
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--time-dim", type=int, default=128)
    p.add_argument("--groups", type=int, default=1, help="GroupNorm groups")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--timesteps", type=int, default=1000, help="diffusion steps T")
    p.add_argument("--first-timestep", type=int, default=0, help="training draws t from [first, T)")
    p.add_argument("--schedule", default="linear", choices=["linear", "cosine", "scaled_linear", "squaredcos_cap_v2"])
    p.add_argument("--prediction", default="epsilon", choices=["epsilon", "sample", "v_prediction"])
    p.add_argument("--unit-range", action="store_true", help="images in [0, 1] (default [-1, 1])")
    p.add_argument("--classes", action="store_true", help="class-conditional model (classifier-free guidance)")
    p.add_argument("--label-dropout", type=float, default=0.1)
    p.add_argument("--guidance", type=float, default=3.0)
    p.add_argument("--sample-only", action="store_true", help="load <out>/model.safetensors and only sample")
    p.add_argument("--sampler", default="both", choices=["ddpm", "ddim", "both"])
    p.add_argument("--steps", type=int, default=50, help="DDIM steps")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM eta")
    p.add_argument("--export", type=int, default=0, help="write N images to samples_<sampler>.safetensors")
    p.add_argument("--sample-batch", type=int, default=100, help="images per sampling batch")
    a = p.parse_args()

    samplers = ["ddpm", "ddim"] if a.sampler == "both" else [a.sampler]
    if "ddim" in samplers and a.export > 0 and a.timesteps % a.steps != 0:
        sys.exit(f"--steps {a.steps} does not divide --timesteps {a.timesteps}: diffusers' DDIM would step to "
                 f"t - T // steps, not to latent's next trailing timestep")
    if not 0 <= a.first_timestep < a.timesteps:
        sys.exit(f"--first-timestep must be in [0, {a.timesteps})")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)  # weights (torch's default init), dropout
    os.makedirs(a.out, exist_ok=True)

    model = build_model(a)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"ddpm_fashion_peer: torch {torch.__version__}, {torch.get_num_threads()} thread(s), seed {a.seed}, "
          f"writing to {a.out}", flush=True)
    print(f"U-Net: {nparams} parameters, widths {a.width} x {{{','.join(map(str, a.mults))}}}, "
          f"attention {a.attention}{', classes' if a.classes else ''}", flush=True)

    if a.sample_only:
        path = os.path.join(a.out, "model.safetensors")
        model.load_state_dict(load_file(path), strict=True)
        print(f"loaded {path}", flush=True)
        ema_model = model
    else:
        ema_model = train(a, model)
    if a.export > 0:
        for sampler in samplers:
            export_samples(ema_model, a, sampler)


if __name__ == "__main__":
    main()
