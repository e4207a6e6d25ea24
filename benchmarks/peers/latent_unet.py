"""latent's diffusion::UNet (include/latent/diffusion/unet.hpp) in PyTorch: the course's seed
U-Net (RECIPES R10, verbatim in seed_unet.py) made configurable the way UNetOptions is, with
the same module names and parameter shapes, so state_dicts move between the two. Its
defaults build the seed's model (scripts/make_unet_fixtures.py checks: same keys, shapes,
parameter counts and outputs). Used by scripts/make_unet_fixtures.py (the parity fixtures of
tests/test_unet.cpp) and by ddpm_fashion_peer.py.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

class ResNetBlock(nn.Module):
    """conv_stack = Conv3x3(in, mid, no bias) GroupNorm(g, mid) GELU [Dropout] Conv3x3(mid, out,
    no bias) GroupNorm(g, out); the residual variant returns gelu(x + conv_stack(x))."""

    def __init__(self, in_channels, out_channels, mid_channels=0, residual=False, norm_groups=1, dropout=0.0):
        super().__init__()
        self.residual = residual
        mid = mid_channels if mid_channels > 0 else out_channels
        layers = [nn.Conv2d(in_channels, mid, 3, padding=1, bias=False), nn.GroupNorm(norm_groups, mid), nn.GELU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.Conv2d(mid, out_channels, 3, padding=1, bias=False), nn.GroupNorm(norm_groups, out_channels)]
        self.conv_stack = nn.Sequential(*layers)

    def forward(self, x):
        return F.gelu(x + self.conv_stack(x)) if self.residual else self.conv_stack(x)


class ResizeBlock(nn.Module):
    def __init__(self, out_channels, emb_dim):
        super().__init__()
        self.emb_projection = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, out_channels))

    def add_emb(self, x, emb):
        return x + self.emb_projection(emb)[:, :, None, None]


class Down(ResizeBlock):
    def __init__(self, in_channels, out_channels, emb_dim, norm_groups, dropout):
        super().__init__(out_channels, emb_dim)
        self.maxpool_conv = nn.Sequential(
            nn.MaxPool2d(2),
            ResNetBlock(in_channels, in_channels, residual=True, norm_groups=norm_groups, dropout=dropout),
            ResNetBlock(in_channels, out_channels, norm_groups=norm_groups, dropout=dropout))

    def forward(self, x, emb):
        return self.add_emb(self.maxpool_conv(x), emb)


class Up(ResizeBlock):
    def __init__(self, in_channels, out_channels, emb_dim, norm_groups, dropout):
        super().__init__(out_channels, emb_dim)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.conv = nn.Sequential(
            ResNetBlock(in_channels, in_channels, residual=True, norm_groups=norm_groups, dropout=dropout),
            ResNetBlock(in_channels, out_channels, in_channels // 2, norm_groups=norm_groups, dropout=dropout))

    def forward(self, x, skip, emb):
        return self.add_emb(self.conv(torch.cat([skip, self.up(x)], dim=1)), emb)


class SelfAttention(nn.Module):
    """a = mha(ln(x)) + x; a = mlp(a) + a over the H*W pixels as tokens (the size from the input)."""

    def __init__(self, channels, num_heads):
        super().__init__()
        self.channels = channels
        self.mha = nn.MultiheadAttention(channels, num_heads, batch_first=True)
        self.ln = nn.LayerNorm([channels])
        self.mlp = nn.Sequential(nn.LayerNorm([channels]), nn.Linear(channels, channels), nn.GELU(),
                                 nn.Linear(channels, channels))

    def forward(self, x):
        n, c, h, w = x.shape
        seq = x.reshape(n, c, h * w).transpose(1, 2)
        x_ln = self.ln(seq)
        a = self.mha(x_ln, x_ln, x_ln)[0] + seq  # need_weights as the seed: the same code path
        a = self.mlp(a) + a
        return a.transpose(1, 2).reshape(n, c, h, w)


class UNet(nn.Module):
    """latent's UNet(UNetOptions): level i has base * mults[i] channels at image_size / 2^i;
    attention_resolutions = [] with attention = True attends every size (the seed)."""

    def __init__(self, in_channels=3, image_size=64, base_channels=64, channel_mults=(1, 2, 4, 4),
                 attention=True, attention_resolutions=(), num_heads=4, time_embed_dim=256, norm_groups=1,
                 dropout=0.0, num_classes=0):
        super().__init__()
        self.in_channels, self.image_size = in_channels, image_size
        self.mults, self.base = list(channel_mults), base_channels
        self.attention, self.attention_resolutions = attention, list(attention_resolutions)
        self.time_embed_dim, self.num_classes = time_embed_dim, num_classes
        L, D = len(self.mults), time_embed_dim
        assert D % 2 == 0 and image_size % (1 << (L - 1)) == 0
        block = dict(norm_groups=norm_groups, dropout=dropout)
        self.inc = ResNetBlock(in_channels, self.width(0), **block)
        self.down_names, self.down_sa = [], []
        for i in range(1, L):
            self.add_module(f"down{i}", Down(self.width(i - 1), self.width(i), D, **block))
            self.down_names.append(f"down{i}")
            sa = None
            if self.attends(i):
                sa = f"sa{i}"
                self.add_module(sa, SelfAttention(self.width(i), num_heads))
            self.down_sa.append(sa)
        deep = self.width(L - 1)
        bottleneck = [ResNetBlock(deep, 2 * deep, **block)]
        if self.attends(L - 1):
            bottleneck.append(SelfAttention(2 * deep, num_heads))
        bottleneck.append(ResNetBlock(2 * deep, deep, **block))
        self.conv_bottleneck = nn.Sequential(*bottleneck)
        self.up_names, self.up_sa = [], []
        current = deep
        for j in range(L - 1):
            skip, out = L - 2 - j, self.width(max(L - 3 - j, 0))
            self.add_module(f"up{j + 1}", Up(current + self.width(skip), out, D, **block))
            self.up_names.append(f"up{j + 1}")
            sa = None
            if self.attends(skip):
                sa = f"sa{L + j}"
                self.add_module(sa, SelfAttention(out, num_heads))
            self.up_sa.append(sa)
            current = out
        self.outc = nn.Conv2d(self.width(0), in_channels, 1)
        if num_classes > 0:
            self.label_emb = nn.Embedding(num_classes + 1, D)

    def width(self, level):
        return self.base * self.mults[level]

    def attends(self, level):
        if not self.attention:
            return False
        r = self.attention_resolutions
        return not r or (self.image_size >> level) in r

    @property
    def null_label(self):
        return self.num_classes

    def time_embedding(self, t, dtype=torch.float32):
        """The seed's pos_encoding: PE(t, 2i) = sin(t f_i), PE(t, 2i+1) = cos(t f_i) (float32
        as the seed; a float64 model computes it in float64, as latent's UNet<double>)."""
        D = self.time_embed_dim
        freqs = torch.exp(torch.arange(0, D, 2, dtype=dtype, device=t.device)
                          * (-torch.log(torch.as_tensor(10000.0, dtype=dtype)) / D))
        args = t.reshape(-1, 1).to(torch.float32).to(dtype) * freqs[None, :]
        return torch.stack([args.sin(), args.cos()], dim=2).reshape(-1, D)

    def forward(self, x, t, labels=None):
        emb = self.time_embedding(t, x.dtype)
        if self.num_classes > 0:
            if labels is None:
                labels = torch.full((x.shape[0],), self.null_label, dtype=torch.long, device=x.device)
            emb = emb + self.label_emb(labels)
        skips = [self.inc(x)]
        for name, sa in zip(self.down_names, self.down_sa):
            h = getattr(self, name)(skips[-1], emb)
            skips.append(getattr(self, sa)(h) if sa else h)
        h = self.conv_bottleneck(skips[-1])
        L = len(self.mults)
        for j, (name, sa) in enumerate(zip(self.up_names, self.up_sa)):
            h = getattr(self, name)(h, skips[L - 2 - j], emb)
            if sa:
                h = getattr(self, sa)(h)
        return self.outc(h)
