#!/usr/bin/python3
"""Reference Wan2.1 causal video VAE in plain PyTorch (1.13), written for FlowGuide's parity test.

An independent transcription of the architecture (AutoencoderKLWan: causal 3-D convs, channel RMS norm, residual
blocks, per-frame single-head attention, 2-D/3-D resamplers, feature cache between time chunks) with the diffusers
parameter names. It builds the Tiny config with fixed random weights (rounded to F16 values and stored as F16 to halve the file), encodes a fixed random 9-frame video chunk by
chunk, decodes the latent latent-frame by latent-frame, checks that a whole-sequence run gives the same numbers, and
writes tests/FlowGuide.Models.Tests/Data/wan_vae_tiny/{config.json, diffusion_pytorch_model.safetensors, io.safetensors}.

Run: /usr/bin/python3 tools/reference/wan_vae_ref.py
"""
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------------------------------------------------
# layers

class CausalConv3d(nn.Conv3d):
    """Conv3d whose time axis is padded 2p in front and 0 behind; `history` replaces (part of) that padding."""

    def __init__(self, cin, cout, kernel, stride=1, padding=0):
        super().__init__(cin, cout, kernel, stride=stride, padding=0)
        p = padding if isinstance(padding, tuple) else (padding,) * 3
        self.pt, self.ph, self.pw = 2 * p[0], p[1], p[2]

    def forward(self, x, history=None):
        front = self.pt
        if history is not None and self.pt > 0:
            x = torch.cat([history, x], 2)
            front = max(0, self.pt - history.shape[2])
        x = F.pad(x, (self.pw, self.pw, self.ph, self.ph, front, 0))
        return super().forward(x)


class Cache:
    """One slot per cached conv, visited in the same order each chunk. None = full-sequence mode (no object)."""

    def __init__(self):
        self.slots = []
        self.i = 0

    def begin(self):
        self.i = 0

    def slot(self):
        if self.i == len(self.slots):
            self.slots.append(("new", None))
        self.i += 1
        return self.i - 1


def tail2(prev, x):
    if x.shape[2] >= 2 or prev is None:
        return x[:, :, -2:]
    return torch.cat([prev[:, :, -1:], x], 2)


def cached(conv, x, cache):
    if cache is None:
        return conv(x)
    s = cache.slot()
    _, prev = cache.slots[s]
    y = conv(x, prev)
    cache.slots[s] = ("set", tail2(prev, x))
    return y


class ChannelRMS(nn.Module):
    def __init__(self, dim, images):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones((dim, 1, 1) if images else (dim, 1, 1, 1)))
        self.scale = dim ** 0.5

    def forward(self, x):  # normalises axis 1 of 4-D (images) or 5-D input
        return F.normalize(x, dim=1) * self.scale * self.gamma


class ResBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1 = ChannelRMS(cin, False)
        self.conv1 = CausalConv3d(cin, cout, 3, padding=1)
        self.norm2 = ChannelRMS(cout, False)
        self.conv2 = CausalConv3d(cout, cout, 3, padding=1)
        self.conv_shortcut = CausalConv3d(cin, cout, 1) if cin != cout else None

    def forward(self, x, cache):
        sc = x if self.conv_shortcut is None else self.conv_shortcut(x)
        h = cached(self.conv1, F.silu(self.norm1(x)), cache)
        h = cached(self.conv2, F.silu(self.norm2(h)), cache)
        return h + sc


class Attn(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = ChannelRMS(dim, True)
        self.to_qkv = nn.Conv2d(dim, 3 * dim, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        b, c, t, h, w = x.shape
        y = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        qkv = self.to_qkv(self.norm(y)).reshape(b * t, 3 * c, h * w).transpose(1, 2)  # [bt, hw, 3c]
        q, k, v = qkv[..., :c], qkv[..., c:2 * c], qkv[..., 2 * c:]
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), dim=-1) @ v  # [bt, hw, c]
        y = self.proj(a.transpose(1, 2).reshape(b * t, c, h, w))
        return y.reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4) + x


class Mid(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.resnets = nn.ModuleList([ResBlock(dim, dim), ResBlock(dim, dim)])
        self.attentions = nn.ModuleList([Attn(dim)])

    def forward(self, x, cache):
        return self.resnets[1](self.attentions[0](self.resnets[0](x, cache)), cache)


class Resample(nn.Module):
    def __init__(self, dim, mode):
        super().__init__()
        self.mode = mode
        if mode.startswith("up"):
            self.resample = nn.Sequential(nn.Identity(), nn.Conv2d(dim, dim // 2, 3, padding=1))
        else:
            self.resample = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(dim, dim, 3, stride=2))
        if mode == "up3d":
            self.time_conv = CausalConv3d(dim, 2 * dim, (3, 1, 1), padding=(1, 0, 0))
        if mode == "down3d":
            self.time_conv = CausalConv3d(dim, dim, (3, 1, 1), stride=(2, 1, 1))

    @staticmethod
    def interleave(y):
        b, c2, t, h, w = y.shape
        y = y.reshape(b, 2, c2 // 2, t, h, w)
        return torch.stack((y[:, 0], y[:, 1]), 3).reshape(b, c2 // 2, 2 * t, h, w)

    def forward(self, x, cache):
        if self.mode == "up3d":
            if cache is None:
                if x.shape[2] > 1:
                    x = torch.cat([x[:, :, :1], self.interleave(self.time_conv(x[:, :, 1:]))], 2)
            else:
                s = cache.slot()
                state, prev = cache.slots[s]
                if state == "new":
                    cache.slots[s] = ("rep", None)  # first latent frame: not doubled
                else:
                    y = self.time_conv(x, prev)
                    cache.slots[s] = ("set", tail2(prev, x))
                    x = self.interleave(y)
        b, c, t, h, w = x.shape
        y = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        if self.mode.startswith("up"):
            y = F.interpolate(y, scale_factor=2.0, mode="nearest-exact")
        y = self.resample(y)
        x = y.reshape(b, t, *y.shape[1:]).permute(0, 2, 1, 3, 4)
        if self.mode == "down3d":
            if cache is None:
                if x.shape[2] > 1:
                    x = torch.cat([x[:, :, :1], self.time_conv(x)], 2)
            else:
                s = cache.slot()
                state, prev = cache.slots[s]
                if state == "new":
                    cache.slots[s] = ("set", x[:, :, -1:])  # first frame passes through
                else:
                    y = self.time_conv(torch.cat([prev, x], 2))
                    cache.slots[s] = ("set", x[:, :, -1:])
                    x = y
        return x


class UpBlock(nn.Module):
    def __init__(self, cin, cout, nres, mode):
        super().__init__()
        self.resnets = nn.ModuleList([ResBlock(cin if i == 0 else cout, cout) for i in range(nres + 1)])
        self.upsamplers = nn.ModuleList([Resample(cout, mode)]) if mode else None

    def forward(self, x, cache):
        for r in self.resnets:
            x = r(x, cache)
        return x if self.upsamplers is None else self.upsamplers[0](x, cache)


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        base, mult = cfg["base_dim"], cfg["dim_mult"]
        dims = [base] + [base * m for m in mult]
        self.conv_in = CausalConv3d(3, dims[0], 3, padding=1)
        blocks, scale = [], 1.0
        for i in range(len(mult)):
            cin, cout = dims[i], dims[i + 1]
            for _ in range(cfg["num_res_blocks"]):
                blocks.append(ResBlock(cin, cout))
                if scale in cfg["attn_scales"]:
                    blocks.append(Attn(cout))
                cin = cout
            if i != len(mult) - 1:
                blocks.append(Resample(cout, "down3d" if cfg["temperal_downsample"][i] else "down2d"))
                scale /= 2
        self.down_blocks = nn.ModuleList(blocks)
        self.mid_block = Mid(dims[-1])
        self.norm_out = ChannelRMS(dims[-1], False)
        self.conv_out = CausalConv3d(dims[-1], 2 * cfg["z_dim"], 3, padding=1)

    def forward(self, x, cache):
        x = cached(self.conv_in, x, cache)
        for blk in self.down_blocks:
            x = blk(x) if isinstance(blk, Attn) else blk(x, cache)
        x = self.mid_block(x, cache)
        return cached(self.conv_out, F.silu(self.norm_out(x)), cache)


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        base, mult = cfg["base_dim"], cfg["dim_mult"]
        dims = [base * mult[-1]] + [base * m for m in mult[::-1]]
        up_t = cfg["temperal_downsample"][::-1]
        self.conv_in = CausalConv3d(cfg["z_dim"], dims[0], 3, padding=1)
        self.mid_block = Mid(dims[0])
        blocks = []
        for i in range(len(mult)):
            cin = dims[i] // 2 if i > 0 else dims[i]
            mode = None if i == len(mult) - 1 else ("up3d" if up_t[i] else "up2d")
            blocks.append(UpBlock(cin, dims[i + 1], cfg["num_res_blocks"], mode))
        self.up_blocks = nn.ModuleList(blocks)
        self.norm_out = ChannelRMS(dims[-1], False)
        self.conv_out = CausalConv3d(dims[-1], 3, 3, padding=1)

    def forward(self, x, cache):
        x = cached(self.conv_in, x, cache)
        x = self.mid_block(x, cache)
        for blk in self.up_blocks:
            x = blk(x, cache)
        return cached(self.conv_out, F.silu(self.norm_out(x)), cache)


class WanVAE(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        z = cfg["z_dim"]
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quant_conv = CausalConv3d(2 * z, 2 * z, 1)
        self.post_quant_conv = CausalConv3d(z, z, 1)
        self.decoder = Decoder(cfg)
        self.mean = torch.tensor(cfg["latents_mean"]).view(1, z, 1, 1, 1)
        self.std = torch.tensor(cfg["latents_std"]).view(1, z, 1, 1, 1)
        self.tf = 2 ** sum(cfg["temperal_downsample"])

    def moments(self, x, chunked=True):
        if not chunked:
            h = self.encoder(x, None)
        else:
            cache, outs = Cache(), []
            n = 1 + (x.shape[2] - 1) // self.tf
            for i in range(n):
                cache.begin()
                xi = x[:, :, :1] if i == 0 else x[:, :, 1 + self.tf * (i - 1):1 + self.tf * i]
                outs.append(self.encoder(xi, cache))
            h = torch.cat(outs, 2)
        m = self.quant_conv(h)
        z = self.cfg["z_dim"]
        return m[:, :z], m[:, z:]

    def decode_raw(self, zmodel, chunked=True):
        x = self.post_quant_conv(zmodel * self.std + self.mean)
        if not chunked:
            return self.decoder(x, None)
        cache, outs = Cache(), []
        for i in range(x.shape[2]):
            cache.begin()
            outs.append(self.decoder(x[:, :, i:i + 1], cache))
        return torch.cat(outs, 2)


# --------------------------------------------------------------------------------------------------------------------
# safetensors writer (F32 or F16)

def write_safetensors(path, tensors, half=False):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name].detach().cpu().numpy().astype("<f2" if half else "<f4"))
        b = a.tobytes()
        header[name] = {"dtype": "F16" if half else "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


TINY = {
    "_class_name": "AutoencoderKLWan",
    "base_dim": 8,
    "z_dim": 4,
    "dim_mult": [1, 2, 2],
    "num_res_blocks": 1,
    "attn_scales": [],
    "temperal_downsample": [True, False],
    "dropout": 0.0,
    "latents_mean": [0.1, -0.2, 0.3, -0.05],
    "latents_std": [1.5, 0.8, 1.2, 2.0],
}


def main():
    torch.manual_seed(1234)
    model = WanVAE(TINY).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn_like(p))
            p.copy_(p.half().float())  # weights exactly representable in F16: stored as F16, computed in F32

    g = torch.Generator().manual_seed(99)
    video = torch.rand(1, 3, 9, 16, 16, generator=g) * 2 - 1
    with torch.no_grad():
        mean, logvar = model.moments(video, chunked=True)
        mean_full, _ = model.moments(video, chunked=False)
        latent = (mean - model.mean) / model.std
        decoded_raw = model.decode_raw(latent, chunked=True)
        decoded_full = model.decode_raw(latent, chunked=False)
    print("latent", tuple(latent.shape), "decoded", tuple(decoded_raw.shape))
    print("encode chunked vs full max diff", (mean - mean_full).abs().max().item())
    print("decode chunked vs full max diff", (decoded_raw - decoded_full).abs().max().item())
    print("decoded range", decoded_raw.min().item(), decoded_raw.max().item())

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "FlowGuide.Models.Tests", "Data", "wan_vae_tiny")
    out = os.path.normpath(out)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(TINY, f, indent=2)
    write_safetensors(os.path.join(out, "diffusion_pytorch_model.safetensors"), dict(model.named_parameters()), half=True)
    write_safetensors(os.path.join(out, "io.safetensors"), {
        "video": video,
        "posterior_mean": mean,
        "posterior_logvar": logvar,
        "latent": latent,
        "decoded_raw": decoded_raw,
        "decoded": decoded_raw.clamp(-1, 1),
    })
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {out} ({n} parameters)")


if __name__ == "__main__":
    main()
