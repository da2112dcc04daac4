#!/usr/bin/env python3
"""Plain-PyTorch transcription of the Wan2.1 video transformer as described in shared/reference/wan.md
(Transformer section), used as the parity reference for FlowGuide.Models.Wan.WanTransformer3D.

Module names equal diffusers' WanTransformer3DModel parameter names, so state_dict() keys are checkpoint keys.
Runs with Debian's torch 1.13 (/usr/bin/python3): no F.scaled_dot_product_attention, no safetensors package
(the .safetensors writer below is a few lines of struct + json).

usage: /usr/bin/python3 tools/reference/wan_transformer_ref.py [--out tests/FlowGuide.Models.Tests/Data/wan_tiny]
Writes config.json, diffusion_pytorch_model.safetensors (BF16 weights) and io.safetensors (F32 inputs, outputs and
a few intermediates) for the Tiny config, and prints the float32-vs-float64 spread of the reference itself.
"""
import argparse
import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------- configs (diffusers config.json keys)

BASE = dict(patch_size=[1, 2, 2], num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16,
            text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True,
            qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
WAN21_1_3B = dict(BASE)
TINY = dict(BASE, num_attention_heads=2, attention_head_dim=12, ffn_dim=48, num_layers=2, text_dim=16,
            in_channels=4, out_channels=4)


# ---------------------------------------------------------------- building blocks

def sinusoid(t, dim):
    """[B] -> [B, dim], cos half first. f_i = exp(-ln(10000) i / half) rounded to float32; t*f_i is a float32
    product (diffusers computes in float32); cos/sin evaluated in float64."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half).float()
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args.double()), torch.sin(args.double())], dim=1)


def rope_split(head_dim):
    """Head-dim split into time/height/width parts: h = w = 2 * (head_dim // 6), t = the rest (44/42/42 for 128)."""
    h = w = 2 * (head_dim // 6)
    return head_dim - h - w, h, w


def rope_tables(frames, height, width, head_dim, theta=10000.0):
    """cos, sin [F*H*W, head_dim/2] (float64) for tokens ordered (frame, row, column); columns are the time pairs,
    then height pairs, then width pairs; part a of size d_a has frequencies theta^(-2i/d_a), i < d_a/2."""
    parts = rope_split(head_dim)
    sizes = (frames, height, width)
    angles = []
    for axis, (d, n) in enumerate(zip(parts, sizes)):
        freqs = theta ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # [d/2]
        pos = torch.arange(n, dtype=torch.float64)
        a = pos[:, None] * freqs[None, :]  # [n, d/2]
        shape = [1, 1, 1, d // 2]
        shape[axis] = n
        angles.append(a.reshape(shape).expand(frames, height, width, d // 2))
    ang = torch.cat(angles, dim=-1).reshape(frames * height * width, head_dim // 2)
    return torch.cos(ang), torch.sin(ang)


def apply_rope(x, cos, sin):
    """x [B, H, L, D]; interleaved pairs (2i, 2i+1) rotated by angle i of the token."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    out = torch.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


def attention(q, k, v):
    """softmax(q k^T / sqrt(d)) v over [B, H, L, D]; no mask."""
    s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    return torch.matmul(torch.softmax(s, dim=-1), v)


class RmsNormAll(nn.Module):
    """RMSNorm over the whole last dim (all heads' channels at once), with a weight."""

    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Attention(nn.Module):
    def __init__(self, dim, heads, eps, qk_norm):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim)
        self.to_k = nn.Linear(dim, dim)
        self.to_v = nn.Linear(dim, dim)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])
        self.norm_q = RmsNormAll(dim, eps) if qk_norm else None
        self.norm_k = RmsNormAll(dim, eps) if qk_norm else None

    def forward(self, x, context=None, rope=None):
        kv = x if context is None else context
        q, k, v = self.to_q(x), self.to_k(kv), self.to_v(kv)
        if self.norm_q is not None:
            q, k = self.norm_q(q), self.norm_k(k)  # before the head split: across heads

        def split(t):  # [B, L, D] -> [B, H, L, Dh]
            return t.reshape(t.shape[0], t.shape[1], self.heads, -1).transpose(1, 2)

        q, k, v = split(q), split(k), split(v)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        o = attention(q, k, v).transpose(1, 2)
        return self.to_out[0](o.reshape(o.shape[0], o.shape[1], -1))


class GeluProj(nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out)

    def forward(self, x):
        return F.gelu(self.proj(x), approximate="tanh")


class FeedForward(nn.Module):
    def __init__(self, dim, ffn):
        super().__init__()
        self.net = nn.ModuleList([GeluProj(dim, ffn), nn.Dropout(0.0), nn.Linear(ffn, dim)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["num_attention_heads"] * cfg["attention_head_dim"]
        qk = cfg["qk_norm"] is not None
        self.dim, self.eps = d, cfg["eps"]
        self.scale_shift_table = nn.Parameter(torch.randn(1, 6, d) / d ** 0.5)
        self.attn1 = Attention(d, cfg["num_attention_heads"], cfg["eps"], qk)
        self.attn2 = Attention(d, cfg["num_attention_heads"], cfg["eps"], qk)
        self.norm2 = nn.LayerNorm(d, eps=cfg["eps"], elementwise_affine=True) if cfg["cross_attn_norm"] else None
        self.ffn = FeedForward(d, cfg["ffn_dim"])

    def forward(self, x, tproj, context, rope):
        shift, scale, gate, c_shift, c_scale, c_gate = (self.scale_shift_table + tproj).chunk(6, dim=1)  # [B, 1, D] each
        # 1. self-attention (norm1: no affine)
        h = F.layer_norm(x, (self.dim,), eps=self.eps) * (1 + scale) + shift
        x = x + self.attn1(h, rope=rope) * gate
        # 2. cross-attention (norm2: affine, no modulation, no gate)
        h = self.norm2(x) if self.norm2 is not None else x
        x = x + self.attn2(h, context=context)
        # 3. feed-forward (norm3: no affine)
        h = F.layer_norm(x, (self.dim,), eps=self.eps) * (1 + c_scale) + c_shift
        return x + self.ffn(h) * c_gate


class TwoLinear(nn.Module):
    """linear_2(act(linear_1(x))): TimestepEmbedding (silu) and PixArtAlphaTextProjection (gelu tanh)."""

    def __init__(self, dim_in, dim, act):
        super().__init__()
        self.linear_1 = nn.Linear(dim_in, dim)
        self.linear_2 = nn.Linear(dim, dim)
        self.act = act

    def forward(self, x):
        return self.linear_2(self.act(self.linear_1(x)))


class ConditionEmbedder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["num_attention_heads"] * cfg["attention_head_dim"]
        self.freq_dim = cfg["freq_dim"]
        self.time_embedder = TwoLinear(cfg["freq_dim"], d, F.silu)
        self.time_proj = nn.Linear(d, 6 * d)
        self.text_embedder = TwoLinear(cfg["text_dim"], d, lambda x: F.gelu(x, approximate="tanh"))

    def forward(self, t, text):
        dtype = self.time_proj.weight.dtype
        temb = self.time_embedder(sinusoid(t, self.freq_dim).to(dtype))  # [B, D]
        tproj = self.time_proj(F.silu(temb)).reshape(temb.shape[0], 6, -1)  # [B, 6, D]
        return temb, tproj, self.text_embedder(text)


class WanTransformerRef(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        d = cfg["num_attention_heads"] * cfg["attention_head_dim"]
        p = tuple(cfg["patch_size"])
        self.dim = d
        self.patch_embedding = nn.Conv3d(cfg["in_channels"], d, kernel_size=p, stride=p)
        self.condition_embedder = ConditionEmbedder(cfg)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg["num_layers"])])
        self.proj_out = nn.Linear(d, cfg["out_channels"] * p[0] * p[1] * p[2])
        self.scale_shift_table = nn.Parameter(torch.randn(1, 2, d) / d ** 0.5)

    def forward(self, latent, t, text, trace=None):
        cfg, d = self.cfg, self.dim
        pt, ph, pw = cfg["patch_size"]
        b, _, f, h, w = latent.shape
        f, h, w = f // pt, h // ph, w // pw
        # 1. patch embedding -> tokens (frame, row, column)
        x = self.patch_embedding(latent).flatten(2).transpose(1, 2)  # [B, F'H'W', D]
        # 2. conditioning
        temb, tproj, context = self.condition_embedder(t, text)
        # 3. rope
        rope = rope_tables(f, h, w, cfg["attention_head_dim"])
        if trace is not None:
            trace.update(tokens=x, temb=temb, timestep_proj=tproj, context=context)
        # 4. blocks
        for i, blk in enumerate(self.blocks):
            x = blk(x, tproj, context, rope)
            if trace is not None and i == 0:
                trace["block0"] = x
        # 5. output modulation with the raw temb
        shift, scale = (self.scale_shift_table + temb[:, None, :]).chunk(2, dim=1)
        x = F.layer_norm(x, (d,), eps=cfg["eps"]) * (1 + scale) + shift
        x = self.proj_out(x)  # [B, L, pt*ph*pw*C], channel fastest
        # 6. unpatchify
        c = cfg["out_channels"]
        x = x.reshape(b, f, h, w, pt, ph, pw, c).permute(0, 7, 1, 4, 2, 5, 3, 6)
        return x.reshape(b, c, f * pt, h * ph, w * pw)


# ---------------------------------------------------------------- safetensors writer

def write_safetensors(path, tensors, dtypes=None):
    """tensors: {name: tensor}; dtypes: {name: "F32"|"BF16"} (default F32). Header padded with spaces to 8 bytes."""
    dtypes = dtypes or {}
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        dt = dtypes.get(name, "F32")
        if dt == "F32":
            raw = t.float().numpy().astype("<f4").tobytes()
        elif dt == "BF16":
            raw = t.bfloat16().view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            raise ValueError(dt)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(h)))
        fh.write(h)
        for raw in blobs:
            fh.write(raw)
    os.replace(tmp, path)


# ---------------------------------------------------------------- self-checks of the easy-to-get-wrong parts

def self_check():
    """Checks the transcription against independent formulations of the same facts."""
    # RoPE as complex multiplication of consecutive pairs (x[2i] + i x[2i+1]) by exp(i angle), per-axis tables
    # concatenated along the frequency axis (t, h, w), each axis indexed by its own grid coordinate.
    f, h, w, hd = 3, 2, 5, 12
    cos, sin = rope_tables(f, h, w, hd)
    x = torch.randn(2, 3, f * h * w, hd, dtype=torch.float64)
    xc = torch.view_as_complex(x.reshape(2, 3, f * h * w, hd // 2, 2).contiguous())
    dt, dh, dw = rope_split(hd)
    assert (dt, dh, dw) == (4, 4, 4) and rope_split(128) == (44, 42, 42)
    ang = torch.zeros(f, h, w, hd // 2, dtype=torch.float64)
    col = 0
    for d, coord in ((dt, lambda a, b, c: a), (dh, lambda a, b, c: b), (dw, lambda a, b, c: c)):
        for i in range(d // 2):
            for a in range(f):
                for b in range(h):
                    for c in range(w):
                        ang[a, b, c, col] = coord(a, b, c) * 10000.0 ** (-2.0 * i / d)
            col += 1
    rot = torch.polar(torch.ones_like(ang), ang).reshape(f * h * w, hd // 2)
    expect = torch.view_as_real(xc * rot).reshape(x.shape)
    assert torch.allclose(apply_rope(x, cos, sin), expect, atol=1e-12), "rope"
    # Sinusoid: cos half first, column i of the cos half is cos(t * exp(-ln(10000) i / half)).
    t = torch.tensor([999.0, 3.0])
    e = sinusoid(t, 8)
    assert abs(e[0, 1].item() - math.cos(999.0 * math.exp(-math.log(10000.0) / 4))) < 1e-4
    assert abs(e[1, 4 + 2].item() - math.sin(3.0 * math.exp(-math.log(10000.0) * 2 / 4))) < 1e-6
    # Patchify token order (frame, row, column) and unpatchify index ((pt*2 + ph)*2 + pw)*C + c, by brute force.
    torch.manual_seed(0)
    cfg = dict(TINY, num_layers=0, patch_size=[1, 2, 2])
    m = WanTransformerRef(cfg).double()
    lat = torch.randn(1, 4, 2, 4, 6, dtype=torch.float64)
    tok = m.patch_embedding(lat).flatten(2).transpose(1, 2)
    conv = m.patch_embedding(lat)
    assert torch.equal(tok[0, (1 * 2 + 1) * 3 + 2], conv[0, :, 1, 1, 2])
    proj = torch.randn(1, 2 * 2 * 3, 16, dtype=torch.float64)
    c_out = 4
    x = proj.reshape(1, 2, 2, 3, 1, 2, 2, c_out).permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(1, c_out, 2, 4, 6)
    for (fi, hi, wi, a, b, c) in [(1, 1, 2, 0, 1, 0), (0, 0, 1, 0, 0, 1), (1, 0, 0, 0, 1, 1)]:
        for ch in range(c_out):
            assert x[0, ch, fi + a, hi * 2 + b, wi * 2 + c] == proj[0, (fi * 2 + hi) * 3 + wi, ((a * 2 + b) * 2 + c) * c_out + ch]
    # Parameter count of the 1.3B config: 15 outside the blocks + 27 per block = 825.
    per_block = 1 + 2 * (8 + 2) + 2 + 4
    assert 15 + 30 * per_block == 825
    print("self-check passed (rope vs complex form, sinusoid, patch/unpatch order, 825 keys)")


# ---------------------------------------------------------------- test data

def build_tiny(seed=1234):
    torch.manual_seed(seed)
    model = WanTransformerRef(TINY)
    with torch.no_grad():
        for name, p in model.named_parameters():
            # Norm weights/biases default to ones/zeros; randomise them so swapped or missing norms show up.
            if name.endswith(("norm_q.weight", "norm_k.weight", "norm2.weight")):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif name.endswith("norm2.bias"):
                p.copy_(0.2 * torch.randn_like(p))
            p.copy_(p.bfloat16().float())  # the checkpoint stores BF16: compute with exactly those values
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "FlowGuide.Models.Tests", "Data", "wan_tiny"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    self_check()

    model = build_tiny()
    g = torch.Generator().manual_seed(99)
    latent = torch.randn(2, TINY["in_channels"], 3, 4, 6, generator=g)  # non-square: F'=3, H'=2, W'=3
    timestep = torch.tensor([999.0, 250.5])
    text = torch.randn(2, 7, TINY["text_dim"], generator=g)
    text[0, 5:] = 0  # zero padding rows, as Wan pads the prompt

    trace = {}
    with torch.no_grad():
        ref64 = model.double()
        out64 = ref64(latent.double(), timestep, text.double(), trace=trace)
        out32 = model.float()(latent, timestep, text)
    spread = ((out32.double() - out64).abs().max() / out64.abs().max()).item()
    print(f"reference float32 vs float64: max|diff|/max|ref| = {spread:.3e}; output max|ref| = {out64.abs().max().item():.3f}")

    keys = [k for k, _ in model.named_parameters()]
    write_safetensors(os.path.join(args.out, "diffusion_pytorch_model.safetensors"),
                      dict(model.named_parameters()), {k: "BF16" for k in keys})
    cfg = dict(TINY, _class_name="WanTransformer3DModel", added_kv_proj_dim=None, image_dim=None)
    with open(os.path.join(args.out, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2, sort_keys=True)
    io = dict(latent=latent, timestep=timestep, context_in=text, output=out64)
    io.update({k: v for k, v in trace.items()})
    write_safetensors(os.path.join(args.out, "io.safetensors"), io)
    print(f"wrote {len(keys)} parameters ({sum(p.numel() for p in model.parameters())} floats) and io to {os.path.abspath(args.out)}")


if __name__ == "__main__":
    main()
