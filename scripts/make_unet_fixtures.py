#!/usr/bin/env python3
"""PyTorch reference of latent::diffusion::UNet (RECIPES R10), read by tests/test_unet.cpp.

Regenerate (from anywhere):   scripts/make_unet_fixtures.sh
(it sets up the virtual environment as scripts/make_fixtures.sh does, with torch and
safetensors, then runs `python scripts/make_unet_fixtures.py --out tests/fixtures/diffusion`).

The seed's U-Net (ResNetBlock, ResizeBlock, Down, Up, SelfAttention, UNet) is imported
verbatim as Seed* from benchmarks/peers/seed_unet.py. `UNet` is the same architecture made
configurable the way include/latent/diffusion/unet.hpp is (levels, widths, attention
resolutions, heads, GroupNorm groups, dropout, a class embedding):
benchmarks/peers/latent_unet.py, shared with the DDPM peer; with default arguments it
builds the seed's module. The script checks that: same state_dict keys and shapes, the recipe's
parameter counts (20,188,801 with 1 image channel, 20,190,083 with 3) and the same
output as the seed model on the seed model's weights.

One deviation from the seed, in pos_encoding: the seed builds the embedding in float32
whatever the model's dtype (torch.zeros without dtype), which makes a float64 model
fail in its first Linear; here it is built in the dtype of t. In float32 the two agree
bit for bit.

unet_seed_layout.json holds the seed model's state_dict layout (1 image channel):
{"in_channels": 1, "parameters": 20188801, "state_dict": [[name, shape], ...] in order}.

For every case in CASES (small float64 models, fixed seeds) two files are written:

  unet_<case>_state.safetensors   the model's state_dict, as torch saves it: names and
                                  shapes must load into latent's UNet strictly.
  unet_<case>_io.safetensors      x (N, C, H, W), t (N) float timesteps, labels (N) int64
                                  (conditional cases; the value num_classes is the null
                                  label), out = model(x, t, labels), w (the weights of the
                                  scalar loss sum(out * w)), grad.x = d loss / d x and
                                  grad.<name> = d loss / d <parameter name> for the
                                  parameters of GRAD_PARAMS the case has; __metadata__ {"config": JSON of the UNet
                                  arguments in latent's UNetOptions names, "torch": version}.
"""
import argparse
import json
import math
import os
import sys

import safetensors.torch
import torch
import torch.nn as nn
import torch.nn.functional as F


# The seed, verbatim: benchmarks/peers/seed_unet.py (shared with the PyTorch benchmark peer).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks", "peers"))
from seed_unet import SeedDown, SeedResNetBlock, SeedResizeBlock, SeedSelfAttention, SeedUNet, SeedUp  # noqa: E402


# ---------------------------------------------------------------------------------------
# The configurable U-Net (what latent implements): benchmarks/peers/latent_unet.py, shared
# with the DDPM peer. UNet(**kw) takes the seed's argument names (num_channels, img_size;
# attention_resolutions None = every resolution), as CASES below do.
# ---------------------------------------------------------------------------------------
from latent_unet import UNet as LatentUNet  # noqa: E402


def UNet(num_channels=3, img_size=64, time_embed_dim=256, base_channels=64, channel_mults=(1, 2, 4, 4),
         attention_resolutions=None, num_heads=4, norm_groups=1, dropout=0.0, num_classes=0):
    return LatentUNet(in_channels=num_channels, image_size=img_size, base_channels=base_channels,
                      channel_mults=channel_mults, attention=True,
                      attention_resolutions=() if attention_resolutions is None else attention_resolutions,
                      num_heads=num_heads, time_embed_dim=time_embed_dim, norm_groups=norm_groups, dropout=dropout,
                      num_classes=num_classes)


def count(m):
    return sum(p.numel() for p in m.parameters())


def check_defaults_are_the_seed():
    for c, expected in ((1, 20_188_801), (3, 20_190_083)):
        seed, ours = SeedUNet(num_channels=c), UNet(num_channels=c)
        assert count(seed) == expected, (c, count(seed))
        assert count(ours) == expected, (c, count(ours))
        a = {k: tuple(v.shape) for k, v in seed.state_dict().items()}
        b = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
        assert list(a) == list(b) and a == b, "state_dict keys or shapes differ from the seed's"
    # Same function: the seed's weights in ours, one 64x64 image (float32, as the seed).
    torch.manual_seed(0)
    seed, ours = SeedUNet(num_channels=3).eval(), UNet(num_channels=3).eval()
    ours.load_state_dict(seed.state_dict())
    x, t = torch.randn(1, 3, 64, 64), torch.tensor([417])
    with torch.no_grad():
        diff = (seed(x, t) - ours(x, t)).abs().max().item()
    assert diff == 0.0, f"configurable UNet differs from the seed's by {diff}"
    print("defaults = the seed's UNet: 20,188,801 / 20,190,083 parameters, same keys, same output")


# name -> (seed, batch, UNet arguments). Widths stay small to keep the files small.
CASES = {
    # Every resolution attended (as R10), four levels 8-16-16-16, bottleneck 32.
    "small": (1, 2, dict(num_channels=1, img_size=16, time_embed_dim=8, base_channels=2,
                         channel_mults=(1, 2, 2, 2), num_heads=2)),
    # Conditional, GroupNorm(2, .), uneven widths (up1 gets 8 + 4 = 12 channels, mid 6),
    # attention only at resolution 4 (sa1 and sa3; none at the bottleneck).
    "cond": (2, 3, dict(num_channels=2, img_size=8, time_embed_dim=8, base_channels=2, channel_mults=(1, 2, 4),
                        attention_resolutions=(4,), num_heads=2, norm_groups=2, num_classes=3)),
}

# The parameters whose gradients are saved (those a case has): one of each kind of block
# and tensor, the whole set would double the files.
GRAD_PARAMS = [
    "inc.conv_stack.0.weight", "inc.conv_stack.1.weight", "inc.conv_stack.4.bias",
    "down1.emb_projection.1.weight", "down1.emb_projection.1.bias", "down1.maxpool_conv.1.conv_stack.3.weight",
    "down2.maxpool_conv.2.conv_stack.0.weight",
    "sa1.mha.in_proj_weight", "sa1.mha.in_proj_bias", "sa1.mha.out_proj.weight", "sa1.mha.out_proj.bias",
    "sa1.ln.weight", "sa1.ln.bias", "sa1.mlp.0.weight", "sa1.mlp.1.weight", "sa1.mlp.3.bias",
    "conv_bottleneck.0.conv_stack.0.weight", "conv_bottleneck.1.mha.in_proj_weight",
    "conv_bottleneck.2.conv_stack.4.weight", "conv_bottleneck.1.conv_stack.3.weight",
    "up1.emb_projection.1.weight", "up1.conv.0.conv_stack.0.weight", "up1.conv.1.conv_stack.3.weight",
    "up2.conv.1.conv_stack.1.bias", "sa3.mha.in_proj_weight", "sa6.mlp.1.weight",
    "outc.weight", "outc.bias", "label_emb.weight",
]


def options_json(kw):
    """The UNet arguments under latent's UNetOptions names (what the test builds)."""
    out = {
        "in_channels": kw.get("num_channels", 3), "image_size": kw.get("img_size", 64),
        "base_channels": kw.get("base_channels", 64), "channel_mults": list(kw.get("channel_mults", (1, 2, 4, 4))),
        "num_heads": kw.get("num_heads", 4), "time_embed_dim": kw.get("time_embed_dim", 256),
        "norm_groups": kw.get("norm_groups", 1), "dropout": kw.get("dropout", 0.0),
        "num_classes": kw.get("num_classes", 0),
    }
    if kw.get("attention_resolutions") is not None:
        out["attention_resolutions"] = list(kw["attention_resolutions"])
    return json.dumps(out, sort_keys=True)


def make_case(name, seed, batch, kw, out_dir):
    torch.manual_seed(seed)
    model = UNet(**kw).double()
    # Random norm affines and label rows (defaults are ones/zeros, which would hide a
    # weight/bias mix-up).
    with torch.no_grad():
        for n, p in model.named_parameters():
            if ".ln." in n or ".mlp.0." in n or "conv_stack.1." in n or "conv_stack.4." in n:
                p.copy_(1.0 + 0.2 * torch.randn_like(p) if n.endswith("weight") else 0.2 * torch.randn_like(p))
            if n.endswith("in_proj_bias") or n.endswith("out_proj.bias"):
                p.copy_(0.1 * torch.randn_like(p))
    c, s = kw["num_channels"], kw["img_size"]
    x = torch.randn(batch, c, s, s, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([3.0, 517.0, 999.0][:batch], dtype=torch.float64)
    labels = None
    if kw.get("num_classes", 0) > 0:
        labels = torch.tensor([0, kw["num_classes"], 2][:batch], dtype=torch.long)  # one null label
    out = model(x, t, labels)
    w = torch.randn_like(out)
    (out * w).sum().backward()

    io = {"x": x.detach(), "t": t, "out": out.detach(), "w": w, "grad.x": x.grad}
    if labels is not None:
        io["labels"] = labels
    params = dict(model.named_parameters())
    saved = [n for n in GRAD_PARAMS if n in params]
    assert len(saved) >= 15, saved
    for n in saved:
        io["grad." + n] = params[n].grad
    meta = {"config": options_json(kw), "torch": torch.__version__, "generator": "scripts/make_unet_fixtures.py"}
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    paths = [os.path.join(out_dir, f"unet_{name}_state.safetensors"), os.path.join(out_dir, f"unet_{name}_io.safetensors")]
    safetensors.torch.save_file(state, paths[0], metadata={"format": "pt"})
    safetensors.torch.save_file({k: v.contiguous() for k, v in io.items()}, paths[1], metadata=meta)
    for path in paths:  # safetensors creates its files 0600
        os.chmod(path, 0o644)
    for p in paths:
        print(f"wrote {p} ({os.path.getsize(p)} bytes)")
    print(f"  {name}: {count(model)} parameters, out {tuple(out.shape)}, |out| max {out.abs().max().item():.4g}")


def write_seed_layout(path):
    """The seed model's state_dict layout (1 image channel): names in order and shapes."""
    seed = SeedUNet(num_channels=1)
    layout = {"generator": "scripts/make_unet_fixtures.py", "torch": torch.__version__,
              "in_channels": 1, "parameters": count(seed),
              "state_dict": [[k, list(v.shape)] for k, v in seed.state_dict().items()]}
    with open(path, "w") as f:
        json.dump(layout, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main():
    torch.set_num_threads(1)  # reductions in one fixed order, whatever the machine
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output directory")
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    check_defaults_are_the_seed()
    os.makedirs(args.out, exist_ok=True)
    write_seed_layout(os.path.join(args.out, "unet_seed_layout.json"))
    for name, (seed, batch, kw) in CASES.items():
        make_case(name, seed, batch, kw, args.out)


if __name__ == "__main__":
    main()
