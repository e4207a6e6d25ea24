#!/usr/bin/env python3
"""PyTorch (eager) peer of benchmarks/core_bench.cpp: the same workloads, shapes and timing
method (benchmarks/bench_harness.hpp, mirrored below), printing `BENCH lib=torch ...` lines.

  python torch_bench.py [--threads 1,2] [--workloads ...] [--gemm-sizes 256,512,1024,2048]
                        [--min-time 0.3] [--reps 5] [--fixed-iters N] [--config]

Workloads: gemm_f32, add_f32, chain_f32, mlp_fwd_bwd, mlp_fwd, mlp_gemms, tiny_add, tiny_autograd,
conv_d, convT_g1, convT_g2, conv_unet, bn2d, groupnorm, maxpool, upsample, adam_1m, gan_parabola,
gan_dcgan, unet_train, unet_sample (default: all; see core_bench.cpp for what each one times).

The U-Net workloads build the course's seed U-Net, copied verbatim below from
scripts/make_unet_fixtures.py (which checks it against latent's UNet; importing that script
would pull in safetensors), with num_channels=1, img_size=32.

--config prints what torch uses on this machine (BLAS, CPU capability, threads) as
`# `-prefixed lines before the figures.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ELEMENTWISE_N = 1 << 20
TINY_N = 64


def time_it(fn, min_time, reps, warmup_s=0.05, fixed_iters=0):
    """bench::time_it: warm-up, calibrate calls per repetition, median of repetitions (and the
    process CPU time per call of the median repetition)."""
    warm_calls = 0
    t0 = time.perf_counter()
    elapsed = 0.0
    while warm_calls < 3 or elapsed < warmup_s:
        fn()
        warm_calls += 1
        elapsed = time.perf_counter() - t0
    per_call = elapsed / warm_calls
    per_rep = min_time / max(reps, 1)
    iters = fixed_iters if fixed_iters > 0 else max(1, int(per_rep / max(per_call, 1e-9) + 0.5))
    samples = []  # (wall, cpu) seconds per call
    for _ in range(max(reps, 1)):
        s, c = time.perf_counter(), time.process_time()
        for _ in range(iters):
            fn()
        cpu = (time.process_time() - c) / iters
        samples.append(((time.perf_counter() - s) / iters, cpu))
    samples.sort()
    n = len(samples)
    walls = [w for w, _ in samples]
    cpu = samples[n // 2][1] if n % 2 else 0.5 * (samples[n // 2 - 1][1] + samples[n // 2][1])
    return {"median_s": statistics.median(walls), "min_s": walls[0], "max_s": walls[-1],
            "iters": iters, "reps": n, "cpu_s": cpu}


def report(lib, workload, size, threads, metric, value, t):
    print(f"BENCH lib={lib} workload={workload} size={size} threads={threads} metric={metric} "
          f"value={value:.6g} iters={t['iters']} reps={t['reps']} min_s={t['min_s']:.6g} "
          f"max_s={t['max_s']:.6g} wall_s={t['median_s']:.6g} cpu_s={t['cpu_s']:.6g}", flush=True)


class Mlp:
    """2 -> 50 -> 50 -> 1, ReLU, batch 512; leaves requiring grad (as core_bench.cpp)."""

    def __init__(self):
        torch.manual_seed(0)
        self.x = torch.randn(512, 2)
        self.w1 = (torch.randn(2, 50) * 0.5).requires_grad_()
        self.b1 = (torch.randn(50) * 0.1).requires_grad_()
        self.w2 = (torch.randn(50, 50) * 0.14).requires_grad_()
        self.b2 = (torch.randn(50) * 0.1).requires_grad_()
        self.w3 = (torch.randn(50, 1) * 0.14).requires_grad_()
        self.b3 = (torch.randn(1) * 0.1).requires_grad_()
        self.params = [self.w1, self.b1, self.w2, self.b2, self.w3, self.b3]

    def loss(self):
        h1 = (self.x.mm(self.w1) + self.b1).relu()
        h2 = (h1.mm(self.w2) + self.b2).relu()
        out = h2.mm(self.w3) + self.b3
        return out.square().mean()

    def zero_grad(self):
        for p in self.params:  # optimizer.zero_grad() default: set_to_none=True
            p.grad = None


def parabola_gan():
    """RECIPES R2's G and D (PyTorch's default init, as latent's Linear)."""
    nn = torch.nn
    G = nn.Sequential(nn.Linear(10, 50), nn.ReLU(), nn.Linear(50, 50), nn.ReLU(), nn.Linear(50, 2))
    D = nn.Sequential(nn.Linear(2, 50), nn.ReLU(), nn.Linear(50, 50), nn.ReLU(), nn.Linear(50, 1), nn.Sigmoid())
    return G, D


def dcgan():
    """RECIPES R3's DCGAN G and D for 32x32 single-channel images, with R3's init."""
    nn = torch.nn
    G = nn.Sequential(
        nn.Linear(100, 128 * 8 * 8), nn.Unflatten(1, (128, 8, 8)), nn.BatchNorm2d(128),
        nn.ConvTranspose2d(128, 128, 4, 2, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 1, 3, 1, 1), nn.Tanh())
    blocks = []
    for b, (i, o) in enumerate(((1, 16), (16, 32), (32, 64), (64, 128))):
        blocks += [nn.Conv2d(i, o, 3, 2, 1), nn.LeakyReLU(0.2), nn.Dropout2d(0.25)]
        if b > 0:
            blocks.append(nn.BatchNorm2d(o, 0.8))  # eps = 0.8 (R3's quirk)
    D = nn.Sequential(*blocks, nn.Flatten(), nn.Linear(128 * 2 * 2, 1), nn.Sigmoid())

    def init(m):  # conv and linear weights N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    G.apply(init)
    D.apply(init)
    return G, D


def gan_step(G, D, opt_g, opt_d, real, latent_dim):
    """One step of latent's gan::Trainer (BCE, n_critic 1, fake detached for D's step), op for
    op, so that the three libraries do the same work: G's forward runs once and its graph is
    reused for G's step; the targets are made per loss call (as the trainer's full()); the
    same statistics are read back (three losses, mean D(real), mean D(fake))."""
    bce = torch.nn.functional.binary_cross_entropy
    n = real.shape[0]

    def step():
        z = torch.randn(n, latent_dim)
        fake = G(z)
        D.zero_grad()  # set_to_none=True, as latent's zero_grad()
        d_real = D(real)
        loss_real = bce(d_real, torch.full(d_real.shape, 1.0))
        loss_real.backward()
        d_fake = D(fake.detach())
        loss_fake = bce(d_fake, torch.full(d_fake.shape, 0.0))
        loss_fake.backward()
        stats = [loss_real.item(), loss_fake.item(), d_real.detach().mean().item(), d_fake.detach().mean().item()]
        opt_d.step()
        G.zero_grad()
        d_out = D(fake)
        g_loss = bce(d_out, torch.full(d_out.shape, 1.0))
        g_loss.backward()
        opt_g.step()
        stats.append(g_loss.item())
        return stats

    return step


# The seed's U-Net (RECIPES R10), verbatim: seed_unet.py beside this file.
from seed_unet import SeedDown, SeedResNetBlock, SeedResizeBlock, SeedSelfAttention, SeedUNet, SeedUp  # noqa: E402


def seed_ddpm_schedule(noise_steps=1000, beta_start=1e-4, beta_end=0.02):
    """The seed's linear schedule (RECIPES R9): beta, alpha = 1 - beta, alpha_hat = cumprod."""
    beta = torch.linspace(beta_start, beta_end, noise_steps)
    alpha = 1.0 - beta
    return beta, alpha, torch.cumprod(alpha, dim=0)


def unet_train_step(model, opt, x, noise_steps=1000):
    """One training step as core_bench.cpp's unet_train: t ~ randint(1, noise_steps) and the
    noise target drawn per step, mse(model(x, t), noise), backward, AdamW step, zero_grad."""
    n = x.shape[0]

    def step():
        t = torch.randint(low=1, high=noise_steps, size=(n,))
        noise = torch.randn_like(x)
        loss = F.mse_loss(model(x, t), noise)
        loss.backward()
        opt.step()
        opt.zero_grad()  # set_to_none=True, as latent's zero_grad()

    return step


def unet_sample_step(model, x, i, noise_steps=1000):
    """One step of the seed's sampling loop at timestep i (> 1, so noise is drawn), under
    inference_mode, with the seed's update x = 1/sqrt(alpha) (x - (1 - alpha)/sqrt(1 - alpha_hat)
    eps) + sqrt(beta) z. x is not updated in place: every call does the same work."""
    beta_all, alpha_all, alpha_hat_all = seed_ddpm_schedule(noise_steps)
    n = x.shape[0]

    def step():
        with torch.inference_mode():
            t = (torch.ones(n) * i).long()
            predicted_noise = model(x, t)
            alpha = alpha_all[t][:, None, None, None]
            alpha_hat = alpha_hat_all[t][:, None, None, None]
            beta = beta_all[t][:, None, None, None]
            noise = torch.randn_like(x) if i > 1 else torch.zeros_like(x)
            return 1 / torch.sqrt(alpha) * (x - ((1 - alpha) / (torch.sqrt(1 - alpha_hat))) * predicted_noise) \
                + torch.sqrt(beta) * noise

    return step


def parse_list(s, conv=str):
    return [conv(v) for v in s.split(",") if v]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--gemm-sizes", default="256,512,1024,2048")
    ap.add_argument("--workloads", default="", help="subset of gemm_f32,add_f32,chain_f32,mlp_fwd_bwd,mlp_fwd,mlp_gemms,tiny_add,"
                    "tiny_autograd,conv_d,convT_g1,convT_g2,conv_unet,bn2d,groupnorm,maxpool,upsample,adam_1m,"
                    "gan_parabola,gan_dcgan,unet_train,unet_sample (default: all)")
    ap.add_argument("--min-time", type=float, default=0.3)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--fixed-iters", type=int, default=0, help="calls per repetition, no calibration")
    ap.add_argument("--config", action="store_true")
    args = ap.parse_args()
    workloads = parse_list(args.workloads)

    def selected(name):
        return not workloads or name in workloads

    if args.config:
        print(f"# torch {torch.__version__}; cpu capability {torch.backends.cpu.get_cpu_capability()}; "
              f"mkl {torch.backends.mkl.is_available()}; mkldnn {torch.backends.mkldnn.is_available()}; "
              f"openmp {torch.backends.openmp.is_available()}; default threads {torch.get_num_threads()}")
        for line in torch.__config__.show().splitlines():
            if any(k in line for k in ("Math Kernel", "MKL-DNN", "OpenMP", "CPU capability", "BLAS_INFO")):
                print("#", line.strip()[:160])

    lib = "torch"
    torch.set_grad_enabled(True)
    for nt in parse_list(args.threads, int):
        torch.set_num_threads(nt)
        if selected("gemm_f32"):
            for n in parse_list(args.gemm_sizes, int):
                torch.manual_seed(1)
                a, b = torch.randn(n, n), torch.randn(n, n)
                t = time_it(lambda: torch.mm(a, b), args.min_time, args.reps, fixed_iters=args.fixed_iters)
                report(lib, "gemm_f32", n, nt, "gflops", 2.0 * n * n * n / t["median_s"] * 1e-9, t)
        if selected("add_f32"):
            torch.manual_seed(2)
            a, b = torch.randn(ELEMENTWISE_N), torch.randn(ELEMENTWISE_N)
            t = time_it(lambda: a + b, args.min_time, args.reps, fixed_iters=args.fixed_iters)
            report(lib, "add_f32", ELEMENTWISE_N, nt, "us", t["median_s"] * 1e6, t)
            report(lib, "add_f32", ELEMENTWISE_N, nt, "gbps", 12.0 * ELEMENTWISE_N / t["median_s"] * 1e-9, t)
        if selected("chain_f32"):
            torch.manual_seed(3)
            a, b, c = torch.randn(ELEMENTWISE_N), torch.randn(ELEMENTWISE_N), torch.randn(ELEMENTWISE_N)
            t = time_it(lambda: (a * b + c).relu().sum(), args.min_time, args.reps, fixed_iters=args.fixed_iters)
            report(lib, "chain_f32", ELEMENTWISE_N, nt, "us", t["median_s"] * 1e6, t)
        if selected("mlp_fwd_bwd"):
            mlp = Mlp()

            def step():
                mlp.zero_grad()
                loss = mlp.loss()
                loss.backward()

            t = time_it(step, args.min_time, args.reps, fixed_iters=args.fixed_iters)
            report(lib, "mlp_fwd_bwd", 512, nt, "us", t["median_s"] * 1e6, t)
        if selected("mlp_fwd"):
            mlp = Mlp()
            t = time_it(mlp.loss, args.min_time, args.reps, fixed_iters=args.fixed_iters)
            report(lib, "mlp_fwd", 512, nt, "us", t["median_s"] * 1e6, t)
        if selected("mlp_gemms"):
            # The 8 products of one MLP step (3 forward, 5 backward), no autograd.
            torch.manual_seed(4)
            x, w1, w2, w3 = torch.randn(512, 2), torch.randn(2, 50), torch.randn(50, 50), torch.randn(50, 1)
            h1, h2, g1, g2, g3 = (torch.randn(512, 50), torch.randn(512, 50), torch.randn(512, 50),
                                  torch.randn(512, 50), torch.randn(512, 1))

            def gemms():
                return (torch.mm(x, w1), torch.mm(h1, w2), torch.mm(h2, w3), torch.mm(h2.t(), g3),
                        torch.mm(g3, w3.t()), torch.mm(h1.t(), g2), torch.mm(g2, w2.t()), torch.mm(x.t(), g1))

            t = time_it(gemms, args.min_time, args.reps, fixed_iters=args.fixed_iters)
            report(lib, "mlp_gemms", 512, nt, "us", t["median_s"] * 1e6, t)
        if selected("tiny_add"):
            torch.manual_seed(5)
            a, b = torch.randn(TINY_N), torch.randn(TINY_N)
            t = time_it(lambda: a + b, args.min_time, args.reps, fixed_iters=args.fixed_iters)
            report(lib, "tiny_add", TINY_N, nt, "us", t["median_s"] * 1e6, t)
        if selected("tiny_autograd"):
            torch.manual_seed(6)
            a, b = torch.randn(TINY_N, requires_grad=True), torch.randn(TINY_N, requires_grad=True)

            def tiny_step():
                a.grad = None
                b.grad = None
                (a * b + a).sum().backward()

            t = time_it(tiny_step, args.min_time, args.reps, fixed_iters=args.fixed_iters)
            report(lib, "tiny_autograd", TINY_N, nt, "us", t["median_s"] * 1e6, t)
        layers = {
            "conv_d": ((64, 16, 16, 16), lambda: torch.nn.Conv2d(16, 32, 3, 2, 1)),
            "convT_g1": ((64, 128, 8, 8), lambda: torch.nn.ConvTranspose2d(128, 128, 4, 2, 1)),
            "convT_g2": ((64, 128, 16, 16), lambda: torch.nn.ConvTranspose2d(128, 64, 4, 2, 1)),
            "conv_unet": ((8, 64, 32, 32), lambda: torch.nn.Conv2d(64, 64, 3, 1, 1)),
            "bn2d": ((64, 128, 16, 16), lambda: torch.nn.BatchNorm2d(128)),
            "groupnorm": ((8, 64, 32, 32), lambda: torch.nn.GroupNorm(32, 64)),
            "maxpool": ((8, 64, 32, 32), lambda: torch.nn.MaxPool2d(2)),
            "upsample": ((8, 64, 32, 32), lambda: torch.nn.Upsample(scale_factor=2.0, mode="bilinear")),
        }
        for name, (shape, make) in layers.items():
            if not selected(name):
                continue
            torch.manual_seed(7)
            layer = make()
            x = torch.randn(*shape, requires_grad=True)
            with torch.no_grad():
                g = torch.randn_like(layer(x))

            def layer_step():
                x.grad = None
                layer.zero_grad()
                layer(x).backward(g)

            t = time_it(layer_step, args.min_time, args.reps, fixed_iters=args.fixed_iters)
            report(lib, name, shape[0], nt, "us", t["median_s"] * 1e6, t)
        if selected("adam_1m"):
            torch.manual_seed(8)
            params = [torch.randn(512, 512, requires_grad=True) for _ in range(4)]
            for p in params:
                p.grad = torch.randn(512, 512)
            # PyTorch's default on CPU (foreach=None picks the foreach implementation).
            adam = torch.optim.Adam(params, lr=1e-3)
            t = time_it(adam.step, args.min_time, args.reps, fixed_iters=args.fixed_iters)
            report(lib, "adam_1m", 1 << 20, nt, "us", t["median_s"] * 1e6, t)
        # GAN training steps (see gan_step). torch.optim.Adam's defaults, as a user gets them:
        # on the CPU that is the single-tensor (for-loop) implementation.
        if selected("gan_parabola"):
            torch.manual_seed(9)
            G, D = parabola_gan()
            x = torch.rand(512, 1) * 2 - 1
            real = torch.cat([x, x * x], 1)  # (512, 2) points (x, x^2), x ~ U(-1, 1)
            opt_g, opt_d = torch.optim.Adam(G.parameters(), lr=3e-4), torch.optim.Adam(D.parameters(), lr=3e-4)
            t = time_it(gan_step(G, D, opt_g, opt_d, real, 10), args.min_time, args.reps,
                        fixed_iters=args.fixed_iters)
            report(lib, "gan_parabola", 512, nt, "us", t["median_s"] * 1e6, t)
        if selected("gan_dcgan"):
            torch.manual_seed(10)
            G, D = dcgan()
            real = torch.rand(64, 1, 32, 32) * 2 - 1
            opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
            opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
            t = time_it(gan_step(G, D, opt_g, opt_d, real, 100), args.min_time, args.reps,
                        fixed_iters=args.fixed_iters)
            report(lib, "gan_dcgan", 64, nt, "us", t["median_s"] * 1e6, t)
        # Diffusion U-Net (issue 5): the seed's UNet(num_channels=1, img_size=32), default init.
        if selected("unet_train"):
            torch.manual_seed(12)
            model = SeedUNet(num_channels=1, img_size=32)
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3)  # R9; torch's defaults otherwise
            x = torch.randn(8, 1, 32, 32)
            t = time_it(unet_train_step(model, opt, x), args.min_time, args.reps, fixed_iters=args.fixed_iters)
            report(lib, "unet_train", 8, nt, "us", t["median_s"] * 1e6, t)
        if selected("unet_sample"):
            torch.manual_seed(13)
            model = SeedUNet(num_channels=1, img_size=32)
            model.eval()  # as the seed's sampler
            x = torch.randn(16, 1, 32, 32)
            t = time_it(unet_sample_step(model, x, 500), args.min_time, args.reps, fixed_iters=args.fixed_iters)
            report(lib, "unet_sample", 16, nt, "us", t["median_s"] * 1e6, t)


if __name__ == "__main__":
    main()
