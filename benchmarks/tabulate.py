#!/usr/bin/env python3
"""Turns the BENCH lines of one scripts/bench.sh run into a Markdown table.

  python3 tabulate.py RAW [--out results.md] [--header FILE]

RAW holds the BENCH lines of every round (a `# round N` line starts each round). Each cell
is the median over rounds of that library's figure. The speedup columns are computed per
round -- from figures taken minutes apart at most, under the same machine load -- and the
median (and min..max) over rounds is shown. Speedup > 1 means latent is faster (higher is
better), whatever the metric: for GFLOP/s and GB/s it is latent / peer, for times peer / latent.
Multi-threaded figures that are far slower than the same library's 1-thread figure are flagged
(a busy machine), and a second table recomputes the 1-thread figures from the process CPU time
per call (the BENCH lines' cpu_s), which other processes on the machine barely disturb.
Standard library only.
"""
import argparse
import re
import statistics
from collections import defaultdict

LINE = re.compile(r"^BENCH (.*)$")
HIGHER_IS_BETTER = {"gflops", "gbps"}
WORKLOAD_ORDER = ["gemm_f32", "add_f32", "chain_f32", "mlp_fwd_bwd", "mlp_fwd", "mlp_gemms", "tiny_add", "tiny_autograd",
                  "conv_d", "convT_g1", "convT_g2", "conv_unet", "bn2d", "groupnorm", "maxpool", "upsample", "adam_1m",
                  "gan_parabola", "gan_dcgan", "unet_train", "unet_sample", "gemm_tf32", "gemm_bf16", "unet_sample_graph"]
METRIC_LABEL = {"gflops": "GFLOP/s", "gbps": "GB/s", "us": "us"}


def parse(path, cpu=False):
    """-> {(workload, size, threads, metric): {lib: {round: value}}}. With cpu=True: only
    1-thread figures, recomputed from the process CPU time per call instead of wall time."""
    data = defaultdict(lambda: defaultdict(dict))
    rnd = 0
    with open(path) as f:
        for line in f:
            if line.startswith("# round"):
                rnd = int(line.split()[2])
                continue
            m = LINE.match(line.strip())
            if not m:
                continue
            kv = dict(item.split("=", 1) for item in m.group(1).split())
            key = (kv["workload"], int(kv["size"]), int(kv["threads"]), kv["metric"])
            value = float(kv["value"])
            if cpu:
                if key[2] != 1 or "cpu_s" not in kv or float(kv["cpu_s"]) <= 0:
                    continue
                wall, cpu_s = float(kv["wall_s"]), float(kv["cpu_s"])
                value *= wall / cpu_s if key[3] in HIGHER_IS_BETTER else cpu_s / wall
            data[key][kv["lib"]][rnd] = value
    return data


def speedup(metric, latent, peer):
    return latent / peer if metric in HIGHER_IS_BETTER else peer / latent


def ratios(metric, rounds_latent, rounds_peer):
    return [speedup(metric, rounds_latent[r], rounds_peer[r]) for r in rounds_latent if r in rounds_peer]


def fmt(v):
    if v is None:
        return "n/a"
    return f"{v:.0f}" if v >= 100 else (f"{v:.1f}" if v >= 10 else f"{v:.2f}")


def fmt_ratio(rs):
    if not rs:
        return "n/a"
    med = statistics.median(rs)
    if len(rs) == 1:
        return f"{med:.2f}"
    return f"{med:.2f} ({min(rs):.2f}..{max(rs):.2f})"


def sort_key(key):
    w, size, threads, metric = key
    order = WORKLOAD_ORDER.index(w) if w in WORKLOAD_ORDER else len(WORKLOAD_ORDER)
    return (order, metric != "us" if w == "add_f32" else False, size, threads)


def targets(data, suspects=()):
    """The issue's targets, judged on the median per-round speedups. A target whose figures
    were flagged by oversubscribed() is reported as unreliable rather than met or missed."""
    out = []
    flagged = {(w, size, t) for _, w, size, t in suspects}

    def med(key, peer):
        if key not in data or "latent" not in data[key] or peer not in data[key]:
            return None
        if key[:3] in flagged:
            return float("nan")
        rs = ratios(key[3], data[key]["latent"], data[key][peer])
        return statistics.median(rs) if rs else None

    threads = sorted({k[2] for k in data})
    for n in (1024, 2048):
        for t in threads:
            r = med(("gemm_f32", n, t, "gflops"), "torch")
            out.append((f"GEMM {n}, {t} thread(s): within 10% of torch.mm (latent/torch >= 0.90)",
                        r, r is not None and r >= 0.90))
    for w, label in (("add_f32", "a+b"), ("chain_f32", "(a*b+c).relu().sum()")):
        for t in threads:
            r = med((w, 1 << 20, t, "us"), "torch")
            out.append((f"element-wise {label}, {t} thread(s): at least as fast as torch (>= 1.00)",
                        r, r is not None and r >= 1.0))
    for t in threads:
        r = med(("mlp_fwd_bwd", 512, t, "us"), "torch")
        out.append((f"MLP fwd+bwd, {t} thread(s): >= 3x faster than torch eager", r, r is not None and r >= 3.0))
        r = med(("mlp_fwd_bwd", 512, t, "us"), "libtorch")
        out.append((f"MLP fwd+bwd, {t} thread(s): faster than LibTorch (> 1.00)", r, r is not None and r > 1.0))
    for t in threads:
        r = med(("gan_parabola", 512, t, "us"), "torch")
        out.append((f"GAN parabola step, {t} thread(s): >= 5x faster than torch eager", r, r is not None and r >= 5.0))
        r = med(("gan_parabola", 512, t, "us"), "libtorch")
        out.append((f"GAN parabola step, {t} thread(s): faster than LibTorch (> 1.00)", r, r is not None and r > 1.0))
    for t in threads:
        r = med(("gan_dcgan", 64, t, "us"), "torch")
        out.append((f"DCGAN step, {t} thread(s): at least as fast as torch (>= 1.00)", r, r is not None and r >= 1.0))
    # Diffusion U-Net (issue 5): R10's model at 32x32, training step at batch 8 and sampling
    # step (forward without autograd + DDPM update) at batch 16.
    for w, size, label in (("unet_train", 8, "U-Net training step (batch 8)"),
                           ("unet_sample", 16, "U-Net sampling step (batch 16)")):
        for t in threads:
            r = med((w, size, t, "us"), "torch")
            out.append((f"{label}, {t} thread(s): at least as fast as torch (>= 1.00)", r, r is not None and r >= 1.0))
    return out


def oversubscribed(data):
    """Multi-threaded figures more than 2x worse than the 1-thread figure of the same library
    (for GEMMs of 1024 and up: any worse)."""
    out = []
    for (w, size, t, metric), libs in sorted(data.items(), key=lambda kv: sort_key(kv[0])):
        base = data.get((w, size, 1, metric))
        if t <= 1 or not base:
            continue
        for lib, vals in libs.items():
            if lib not in base:
                continue
            one, many = statistics.median(base[lib].values()), statistics.median(vals.values())
            # Large GEMMs scale with threads in every BLAS here: slower than 1 thread is load.
            limit = 1.0 if w == "gemm_f32" and size >= 1024 else 0.5
            if speedup(metric, many, one) < limit and (lib, w, size, t) not in out:
                out.append((lib, w, size, t))
    return out


def table(data):
    lines = ["| workload | size | threads | metric | latent | torch | libtorch | "
             "speedup vs torch | speedup vs libtorch |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for key in sorted(data, key=sort_key):
        w, size, t, metric = key
        libs = data[key]
        cell = {lib: statistics.median(libs[lib].values()) if lib in libs else None
                for lib in ("latent", "torch", "libtorch")}
        rt = ratios(metric, libs["latent"], libs["torch"]) if "latent" in libs and "torch" in libs else []
        rl = ratios(metric, libs["latent"], libs["libtorch"]) if "latent" in libs and "libtorch" in libs else []
        lines.append(f"| {w} | {size} | {t} | {METRIC_LABEL.get(metric, metric)} | {fmt(cell['latent'])} | "
                     f"{fmt(cell['torch'])} | {fmt(cell['libtorch'])} | {fmt_ratio(rt)} | {fmt_ratio(rl)} |")
    return lines


def target_lines(data, suspects=()):
    lines = []
    for text, r, ok in targets(data, suspects):
        if r is not None and r != r:  # NaN: flagged figure
            lines.append(f"- UNRELIABLE (busy machine, see the warning above): {text}")
            continue
        status = "not measured" if r is None else ("MET" if ok else "MISSED")
        lines.append(f"- {status}: {text}: {'n/a' if r is None else f'{r:.2f}'}")
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--out")
    ap.add_argument("--header", help="text file put above the table")
    args = ap.parse_args()
    data = parse(args.raw)
    cpu_data = parse(args.raw, cpu=True)
    rounds = sorted({r for libs in data.values() for vals in libs.values() for r in vals})

    lines = []
    if args.header:
        with open(args.header) as f:
            lines.append(f.read().rstrip() + "\n")
    lines.append(f"Wall-clock figures, median of {len(rounds)} round(s). Speedup = how many times faster "
                 "latent is (higher is better; > 1: latent faster): latent/peer for GFLOP/s and GB/s, "
                 "peer/latent for times; median over rounds of the per-round speedup (min..max).\n")
    lines += table(data)
    suspects = oversubscribed(data)
    if suspects:
        lines.append("")
        lines.append("WARNING: these multi-threaded figures are more than 2x slower (GEMMs >= 1024: "
                     "slower at all) than the same library's 1-thread figure, the mark of a machine busy "
                     "with other processes (a parallel region waits for a descheduled thread); do not "
                     "read them as library speed: "
                     + "; ".join(f"{lib} {w} {size} at {t} threads" for lib, w, size, t in suspects) + ".")
    lines.append("")
    lines.append("Targets (wall clock, median speedup over rounds):\n")
    lines += target_lines(data, suspects)
    if cpu_data:
        lines.append("")
        lines.append("1-thread figures recomputed from the process CPU time per call (user + system; "
                     "time spent waiting for a CPU taken by other processes is not counted, so these "
                     "hold up on a busy machine; a library's own helper threads would count):\n")
        lines += table(cpu_data)
        lines.append("")
        lines.append("1-thread targets on CPU time:\n")
        lines += target_lines(cpu_data)
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
