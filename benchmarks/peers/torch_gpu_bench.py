#!/usr/bin/env python3
"""PyTorch (eager, and CUDA graphs where noted) peer of `core_bench --device cuda`: the same
GPU workloads and timing method (torch_bench.py's time_it), every call ending with
torch.cuda.synchronize(), printing `BENCH lib=torch ...` lines (threads=1).

  python torch_gpu_bench.py [--device cuda] [--gemm-sizes 4096] [--dcgan-batches 64,512]
                            [--unet-train-batch 64] [--unet-sample-batch 256] [--min-time 1] [--reps 5]

Workloads (the first four as core_bench.cpp describes them):
  gemm_f32           torch.mm in float32 with TF32 off (GFLOP/s)
  gan_dcgan          R3's DCGAN training step at each batch size
  unet_train         R10's U-Net training step (AdamW)
  unet_sample        one DDPM sampling step of R10's U-Net under inference_mode
  gemm_tf32          torch.mm in float32 with TF32 on (tensor cores); latent has no TF32 mode yet
  gemm_bf16          torch.mm of bfloat16 matrices; latent has no bfloat16 tensors yet
  unet_sample_graph  unet_sample captured once in a CUDA graph and replayed (x and t fixed);
                     latent has no CUDA graphs yet
--cpu-smoke runs every workload on the CPU at tiny sizes, to check this script without a GPU.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bench import SeedUNet, dcgan, gan_step, parse_list, report, time_it, unet_sample_step, unet_train_step  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--workloads", default="", help="subset of gemm_f32,gan_dcgan,unet_train,unet_sample,"
                    "gemm_tf32,gemm_bf16,unet_sample_graph (default: all)")
    ap.add_argument("--gemm-sizes", default="4096")
    ap.add_argument("--dcgan-batches", default="64,512")
    ap.add_argument("--unet-train-batch", type=int, default=64)
    ap.add_argument("--unet-sample-batch", type=int, default=256)
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on the CPU (checks the script)")
    args = ap.parse_args()
    if args.cpu_smoke:
        args.device, args.gemm_sizes, args.dcgan_batches = "cpu", "64", "4"
        args.unet_train_batch, args.unet_sample_batch, args.min_time, args.reps = 2, 2, 0.01, 1
    workloads = parse_list(args.workloads)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        print(f"# torch {torch.__version__}; {torch.cuda.get_device_name(device)}; "
              f"CUDA {torch.version.cuda}; cuDNN {torch.backends.cudnn.version()}")
    torch.set_default_device(device)  # every tensor the shared workloads make lands on the GPU

    def selected(name):
        return not workloads or name in workloads

    def synced(fn):
        def call():
            out = fn()
            if cuda:
                torch.cuda.synchronize(device)
            return out
        return call

    def timed(fn):
        return time_it(synced(fn), args.min_time, args.reps)

    lib = "torch"
    for n in parse_list(args.gemm_sizes, int):
        for name, dtype, tf32 in (("gemm_f32", torch.float32, False), ("gemm_tf32", torch.float32, True),
                                  ("gemm_bf16", torch.bfloat16, False)):
            if not selected(name) or (dtype == torch.bfloat16 and not cuda):
                continue
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.manual_seed(1)
            a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
            t = timed(lambda: torch.mm(a, b))
            report(lib, name, n, 1, "gflops", 2.0 * n * n * n / t["median_s"] * 1e-9, t)
    torch.backends.cuda.matmul.allow_tf32 = False  # the steps below in plain float32, as latent's
    torch.backends.cudnn.allow_tf32 = False
    if selected("gan_dcgan"):
        for batch in parse_list(args.dcgan_batches, int):
            torch.manual_seed(10)
            G, D = dcgan()
            real = torch.rand(batch, 1, 32, 32) * 2 - 1
            opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
            opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
            t = timed(gan_step(G, D, opt_g, opt_d, real, 100))
            report(lib, "gan_dcgan", batch, 1, "us", t["median_s"] * 1e6, t)
    if selected("unet_train"):
        torch.manual_seed(12)
        model = SeedUNet(num_channels=1, img_size=32)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        x = torch.randn(args.unet_train_batch, 1, 32, 32)
        t = timed(unet_train_step(model, opt, x))
        report(lib, "unet_train", args.unet_train_batch, 1, "us", t["median_s"] * 1e6, t)
    if selected("unet_sample") or selected("unet_sample_graph"):
        torch.manual_seed(13)
        model = SeedUNet(num_channels=1, img_size=32)
        model.eval()
        x = torch.randn(args.unet_sample_batch, 1, 32, 32)
        step = unet_sample_step(model, x, 500)
        if selected("unet_sample"):
            t = timed(step)
            report(lib, "unet_sample", args.unet_sample_batch, 1, "us", t["median_s"] * 1e6, t)
        if selected("unet_sample_graph") and cuda:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):  # warm-up outside the capture, as torch.cuda.graphs asks
                    step()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                step()
            t = timed(graph.replay)
            report(lib, "unet_sample_graph", args.unet_sample_batch, 1, "us", t["median_s"] * 1e6, t)


if __name__ == "__main__":
    main()
