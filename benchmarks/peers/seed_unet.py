"""The course's denoising U-Net (RECIPES R10), verbatim from the seed
(seeds/000_00095be0b762dde9.txt, lines 1688-1925), with the classes prefixed "Seed".
Shared by scripts/make_unet_fixtures.py (parity fixtures) and torch_bench.py (the PyTorch
peer of the unet_* benchmarks)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

class SeedResNetBlock(nn.Module):
    def __init__(self, in_features, out_features, mid_features=None, residual=False):
        super().__init__()
        self.residual = residual
        if not mid_features:
            mid_features = out_features
        self.conv_stack = nn.Sequential(
            nn.Conv2d(in_features, mid_features, kernel_size=3, padding=1, bias=False),
            nn.GroupNorm(1, mid_features),
            nn.GELU(),
            nn.Conv2d(mid_features, out_features, kernel_size=3, padding=1, bias=False),
            nn.GroupNorm(1, out_features),
        )

    def forward(self, x):
        if self.residual:
            return F.gelu(x + self.conv_stack(x))
        else:
            return self.conv_stack(x)


class SeedResizeBlock(nn.Module):
    def __init__(self, in_features, out_features, emb_dim):
        super().__init__()
        self.emb_projection = nn.Sequential(
            nn.SiLU(),
            nn.Linear(emb_dim, out_features),
        )

    def add_emb(self, x, t_vector):
        emb = self.emb_projection(t_vector)
        emb = emb[:, :, None, None].repeat(1, 1, x.shape[-2], x.shape[-1])
        return x + emb

    def forward(self, x):
        pass


class SeedDown(SeedResizeBlock):
    def __init__(self, in_features, out_features, emb_dim=256):
        super().__init__(in_features, out_features, emb_dim)
        self.maxpool_conv = nn.Sequential(
            nn.MaxPool2d(2),
            SeedResNetBlock(in_features, in_features, residual=True),
            SeedResNetBlock(in_features, out_features),
        )

    def forward(self, x, t):
        x = self.maxpool_conv(x)
        x = self.add_emb(x, t)
        return x


class SeedUp(SeedResizeBlock):
    def __init__(self, in_features, out_features, emb_dim=256):
        super().__init__(in_features, out_features, emb_dim)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.conv = nn.Sequential(
            SeedResNetBlock(in_features, in_features, residual=True),
            SeedResNetBlock(in_features, out_features, in_features // 2),
        )

    def forward(self, x, skip_x, t):
        x = self.up(x)
        x = torch.cat([skip_x, x], dim=1)
        x = self.conv(x)
        x = self.add_emb(x, t)
        return x


class SeedSelfAttention(nn.Module):
    def __init__(self, channels, size):
        super().__init__()
        self.channels = channels
        self.size = size
        self.mha = nn.MultiheadAttention(channels, num_heads=4, batch_first=True)
        self.ln = nn.LayerNorm([channels])
        self.mlp = nn.Sequential(
            nn.LayerNorm([channels]),
            nn.Linear(channels, channels),
            nn.GELU(),
            nn.Linear(channels, channels),
        )

    def forward(self, x):
        x = x.view(-1, self.channels, self.size * self.size).swapaxes(1, 2)
        x_ln = self.ln(x)
        attention_value, _ = self.mha(x_ln, x_ln, x_ln)
        attention_value = attention_value + x
        attention_value = self.mlp(attention_value) + attention_value
        return attention_value.swapaxes(2, 1).view(-1, self.channels, self.size, self.size)


class SeedUNet(nn.Module):
    def __init__(self, num_channels=3, img_size=64, time_embed_dim=256):
        super().__init__()
        self.num_channels = num_channels
        self.time_dim = time_embed_dim
        self.img_size = img_size
        self.inc = SeedResNetBlock(num_channels, 64)
        self.down1 = SeedDown(64, 128)
        self.sa1 = SeedSelfAttention(128, img_size // 2)
        self.down2 = SeedDown(128, 256)
        self.sa2 = SeedSelfAttention(256, img_size // 4)
        self.down3 = SeedDown(256, 256)
        self.sa3 = SeedSelfAttention(256, img_size // 8)
        self.conv_bottleneck = nn.Sequential(
            SeedResNetBlock(256, 512),
            SeedSelfAttention(512, img_size // 8),
            SeedResNetBlock(512, 256),
        )
        self.up1 = SeedUp(512, 128)
        self.sa4 = SeedSelfAttention(128, img_size // 4)
        self.up2 = SeedUp(256, 64)
        self.sa5 = SeedSelfAttention(64, img_size // 2)
        self.up3 = SeedUp(128, 64)
        self.sa6 = SeedSelfAttention(64, img_size)
        self.outc = nn.Conv2d(64, num_channels, kernel_size=1)

    def pos_encoding(self, t):
        pe = torch.zeros(t.shape[0], self.time_dim).to(t.device)
        div_factors = torch.exp(
            torch.arange(0, self.time_dim, 2) * (-torch.log(torch.as_tensor(10000.0)) / self.time_dim)
        ).to(t.device)
        pe[:, 0::2] = torch.sin(t * div_factors)
        pe[:, 1::2] = torch.cos(t * div_factors)
        return pe

    def forward(self, x, t):
        t = t.unsqueeze(-1).type(torch.float).to(x)
        t = self.pos_encoding(t)
        x1 = self.inc(x)
        x2 = self.down1(x1, t)
        x2 = self.sa1(x2)
        x3 = self.down2(x2, t)
        x3 = self.sa2(x3)
        x4 = self.down3(x3, t)
        x4 = self.sa3(x4)
        x4 = self.conv_bottleneck(x4)
        x = self.up1(x4, x3, t)
        x = self.sa4(x)
        x = self.up2(x, x2, t)
        x = self.sa5(x)
        x = self.up3(x, x1, t)
        x = self.sa6(x)
        output = self.outc(x)
        return output
