#!/usr/bin/env python3
"""Reference values of latent::metrics (FID's Frechet distance, Inception Score), read by
tests/test_metrics.cpp.

Regenerate (from anywhere):   scripts/make_metric_fixtures.sh
(it sets up the virtual environment as scripts/make_fixtures.sh does, with torch, numpy,
scipy and torchmetrics, then runs `python scripts/make_metric_fixtures.py --out
tests/fixtures/metrics/metrics.json`). The file lives in a subdirectory because the
op-parity registry test reads every top-level tests/fixtures/*.json.

Every input is drawn from a seeded numpy generator and rounded to 6 decimals, so the JSON
holds the exact doubles the references were computed on (and stays small).

Schema of tests/fixtures/metrics/metrics.json:

  {"format": 1, "generator": "scripts/make_metric_fixtures.py",
   "versions": {"numpy": ..., "scipy": ..., "torch": ..., "torchmetrics": ...},
   "fid": [FID_CASE, ...], "inception_score": [IS_CASE, ...]}

  MATRIX = {"shape": [rows, cols], "data": [row-major values]}

  FID_CASE = {"name": ..., "real": MATRIX (N1, D), "fake": MATRIX (N2, D),
    "real_mu": [D values], "real_sigma": MATRIX (D, D)   numpy mean / np.cov(rowvar=False),
    "scipy": pytorch-fid's calculate_frechet_distance (scipy.linalg.sqrtm of S1 S2),
    "torchmetrics": FrechetInceptionDistance(feature=identity module).update(real, True),
                    .update(fake, False), .compute() (eigvals of S1 S2),
    "symmetric_eig": the same distance in numpy with latent's formula
                    (sum sqrt eig(S1^1/2 S2 S1^1/2)),
    "tolerance": relative tolerance the test uses against the references}
  The "singular" case has fewer samples than features: its covariances are singular,
  sqrtm and eigvals of S1 S2 (whose zero eigenvalues come out as +-1e-15 and complex) then
  agree with the symmetric form only to ~1e-9, hence its larger tolerance.

  IS_CASE = {"name": ..., "logits": MATRIX (N, C), "splits": s,
    "permutation": [N indices]    the rows torchmetrics' compute() takes, in order (it
                                  shuffles with torch.randperm; drawn under
                                  torch.manual_seed(seed) both here and in compute()),
    "torchmetrics": [mean, std]   InceptionScore(feature=identity module, splits=s)
                                  .update(logits), torch.manual_seed(seed), .compute(),
    "numpy_in_order": [mean, std] torchmetrics' formula in numpy on the rows in the given
                                  order (no shuffle): softmax/log_softmax, torch.chunk
                                  pieces, exp(mean KL) per piece, mean and unbiased std}
"""
import argparse
import json
import math
import os

import numpy as np
import scipy
import scipy.linalg
import torch
import torchmetrics
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore

FORMAT = 1


class Identity(torch.nn.Module):
    """A feature extractor that returns its input (torchmetrics reads num_features)."""

    def __init__(self, num_features):
        super().__init__()
        self.num_features = num_features

    def forward(self, x):
        return x


def matrix(a):
    a = np.asarray(a, dtype=np.float64)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def scipy_fid(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid's calculate_frechet_distance (src/pytorch_fid/fid_score.py)."""
    diff = mu1 - mu2
    covmean = scipy.linalg.sqrtm(sigma1.dot(sigma2))  # pytorch-fid passes disp=False (deprecated)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def symmetric_fid(mu1, sigma1, mu2, sigma2):
    w, v = np.linalg.eigh(sigma1)
    root = (v * np.sqrt(np.maximum(w, 0))) @ v.T
    m = root @ sigma2 @ root
    lam = np.linalg.eigvalsh((m + m.T) / 2)
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sqrt(np.maximum(lam, 0)).sum())


def torchmetrics_fid(real, fake):
    metric = FrechetInceptionDistance(feature=Identity(real.shape[1]))
    metric.update(torch.from_numpy(real), real=True)
    metric.update(torch.from_numpy(fake), real=False)
    return float(metric.compute())


def fid_case(name, real, fake, tolerance):
    mu1, s1 = real.mean(0), np.cov(real, rowvar=False)
    mu2, s2 = fake.mean(0), np.cov(fake, rowvar=False)
    case = {
        "name": name,
        "real": matrix(real),
        "fake": matrix(fake),
        "real_mu": [float(v) for v in mu1],
        "real_sigma": matrix(s1),
        "scipy": scipy_fid(mu1, s1, mu2, s2),
        "torchmetrics": torchmetrics_fid(real, fake),
        "symmetric_eig": symmetric_fid(mu1, s1, mu2, s2),
        "tolerance": tolerance,
    }
    for key in ("scipy", "torchmetrics"):
        rel = abs(case[key] - case["symmetric_eig"]) / abs(case["symmetric_eig"])
        assert rel <= tolerance, f"{name}: {key} {case[key]} vs symmetric {case['symmetric_eig']} (rel {rel})"
    return case


def is_numpy(logits, splits):
    """torchmetrics InceptionScore.compute without the shuffle, in numpy."""
    x = logits - logits.max(1, keepdims=True)
    log_prob = x - np.log(np.exp(x).sum(1, keepdims=True))
    prob = np.exp(x) / np.exp(x).sum(1, keepdims=True)
    n = logits.shape[0]
    size = math.ceil(n / splits)  # torch.chunk: pieces of ceil(n / splits) rows
    scores = []
    for start in range(0, n, size):
        p, lp = prob[start:start + size], log_prob[start:start + size]
        py = p.mean(0, keepdims=True)
        scores.append(math.exp((p * (lp - np.log(py))).sum(1).mean()))
    scores = np.array(scores)
    return [float(scores.mean()), float(scores.std(ddof=1)) if len(scores) > 1 else float("nan")]


def is_case(name, logits, splits, seed):
    metric = InceptionScore(feature=Identity(logits.shape[1]), splits=splits)
    metric.update(torch.from_numpy(logits))
    torch.manual_seed(seed)
    mean, std = metric.compute()
    torch.manual_seed(seed)
    perm = torch.randperm(logits.shape[0]).tolist()
    check = is_numpy(logits[perm], splits)
    assert abs(check[0] - float(mean)) <= 1e-12 * check[0] and abs(check[1] - float(std)) <= 1e-10 * check[1], (
        f"{name}: numpy formula {check} disagrees with torchmetrics {[float(mean), float(std)]}")
    return {
        "name": name,
        "logits": matrix(logits),
        "splits": splits,
        "permutation": perm,
        "torchmetrics": [float(mean), float(std)],
        "numpy_in_order": is_numpy(logits, splits),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output JSON file")
    args = parser.parse_args()
    rng = np.random.default_rng(20240611)
    d = 8

    def features(n, shift, scale):
        mix = rng.normal(size=(d, d)) * scale / math.sqrt(d)
        return np.round(rng.normal(size=(n, d)) @ mix + shift, 6)

    real = features(50, rng.normal(size=d), 1.0)
    fake = features(60, rng.normal(size=d) * 0.5 + 0.3, 1.3)
    few_real = features(6, rng.normal(size=d), 1.0)
    few_fake = features(7, rng.normal(size=d), 0.8)
    fid = [
        fid_case("50x8 vs 60x8", real, fake, 1e-8),
        fid_case("singular: 6x8 vs 7x8", few_real, few_fake, 1e-7),
    ]

    # Logits with a class structure (IS well above 1): a class bias per sample plus noise.
    n, c = 40, 10
    labels = rng.integers(0, c, size=n)
    logits = rng.normal(size=(n, c)) * 1.5
    logits[np.arange(n), labels] += 3.0
    logits = np.round(logits, 6)
    inception = [is_case("40x10, splits 4", logits, 4, 0), is_case("40x10, splits 9 (8 pieces)", logits, 9, 1)]

    out = {
        "format": FORMAT,
        "generator": "scripts/make_metric_fixtures.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "torch": torch.__version__,
                     "torchmetrics": torchmetrics.__version__},
        "fid": fid,
        "inception_score": inception,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    for case in fid:
        print(f"  fid {case['name']}: scipy {case['scipy']!r} torchmetrics {case['torchmetrics']!r} "
              f"symmetric {case['symmetric_eig']!r}")
    for case in inception:
        print(f"  is {case['name']}: torchmetrics {case['torchmetrics']} in order {case['numpy_in_order']}")


if __name__ == "__main__":
    main()
