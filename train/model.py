"""Needle v1 in PyTorch, for training: the architecture of docs/NEEDLE.md section 4, exactly.

Weights are kept under their published names and in the published layout ([in, out]
projections, y = x @ W), so export is a rename-free dump (train/export.py). With
`fake_quant` on, every projection is replaced in the forward pass by its INT4 value
(per 32 input rows per output column, scale = max|w| / 7, round half to even, clip to
-8..7: make_model.quantize_int4's rule) with a straight-through gradient, so the trained
float weights are the ones whose quantised copy the engine runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

EPS = 1e-6
GROUP = 32  # input rows per INT4 scale (NEEDLE.md section 9)


@dataclass
class Config:
    vocab_size: int = 4096
    d_model: int = 128
    num_heads: int = 4
    num_kv_heads: int = 2
    num_encoder_layers: int = 4
    num_decoder_layers: int = 4
    max_enc_len: int = 1024
    max_dec_len: int = 256
    rope_theta: float = 10000.0
    no_feedforward: bool = True
    ffn_dim: int = 512
    activation: str = "drelu"

    @property
    def head_dim(self) -> int:
        return self.d_model // self.num_heads

    def metadata(self) -> dict[str, str]:
        """__metadata__ strings, as make_model.config_metadata writes them."""
        return {k: ("true" if v else "false") if isinstance(v, bool) else str(v)
                for k, v in asdict(self).items()}


def zc_norm(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Zero-centred RMSNorm: (1 + g) * x / sqrt(mean(x^2) + eps), over the last axis."""
    return (1.0 + g) * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS)


def fake_quant_int4(w: torch.Tensor) -> torch.Tensor:
    """w [in, out] -> its INT4 dequantised value; the gradient passes straight through."""
    rows, cols = w.shape
    pad = -rows % GROUP
    wp = F.pad(w, (0, 0, 0, pad)) if pad else w
    groups = wp.reshape(-1, GROUP, cols)
    scale = (groups.abs().amax(dim=1, keepdim=True) / 7.0).clamp_min(1e-8)
    # torch.round rounds half to even, like np.rint in the exporter.
    q = torch.clamp(torch.round(groups / scale), -8, 7) * scale
    q = q.reshape(-1, cols)[:rows]
    return w + (q - w).detach()


class Rope:
    """Half-split rotary tables (cos, sin) [T, half] for positions 0..T-1, cached."""

    def __init__(self, head_dim: int, theta: float):
        half = head_dim // 2
        self.freq = theta ** (-2.0 * torch.arange(half, dtype=torch.float64) / head_dim)
        self.cache: tuple[int, torch.Tensor, torch.Tensor] | None = None

    def tables(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cache is None or self.cache[0] < length:
            angle = torch.arange(max(length, 64), dtype=torch.float64)[:, None] * self.freq[None, :]
            self.cache = (angle.shape[0], angle.cos().float(), angle.sin().float())
        return self.cache[1][:length], self.cache[2][:length]

    @staticmethod
    def apply(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """x [B, heads, T, head_dim]: [x1 cos - x2 sin, x2 cos + x1 sin]."""
        half = x.shape[-1] // 2
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        d, hd = cfg.d_model, cfg.head_dim
        kv = cfg.num_kv_heads * hd
        self.heads, self.kv_heads, self.head_dim = cfg.num_heads, cfg.num_kv_heads, hd
        self.wq = nn.Parameter(torch.randn(d, d) / math.sqrt(d))
        self.wk = nn.Parameter(torch.randn(d, kv) / math.sqrt(d))
        self.wv = nn.Parameter(torch.randn(d, kv) / math.sqrt(d))
        # Small output projection: each residual branch starts close to the identity path.
        self.wo = nn.Parameter(torch.randn(d, d) / math.sqrt(d) * 0.5)
        self.q_norm = nn.Parameter(torch.zeros(hd))
        self.k_norm = nn.Parameter(torch.zeros(hd))

    def forward(self, q_in, kv_in, mask, rope: tuple | None, quant: bool):
        """q_in [B, Tq, d], kv_in [B, Tk, d], mask broadcastable to [B, 1, Tq, Tk] (True = keep)."""
        wq, wk, wv, wo = self.wq, self.wk, self.wv, self.wo
        if quant:
            wq, wk, wv, wo = (fake_quant_int4(w) for w in (wq, wk, wv, wo))
        b, tq, _ = q_in.shape
        tk = kv_in.shape[1]
        kv_dim = self.kv_heads * self.head_dim
        # One matmul instead of three (or two) where the inputs coincide: larger GEMMs
        # run faster on CPU; the result is the same.
        if q_in is kv_in:
            qkv = q_in @ torch.cat([wq, wk, wv], dim=1)
            q, k, v = qkv.split([wq.shape[1], kv_dim, kv_dim], dim=-1)
        else:
            q = q_in @ wq
            k, v = (kv_in @ torch.cat([wk, wv], dim=1)).split([kv_dim, kv_dim], dim=-1)
        q = q.reshape(b, tq, self.heads, self.head_dim).transpose(1, 2)
        k = k.reshape(b, tk, self.kv_heads, self.head_dim).transpose(1, 2)
        v = v.reshape(b, tk, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = zc_norm(q, self.q_norm), zc_norm(k, self.k_norm)
        if rope is not None:
            (cq, sq), (ck, sk) = rope
            q, k = Rope.apply(q, cq, sq), Rope.apply(k, ck, sk)
        group = self.heads // self.kv_heads
        # Query head h reads kv head h // group: heads are numbered kv-major, so the
        # `group` query heads of one kv head stack into one [group*Tq, head_dim] block
        # and K/V are never copied per query head. The 1/sqrt(head_dim) goes on q
        # (Tq*head_dim multiplies instead of Tq*Tk divides).
        q = (q * (1.0 / math.sqrt(self.head_dim))).reshape(b, self.kv_heads, group * tq, self.head_dim)
        scores = (q @ k.transpose(-1, -2)).view(b, self.kv_heads, group, tq, tk)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        probs = torch.softmax(scores, dim=-1).view(b, self.kv_heads, group * tq, tk)
        out = (probs @ v).view(b, self.heads, tq, self.head_dim)
        return out.transpose(1, 2).reshape(b, tq, -1) @ wo


class FeedForward(nn.Module):
    """The optional drelu FFN: down(relu(x gate_proj) * relu(x up_proj))."""

    def __init__(self, cfg: Config):
        super().__init__()
        d, f = cfg.d_model, cfg.ffn_dim
        self.gate_proj = nn.Parameter(torch.randn(d, f) / math.sqrt(d))
        self.up_proj = nn.Parameter(torch.randn(d, f) / math.sqrt(d))
        self.down_proj = nn.Parameter(torch.randn(f, d) / math.sqrt(f) * 0.5)

    def forward(self, x, quant: bool):
        g, u, dn = self.gate_proj, self.up_proj, self.down_proj
        if quant:
            g, u, dn = (fake_quant_int4(w) for w in (g, u, dn))
        return (F.relu(x @ g) * F.relu(x @ u)) @ dn


class EncoderLayer(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.norm = nn.Parameter(torch.zeros(cfg.d_model))
        self.self_attn_gate = nn.Parameter(torch.zeros(()))
        self.self_attn = Attention(cfg)
        if not cfg.no_feedforward:
            self.ffn_gate = nn.Parameter(torch.zeros(()))
            self.ffn_norm = nn.Parameter(torch.zeros(cfg.d_model))
            self.ffn = FeedForward(cfg)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        d = cfg.d_model
        self.self_attn_norm = nn.Parameter(torch.zeros(d))
        self.cross_attn_norm = nn.Parameter(torch.zeros(d))
        self.self_attn_gate = nn.Parameter(torch.zeros(()))
        self.cross_attn_gate = nn.Parameter(torch.zeros(()))
        self.self_attn = Attention(cfg)
        self.cross_attn = Attention(cfg)
        if not cfg.no_feedforward:
            self.ffn_gate = nn.Parameter(torch.zeros(()))
            self.ffn_norm = nn.Parameter(torch.zeros(d))
            self.ffn = FeedForward(cfg)


class Needle(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        # x = E[id] * sqrt(d) has RMS ~1 with E ~ N(0, 1/d).
        self.embedding = nn.Parameter(torch.randn(cfg.vocab_size, d) / math.sqrt(d))
        self.encoder_final_norm = nn.Parameter(torch.zeros(d))
        self.decoder_final_norm = nn.Parameter(torch.zeros(d))
        self.encoder = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.num_encoder_layers))
        self.decoder = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_decoder_layers))
        self.rope = Rope(cfg.head_dim, cfg.rope_theta)
        self.fake_quant = False

    def _ffn(self, layer, x):
        if self.cfg.no_feedforward:
            return x
        return x + torch.sigmoid(layer.ffn_gate) * layer.ffn(zc_norm(x, layer.ffn_norm), self.fake_quant)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.embedding) * math.sqrt(self.cfg.d_model)

    def encode(self, enc_ids: torch.Tensor, enc_keep: torch.Tensor) -> torch.Tensor:
        """enc_ids [B, T], enc_keep [B, T] bool (False = padding) -> enc [B, T, d]."""
        x = self.embed(enc_ids)
        t = enc_ids.shape[1]
        cos, sin = self.rope.tables(t)
        rope = ((cos, sin), (cos, sin))
        mask = enc_keep[:, None, None, :]
        for layer in self.encoder:
            h = zc_norm(x, layer.norm)
            x = x + torch.sigmoid(layer.self_attn_gate) * layer.self_attn(h, h, mask, rope, self.fake_quant)
            x = self._ffn(layer, x)
        return zc_norm(x, self.encoder_final_norm)

    def decode(self, enc: torch.Tensor, enc_keep: torch.Tensor, dec_ids: torch.Tensor,
               last_only: bool = False) -> torch.Tensor:
        """Teacher-forced decoder: dec_ids [B, S] -> logits [B, S, vocab] ([B, vocab] for
        the last position only with last_only, which greedy decoding needs)."""
        x = self.embed(dec_ids)
        s = dec_ids.shape[1]
        cos, sin = self.rope.tables(s)
        rope = ((cos, sin), (cos, sin))
        causal = torch.ones(s, s, dtype=torch.bool).tril()[None, None]
        cross = enc_keep[:, None, None, :]
        for layer in self.decoder:
            h = zc_norm(x, layer.self_attn_norm)
            x = x + torch.sigmoid(layer.self_attn_gate) * layer.self_attn(h, h, causal, rope, self.fake_quant)
            h = zc_norm(x, layer.cross_attn_norm)
            x = x + torch.sigmoid(layer.cross_attn_gate) * layer.cross_attn(h, enc, cross, None, self.fake_quant)
            x = self._ffn(layer, x)
        if last_only:
            x = x[:, -1]
        h = zc_norm(x, self.decoder_final_norm)
        return h @ self.embedding.t()

    def forward(self, enc_ids, enc_keep, dec_ids):
        return self.decode(self.encode(enc_ids, enc_keep), enc_keep, dec_ids)

    def named_weights(self) -> dict[str, torch.Tensor]:
        """Every weight under its published name (NEEDLE.md section 9)."""
        return {name: p for name, p in self.named_parameters()}
