#!/usr/bin/env python3
"""PyTorch reference of metrics::ImageClassifier, the R8 feature extractor, read by
tests/test_metrics.cpp.

Regenerate (from anywhere):   scripts/make_classifier_fixture.sh
(it sets up the virtual environment as scripts/make_fixtures.sh does, with torch and
safetensors, then runs `python scripts/make_classifier_fixture.py --out
tests/fixtures/metrics`).

The model is the one latent builds, written as nn.Sequential: features = [Conv2d(c, w, 3,
padding 1), BatchNorm2d(w), ReLU, MaxPool2d(2)] for w = 32, 64, 128, then Flatten,
Linear(128 (S/8)^2, feature_dim), ReLU; head = Dropout, Linear(feature_dim, classes). The
fixture uses image_size 8, feature_dim 16 and dropout 0 (so train mode is deterministic),
which keeps it small while every layer of the real one is present.

Files (float32 weights, the float64 results computed from exactly those values):
  classifier_state.safetensors  state_dict (num_batches_tracked as float: latent's buffers
                                have the module's dtype); BatchNorm running statistics are
                                set to non-trivial values so eval mode tests them
  classifier_io.safetensors     metadata "config" (JSON of the options) and
    x (4, 1, 8, 8); eval.features (4, 16), eval.logits (4, 10) in eval mode;
    train.logits in train mode (batch statistics), w (4, 10), and after
    (train.logits * w).sum().backward(): grad.x and grad.<parameter> for every parameter
    but features.4.weight and features.8.weight (large; grad.x flows through them)
"""
import argparse
import json
import os

import safetensors.torch
import torch
from torch import nn

CONFIG = {"in_channels": 1, "image_size": 8, "num_classes": 10, "feature_dim": 16, "dropout": 0.0}


def build(cfg):
    layers, c = [], cfg["in_channels"]
    for w in (32, 64, 128):
        layers += [nn.Conv2d(c, w, 3, 1, 1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2)]
        c = w
    side = cfg["image_size"] // 8
    layers += [nn.Flatten(), nn.Linear(c * side * side, cfg["feature_dim"]), nn.ReLU()]
    model = nn.Module()
    model.features = nn.Sequential(*layers)
    model.head = nn.Sequential(nn.Dropout(cfg["dropout"]), nn.Linear(cfg["feature_dim"], cfg["num_classes"]))
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output directory")
    args = parser.parse_args()
    torch.manual_seed(20261124)
    model = build(CONFIG)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(7)
    state = {k: (v.float() if v.dtype == torch.int64 else v).contiguous() for k, v in model.state_dict().items()}
    model = model.double()  # the float32 weights, exactly, in float64

    x = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    model.eval()
    with torch.no_grad():
        features = model.features(x)
        logits = model.head(features)
    model.train()
    xg = x.clone().requires_grad_(True)
    train_logits = model.head(model.features(xg))
    w = torch.randn_like(train_logits)
    (train_logits * w).sum().backward()

    io = {"x": x, "eval.features": features, "eval.logits": logits, "train.logits": train_logits.detach(), "w": w,
          "grad.x": xg.grad}
    for name, p in model.named_parameters():
        if p.numel() <= 4096:  # all but the two large convolutions' weights (grad.x covers them)
            io["grad." + name] = p.grad
    os.makedirs(args.out, exist_ok=True)
    paths = [os.path.join(args.out, "classifier_state.safetensors"), os.path.join(args.out, "classifier_io.safetensors")]
    safetensors.torch.save_file(state, paths[0], metadata={"format": "pt"})
    meta = {"config": json.dumps(CONFIG), "torch": torch.__version__, "generator": "scripts/make_classifier_fixture.py"}
    safetensors.torch.save_file({k: v.contiguous() for k, v in io.items()}, paths[1], metadata=meta)
    for path in paths:  # safetensors creates its files 0600
        os.chmod(path, 0o644)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
