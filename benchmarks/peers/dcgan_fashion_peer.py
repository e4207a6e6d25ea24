"""PyTorch peer of examples/dcgan_fashion/main.cpp (RECIPES R3; R4 with --spectral-norm).

The same DCGAN on FashionMNIST at 32x32, trained the way latent's gan::Trainer does with its
default options, so that both libraries' generators can be scored the same way
(classifier-FID, computed by latent on the weights written here):
  - data: train images / 255, bilinear resize 28 -> 32 (align_corners=False, no antialias,
    as latent's data::Resize), then (x - 0.5) / 0.5; batch 64, reshuffled each epoch, the
    last partial batch kept (latent's DataLoader default, drop_last = false);
  - one step: z ~ N(0, 1); fake = G(z) (one G forward per step, its graph kept);
    D.zero_grad; BCE(D(real), 1).backward; BCE(D(fake.detach()), 0).backward; D.step;
    G.zero_grad; BCE(D(fake), 1).backward (same fake, D already updated); G.step;
    logged d_loss = 0.5 (real + fake), g_loss, d_x = mean D(real), d_g_z = mean D(fake).

Run (from the repository root):
  /work/venv/bin/python benchmarks/peers/dcgan_fashion_peer.py [--epochs 3] [--seed 0]
      [--spectral-norm] [--threads 1] [--limit N] [--data DIR] [--out out/dcgan_fashion_torch]

Writes to --out:
  generator.safetensors  G's state_dict, float32, the keys latent's io::save_module writes
                         (num_batches_tracked included, as a 0-dim float32), after each epoch
  losses.csv             step,d_loss,g_loss,d_x,d_g_z (one row per step)
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

LATENT_DIM = 100


def load_fashion(data_dir, limit):
    """(N, 1, 32, 32) float32 in [-1, 1], as latent's Compose{Resize(32), Normalize(0.5, 0.5)}."""
    raw = os.path.join(data_dir, "train-images-idx3-ubyte")
    opener = open if os.path.exists(raw) else gzip.open  # raw first, as data/mnist.hpp
    with opener(raw if opener is open else raw + ".gz", "rb") as f:
        buf = f.read()
    n, h, w = (int.from_bytes(buf[i:i + 4], "big") for i in (4, 8, 12))
    x = np.frombuffer(buf, np.uint8, offset=16).reshape(n, 1, h, w)
    if 0 < limit < n:
        x = x[:limit]
    x = torch.from_numpy(x.astype(np.float32) / 255.0)
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False, antialias=False)
    return (x - 0.5) / 0.5


def make_generator():
    return nn.Sequential(
        nn.Linear(LATENT_DIM, 128 * 8 * 8), nn.Unflatten(1, (128, 8, 8)), nn.BatchNorm2d(128),
        nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 1, 3, 1, 1), nn.Tanh())


def make_discriminator():
    layers, widths = [], [1, 16, 32, 64, 128]
    for b in range(4):
        layers += [nn.Conv2d(widths[b], widths[b + 1], 3, 2, 1), nn.LeakyReLU(0.2), nn.Dropout2d(0.25)]
        if b > 0:
            layers.append(nn.BatchNorm2d(widths[b + 1], eps=0.8))  # the seed's quirk, kept
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * 2 * 2, 1), nn.Sigmoid())


def dcgan_init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)  # biases keep PyTorch's default, as in latent
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def save_generator(G, path):
    # latent keeps num_batches_tracked as a 0-dim float buffer: write everything as float32.
    state = {k: v.detach().to(torch.float32).contiguous() for k, v in G.state_dict().items()}
    tmp = path + ".tmp"
    save_file(state, tmp, metadata={"format": "pt"})
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--spectral-norm", action="store_true", help="spectral norm on D's Conv2d and Linear (R4)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--limit", type=int, default=0, help="first N images only (0: all)")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--out", default="out/dcgan_fashion_torch")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)  # weights, dropout, spectral norm's u
    os.makedirs(a.out, exist_ok=True)
    images = load_fashion(a.data, a.limit)
    n = images.shape[0]
    steps_per_epoch = (n + a.batch_size - 1) // a.batch_size  # drop_last = false
    print(f"dcgan_fashion_peer: torch {torch.__version__}, {torch.get_num_threads()} thread(s), seed {a.seed}, "
          f"{n} images of 32x32, {steps_per_epoch} steps per epoch, writing to {a.out}", flush=True)

    G, D = make_generator(), make_discriminator()
    G.apply(dcgan_init)
    D.apply(dcgan_init)
    if a.spectral_norm:
        for i, m in enumerate(D):
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                D[i] = nn.utils.spectral_norm(m)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCELoss()
    noise_gen = torch.Generator().manual_seed(a.seed + 1)  # the trainer's own generator, as latent
    shuffle_gen = torch.Generator().manual_seed(a.seed)

    rows, step, total = [], 0, a.epochs * steps_per_epoch
    G.train()
    D.train()
    t0 = time.perf_counter()
    for epoch in range(a.epochs):
        order = torch.randperm(n, generator=shuffle_gen)
        for b in range(steps_per_epoch):
            real = images[order[b * a.batch_size:(b + 1) * a.batch_size]]
            bs = real.shape[0]
            z = torch.randn(bs, LATENT_DIM, generator=noise_gen)
            fake = G(z)

            D.zero_grad()
            d_real = D(real)
            loss_real = bce(d_real, torch.ones_like(d_real))
            loss_real.backward()
            d_fake = D(fake.detach())
            loss_fake = bce(d_fake, torch.zeros_like(d_fake))
            loss_fake.backward()
            opt_d.step()

            G.zero_grad()
            d_out = D(fake)
            g_loss = bce(d_out, torch.ones_like(d_out))
            g_loss.backward()
            opt_g.step()

            step += 1
            d_loss = 0.5 * (loss_real.item() + loss_fake.item())
            rows.append((step, d_loss, g_loss.item(), d_real.detach().mean().item(), d_fake.detach().mean().item()))
            if step % 50 == 0 or b + 1 == steps_per_epoch:
                el = time.perf_counter() - t0
                print(f"epoch {epoch + 1}/{a.epochs}  {b + 1}/{steps_per_epoch}  {step / el:.2f} it/s  "
                      f"ETA {(total - step) * el / step:.0f}s  d_loss={d_loss:.4f}  g_loss={rows[-1][2]:.4f}  "
                      f"D(x)={rows[-1][3]:.4f}  D(G(z))={rows[-1][4]:.4f}", flush=True)
        save_generator(G, os.path.join(a.out, "generator.safetensors"))
        with open(os.path.join(a.out, "losses.csv.tmp"), "w") as f:
            f.write("step,d_loss,g_loss,d_x,d_g_z\n")
            f.writelines(",".join(repr(v) for v in r) + "\n" for r in rows)
        os.replace(os.path.join(a.out, "losses.csv.tmp"), os.path.join(a.out, "losses.csv"))
    el = time.perf_counter() - t0
    print(f"done: {step} steps in {el:.1f} s, {step / el:.2f} steps/s", flush=True)


if __name__ == "__main__":
    main()
