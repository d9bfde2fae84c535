#!/usr/bin/env python3
"""An independent float64 NumPy reference of Needle v1 (docs/NEEDLE.md sections 4, 5, 10).

Written straight from the spec, for clarity rather than speed: the decoder recomputes the
whole sequence at every step, attention loops over heads, nothing is cached. The C++
engine is tested against what this prints.

    reference.py dump --weights FILE --enc-ids 5,9,13 --steps N --out OUT.json
        JSON: config, enc_ids, enc_out [T][d] (after encoder_final_norm), steps (one per
        greedy step from start token 1: logits (full vector), token (argmax), margin
        (top1 - top2)), tokens, and embed {vector, kind: "head"|"mean_pool"} (the retrieval
        embedding of enc_ids[:256]). Decoding is unconstrained argmax and stops after EOS (1)
        is produced, after N steps, or when the decoder sequence reaches max_dec_len.
    reference.py generate --weights FILE --spm MODEL --query Q --tools JSON [--max-tokens N]
        Section 5's encoder ids (the tools string is used as given, not canonicalised),
        unconstrained greedy decoding; prints the generated ids as a JSON array (with
        --margins: {"ids", "margins"}, the top1 - top2 logit of every step), without
        the start token and without the final EOS (like needle_real_e2e_560.json's
        expected_token_ids).
    reference.py --check-jax
        Asserts this implementation reproduces the upstream JAX outputs in
        ../shared/fixtures/jax_tiny_vectors.json within 1e-4, with the fixture's weights
        written to a file by make_model.py's writer (float, and INT4 for the `_q` cases)
        and read back here.

Loading accepts any published-format file: projections I4 (+ `.scale`) or float
F32/F16/BF16 [in, out], other tensors F32/F16/BF16, gates of shape [] or [1]. INT4 is
dequantised exactly as w = q * scale in float64.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
import tempfile

import numpy as np

EPS = 1e-6
START_ID = 1  # the decoder starts from EOS
EOS_ID = 1
TOOLS_SEP_ID = 5
RETRIEVAL_MAX_IDS = 256


# ---- SafeTensors reading -------------------------------------------------------------

class RawTensor:
    """A tensor as stored: published dtype name, shape, and its bytes (uint8 array)."""

    def __init__(self, name: str, dtype: str, shape: tuple, data: np.ndarray):
        self.name, self.dtype, self.shape, self.data = name, dtype, shape, data


_ITEM_SIZE = {"F32": 4, "F16": 2, "BF16": 2, "I4": 1}  # I4: one byte holds two rows


def read_safetensors(path: str) -> tuple[dict[str, str], dict[str, RawTensor]]:
    blob = np.fromfile(path, dtype=np.uint8)
    if blob.size < 8:
        raise ValueError(f"{path}: {blob.size} bytes, too short for the 8-byte header length")
    (header_len,) = struct.unpack("<Q", blob[:8].tobytes())
    if header_len > blob.size - 8:
        raise ValueError(f"{path}: header length {header_len} exceeds the file ({blob.size} bytes)")
    header = json.loads(blob[8:8 + header_len].tobytes().decode("utf-8"))
    data = blob[8 + header_len:]
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        dtype, shape = info["dtype"], tuple(int(s) for s in info["shape"])
        begin, end = (int(x) for x in info["data_offsets"])
        if dtype not in _ITEM_SIZE:
            raise ValueError(f"tensor {name}: unsupported dtype {dtype}")
        if not 0 <= begin <= end <= data.size:
            raise ValueError(f"tensor {name}: data offsets [{begin}, {end}] outside the {data.size} data bytes")
        want = math.prod(shape) * _ITEM_SIZE[dtype]
        if end - begin != want:
            raise ValueError(f"tensor {name}: {end - begin} bytes for {dtype} {list(shape)} (want {want})")
        tensors[name] = RawTensor(name, dtype, shape, data[begin:end])
    return meta, tensors


def to_float64(t: RawTensor) -> np.ndarray:
    raw = t.data.tobytes()
    if t.dtype == "F32":
        values = np.frombuffer(raw, dtype="<f4")
    elif t.dtype == "F16":
        values = np.frombuffer(raw, dtype="<f2")
    elif t.dtype == "BF16":
        # bf16 is the top half of a float32.
        values = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        raise ValueError(f"tensor {t.name}: {t.dtype} is not a float dtype")
    return values.astype(np.float64).reshape(t.shape)


def dequantize_int4(q: RawTensor, scale: RawTensor, rows: int) -> np.ndarray:
    """I4 [in_pad/2, out] + F32 scale [in_pad/32, out] -> float64 [rows, out], w = q*scale."""
    pairs, cols = q.shape
    in_pad = 2 * pairs
    if in_pad % 32 or scale.shape != (in_pad // 32, cols) or not rows <= in_pad < rows + 32:
        raise ValueError(f"tensor {q.name}: I4 {list(q.shape)} with scale {list(scale.shape)} "
                         f"does not hold {rows} input rows")
    byte = q.data.reshape(pairs, cols).astype(np.int16)
    low, high = byte & 0x0F, byte >> 4
    ints = np.empty((in_pad, cols), dtype=np.int16)
    ints[0::2] = np.where(low >= 8, low - 16, low)  # row 2p: low nibble, two's complement
    ints[1::2] = np.where(high >= 8, high - 16, high)  # row 2p+1: high nibble
    scales = np.repeat(to_float64(scale), 32, axis=0)
    return (ints.astype(np.float64) * scales)[:rows]


# ---- configuration -------------------------------------------------------------------

class Config:
    DEFAULTS = {"vocab_size": 8192, "d_model": 512, "num_heads": 8, "num_kv_heads": 4,
                "num_encoder_layers": 12, "num_decoder_layers": 8, "max_enc_len": 1024,
                "max_dec_len": 512, "rope_theta": 10000.0, "no_feedforward": True,
                "ffn_dim": 2048, "activation": "drelu"}

    def __init__(self, meta: dict[str, str]):
        for key, default in self.DEFAULTS.items():
            text = meta.get(key)
            if text is None:
                value = default
            elif isinstance(default, bool):
                if text.strip().lower() not in ("true", "false", "1", "0"):
                    raise ValueError(f"config {key}: {text!r} is not a boolean")
                value = text.strip().lower() in ("true", "1")
            elif isinstance(default, int):
                value = int(text)
            elif isinstance(default, float):
                value = float(text)
            else:
                value = text
            setattr(self, key, value)
        positive = ["vocab_size", "d_model", "num_heads", "num_kv_heads", "num_encoder_layers",
                    "num_decoder_layers", "max_enc_len", "max_dec_len"]
        for key in positive + ([] if self.no_feedforward else ["ffn_dim"]):
            if getattr(self, key) <= 0:
                raise ValueError(f"config {key}: {getattr(self, key)} must be positive")
        if self.d_model % self.num_heads:
            raise ValueError(f"config: d_model {self.d_model} not divisible by num_heads {self.num_heads}")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"config: num_heads {self.num_heads} not divisible by num_kv_heads {self.num_kv_heads}")
        if (self.d_model // self.num_heads) % 2:
            raise ValueError("config: head_dim must be even for half-split RoPE")
        if not self.no_feedforward and self.activation != "drelu":
            raise ValueError(f"config activation: {self.activation!r} (only drelu is defined)")
        self.head_dim = self.d_model // self.num_heads
        self.kv_dim = self.num_kv_heads * self.head_dim

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.DEFAULTS}


# ---- the model -----------------------------------------------------------------------

class Model:
    def __init__(self, config: Config, weights: dict[str, np.ndarray], has_head: bool):
        self.config, self.weights, self.has_head = config, weights, has_head


def expected_shapes(cfg: Config) -> dict[str, tuple]:
    """Every tensor the config calls for, projections as float [in, out], gates as ()."""
    d, hd = cfg.d_model, cfg.head_dim
    shapes = {"embedding": (cfg.vocab_size, d), "encoder_final_norm": (d,), "decoder_final_norm": (d,)}

    def attention(p):
        shapes.update({p + ".wq": (d, d), p + ".wk": (d, cfg.kv_dim), p + ".wv": (d, cfg.kv_dim),
                       p + ".wo": (d, d), p + ".q_norm": (hd,), p + ".k_norm": (hd,)})

    def feedforward(p):
        if not cfg.no_feedforward:
            f = cfg.ffn_dim
            shapes.update({p + ".ffn_gate": (), p + ".ffn_norm": (d,), p + ".ffn.gate_proj": (d, f),
                           p + ".ffn.up_proj": (d, f), p + ".ffn.down_proj": (f, d)})

    for i in range(cfg.num_encoder_layers):
        p = f"encoder.{i}"
        shapes.update({p + ".norm": (d,), p + ".self_attn_gate": ()})
        attention(p + ".self_attn")
        feedforward(p)
    for i in range(cfg.num_decoder_layers):
        p = f"decoder.{i}"
        shapes.update({p + ".self_attn_norm": (d,), p + ".cross_attn_norm": (d,),
                       p + ".self_attn_gate": (), p + ".cross_attn_gate": ()})
        attention(p + ".self_attn")
        attention(p + ".cross_attn")
        feedforward(p)
    return shapes


def load_model(path: str) -> Model:
    meta, raw = read_safetensors(path)
    cfg = Config(meta)
    weights = {}
    for name, shape in expected_shapes(cfg).items():
        t = raw.get(name)
        if t is None:
            raise ValueError(f"tensor {name}: missing")
        if t.dtype == "I4":
            scale = raw.get(name + ".scale")
            if scale is None or len(shape) != 2 or len(t.shape) != 2 or t.shape[1] != shape[1]:
                raise ValueError(f"tensor {name}: I4 {list(t.shape)} (scale "
                                 f"{'missing' if scale is None else list(scale.shape)}) for [in, out] {list(shape)}")
            weights[name] = dequantize_int4(t, scale, shape[0])
            continue
        value = to_float64(t)
        if shape == () and t.shape in ((), (1,)):
            value = value.reshape(())
        elif t.shape != shape:
            raise ValueError(f"tensor {name}: shape {list(t.shape)}, config wants {list(shape)}")
        weights[name] = value
    head = ["contrastive_hidden_kernel", "contrastive_hidden_bias", "contrastive_proj_kernel"]
    has_head = all(n in raw for n in head)
    if has_head:
        for n in head:
            weights[n] = to_float64(raw[n])
        hk, hb, pk = (weights[n] for n in head)
        if hk.ndim != 2 or hk.shape[0] != cfg.d_model or hb.shape != (hk.shape[1],) \
                or pk.ndim != 2 or pk.shape[0] != hk.shape[1]:
            raise ValueError(f"retrieval head: shapes {hk.shape}, {hb.shape}, {pk.shape} do not chain from d_model {cfg.d_model}")
    return Model(cfg, weights, has_head)


def norm(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Zero-centred RMSNorm over the last axis: (1 + g) * x / sqrt(mean(x^2) + eps)."""
    return (1.0 + g) * x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + EPS)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def rope(x: np.ndarray, theta: float) -> np.ndarray:
    """Half-split rotary embedding of x [T, heads, head_dim], position t = row index."""
    t_len, _, hd = x.shape
    half = hd // 2
    freq = theta ** (-2.0 * np.arange(half) / hd)
    angle = np.arange(t_len)[:, None] * freq[None, :]  # [T, half]
    cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def attention(m: Model, p: str, q_in: np.ndarray, kv_in: np.ndarray, causal: bool, use_rope: bool):
    cfg, w = m.config, m.weights
    hd, heads, kv_heads = cfg.head_dim, cfg.num_heads, cfg.num_kv_heads
    q = (q_in @ w[p + ".wq"]).reshape(len(q_in), heads, hd)
    k = (kv_in @ w[p + ".wk"]).reshape(len(kv_in), kv_heads, hd)
    v = (kv_in @ w[p + ".wv"]).reshape(len(kv_in), kv_heads, hd)
    q, k = norm(q, w[p + ".q_norm"]), norm(k, w[p + ".k_norm"])
    if use_rope:
        q, k = rope(q, cfg.rope_theta), rope(k, cfg.rope_theta)
    out = np.empty_like(q)
    per_kv = heads // kv_heads
    for h in range(heads):
        kvh = h // per_kv
        scores = q[:, h] @ k[:, kvh].T / math.sqrt(hd)  # [Tq, Tk]
        if causal:
            scores = np.where(np.tri(len(q_in), len(kv_in), dtype=bool), scores, -np.inf)
        probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs /= probs.sum(axis=-1, keepdims=True)
        out[:, h] = probs @ v[:, kvh]
    return out.reshape(len(q_in), heads * hd) @ w[p + ".wo"]


def feedforward(m: Model, p: str, x: np.ndarray) -> np.ndarray:
    if m.config.no_feedforward:
        return x
    w = m.weights
    h = norm(x, w[p + ".ffn_norm"])
    inner = np.maximum(h @ w[p + ".ffn.gate_proj"], 0.0) * np.maximum(h @ w[p + ".ffn.up_proj"], 0.0)
    return x + sigmoid(w[p + ".ffn_gate"]) * (inner @ w[p + ".ffn.down_proj"])


def embed_ids(m: Model, ids) -> np.ndarray:
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= m.config.vocab_size):
        raise ValueError(f"token id out of range 0..{m.config.vocab_size - 1}: {ids.tolist()}")
    return m.weights["embedding"][ids] * math.sqrt(m.config.d_model)


def encode(m: Model, ids) -> np.ndarray:
    """Encoder ids [T] -> enc [T, d] (after encoder_final_norm). One sequence: no padding."""
    w, x = m.weights, embed_ids(m, ids)
    for i in range(m.config.num_encoder_layers):
        p = f"encoder.{i}"
        x = x + sigmoid(w[p + ".self_attn_gate"]) * attention(
            m, p + ".self_attn", norm(x, w[p + ".norm"]), norm(x, w[p + ".norm"]), causal=False, use_rope=True)
        x = feedforward(m, p, x)
    return norm(x, w["encoder_final_norm"])


def decode_hidden(m: Model, enc: np.ndarray, dec_ids) -> np.ndarray:
    """Decoder ids [T] -> h [T, d] (after decoder_final_norm), the whole sequence at once."""
    w, x = m.weights, embed_ids(m, dec_ids)
    for i in range(m.config.num_decoder_layers):
        p = f"decoder.{i}"
        h = norm(x, w[p + ".self_attn_norm"])
        x = x + sigmoid(w[p + ".self_attn_gate"]) * attention(m, p + ".self_attn", h, h, causal=True, use_rope=True)
        h = norm(x, w[p + ".cross_attn_norm"])
        x = x + sigmoid(w[p + ".cross_attn_gate"]) * attention(m, p + ".cross_attn", h, enc, causal=False, use_rope=False)
        x = feedforward(m, p, x)
    return norm(x, w["decoder_final_norm"])


def next_logits(m: Model, enc: np.ndarray, dec_ids) -> np.ndarray:
    """Logits [vocab] for the token after dec_ids (tied embedding)."""
    return decode_hidden(m, enc, dec_ids)[-1] @ m.weights["embedding"].T


def greedy(m: Model, enc: np.ndarray, steps: int) -> list[dict]:
    """Unconstrained greedy decoding from the start token; one record per generated id."""
    dec, out = [START_ID], []
    while len(out) < steps and len(dec) < m.config.max_dec_len:
        logits = next_logits(m, enc, dec)
        top2 = np.sort(logits)[-2:] if logits.size > 1 else np.array([logits[0], -np.inf])
        token = int(np.argmax(logits))
        out.append({"logits": logits, "token": token, "margin": float(top2[1] - top2[0])})
        dec.append(token)
        if token == EOS_ID:
            break
    return out


def embed(m: Model, ids) -> tuple[np.ndarray, str]:
    """Retrieval embedding (section 10) of ids[:256]: the head if present, else mean pool."""
    pooled = encode(m, list(ids)[:RETRIEVAL_MAX_IDS]).mean(axis=0)
    if m.has_head:
        w = m.weights
        hidden = np.maximum(pooled @ w["contrastive_hidden_kernel"] + w["contrastive_hidden_bias"], 0.0)
        vec, kind = hidden @ w["contrastive_proj_kernel"], "head"
    else:
        vec, kind = pooled, "mean_pool"
    return vec / np.linalg.norm(vec), kind


def encoder_ids(sp, query: str, tools_json: str, max_enc_len: int) -> list[int]:
    """Section 5 step 2: query ids, the <tools> separator, then as many tool ids as fit."""
    query_ids = list(sp.encode(query))[:max_enc_len - 2]
    remaining = max_enc_len - len(query_ids) - 1
    return query_ids + [TOOLS_SEP_ID] + list(sp.encode(tools_json))[:remaining]


# ---- the JAX fixture check ------------------------------------------------------------

def _fixture_float_weights(fx: dict) -> dict[str, np.ndarray]:
    """The fixture's upstream-layout weights under the published names."""
    w, a = {}, np.asarray
    fw = fx["weights"]
    w["embedding"] = a(fw["embedding"])
    w["encoder_final_norm"] = a(fw["encoder_final_norm"])
    w["decoder_final_norm"] = a(fw["decoder_final_norm"])
    proj = {"q_proj": "wq", "k_proj": "wk", "v_proj": "wv", "out_proj": "wo", "q_norm": "q_norm", "k_norm": "k_norm"}

    def attention(prefix, layer):
        for src, dst in proj.items():
            w[f"{prefix}.{dst}"] = a(layer[src])

    for i, layer in enumerate(fw["encoder_layers"]):
        w[f"encoder.{i}.norm"] = a(layer["norm"])
        w[f"encoder.{i}.self_attn_gate"] = a(layer["self_attn_gate"])
        attention(f"encoder.{i}.self_attn", layer["self_attn"])
    for i, layer in enumerate(fw["decoder_layers"]):
        for key in ("self_attn_norm", "cross_attn_norm", "self_attn_gate", "cross_attn_gate"):
            w[f"decoder.{i}.{key}"] = a(layer[key])
        attention(f"decoder.{i}.self_attn", layer["self_attn"])
        attention(f"decoder.{i}.cross_attn", layer["cross_attn"])
    return w


def check_jax(fixture_path: str, tol: float = 1e-4) -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import make_model  # its writer and quantiser; read back with this file's reader

    fx = json.load(open(fixture_path))
    failures = []

    def close(what, got, want, tol=tol):
        err = float(np.max(np.abs(np.asarray(got, dtype=np.float64) - np.asarray(want, dtype=np.float64))))
        ok = np.shape(got) == np.shape(want) and err <= tol
        print(f"  {'ok ' if ok else 'BAD'} {what}: max |diff| {err:.3g}")
        if not ok:
            failures.append(what)

    def equal(what, got, want):
        ok = got == want
        print(f"  {'ok ' if ok else 'BAD'} {what}: {got} (want {want})")
        if not ok:
            failures.append(what)

    zc, rp = fx["zc_rms_norm"], fx["rope"]
    close("zc_rms_norm zero scale", norm(np.array(zc["x"]), np.array(zc["scale_zero"])), zc["out_zero"])
    close("zc_rms_norm non-zero scale", norm(np.array(zc["x"]), np.array(zc["scale_nonzero"])), zc["out_nonzero"])
    q = np.array(rp["q_before"])[None, None, :].repeat(2, axis=0)  # positions 0 and 1
    half = rp["head_dim"] // 2
    rotated = rope(q, 10000.0)[:, 0]
    close("rope position 0", rotated[0], rp["q_after_pos0"])
    cos1, sin1 = np.array(rp["cos_table_pos1"]), np.array(rp["sin_table_pos1"])
    x1, x2 = q[1, 0, :half], q[1, 0, half:]
    close("rope position 1 (from the fixture's tables)", rotated[1], np.concatenate([x1 * cos1 - x2 * sin1, x2 * cos1 + x1 * sin1]))

    c = fx["config"]
    meta = {k: str(c[k]) for k in ("vocab_size", "d_model", "num_heads", "num_kv_heads",
                                   "num_encoder_layers", "num_decoder_layers", "rope_theta")}
    if abs(c["embed_scale"] - math.sqrt(c["d_model"])) > 1e-6:
        failures.append("fixture embed_scale is not sqrt(d_model)")
    weights = _fixture_float_weights(fx)
    enc_ids, fwd = fx["inputs"]["enc_ids"], fx["forward"]
    start = [fx["inputs"]["dec_start_id"]]
    with tempfile.TemporaryDirectory() as tmp:
        models = {}
        for label, float_proj in (("float", True), ("int4", False)):
            path = os.path.join(tmp, label + ".safetensors")
            tensors = make_model.build_tensors(weights, "F32", float_proj, gate_rank1_odd_layers=True)
            make_model.write_safetensors(path, tensors, meta)
            models[label] = load_model(path)
    m, mq = models["float"], models["int4"]
    close("enc_embed", embed_ids(m, enc_ids), fwd["enc_embed"])
    close("dec_embed", embed_ids(m, start), fwd["dec_embed"])
    enc = encode(m, enc_ids)
    close("enc_out", enc, fwd["enc_out"])
    close("dec_out", decode_hidden(m, enc, start), fwd["dec_out"])
    logits = next_logits(m, enc, start)
    close("logits", logits, fwd["logits"])
    equal("pred_token", int(np.argmax(logits)), fwd["pred_token"])
    enc_q = encode(mq, enc_ids)
    close("enc_out_q", enc_q, fwd["enc_out_q"])
    logits_q = next_logits(mq, enc_q, start)
    close("logits_q", logits_q, fwd["logits_q"])
    equal("pred_token_q", int(np.argmax(logits_q)), fwd["pred_token_q"])
    dec = list(fx["multi_step"]["dec_tokens"][:1])
    for s, step in enumerate(fx["multi_step"]["steps"]):
        equal(f"multi_step {s} input token", dec[-1], step["input_token"])
        lg = next_logits(mq, enc_q, dec)
        top = np.argsort(-lg, kind="stable")[:5]
        equal(f"multi_step {s} top5 tokens", top.tolist(), step["top5_tokens"])
        close(f"multi_step {s} top5 logits", lg[top], step["top5_logits"])
        close(f"multi_step {s} margin", lg[top[0]] - lg[top[1]], step["margin"])
        equal(f"multi_step {s} pred", int(top[0]), step["pred_token"])
        dec.append(int(top[0]))
    equal("multi_step dec_tokens", dec, fx["multi_step"]["dec_tokens"])
    # The fixture decodes only repeated tokens, which cannot tell a causal mask from none:
    # check directly that no position reads a later one (what a KV cache relies on).
    longer, prefix = decode_hidden(mq, enc_q, [1, 7, 20, 9, 30]), decode_hidden(mq, enc_q, [1, 7])
    close("decoder self-attention is causal", longer[:2], prefix, tol=1e-12)
    if np.max(np.abs(longer[1] - decode_hidden(mq, enc_q, [1, 9])[1])) < 1e-6:
        failures.append("decoder output ignores the tokens")
    if failures:
        raise SystemExit(f"check-jax FAILED: {', '.join(failures)}")
    print("check-jax passed")


# ---- CLI -----------------------------------------------------------------------------

def _default_fixture() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "shared", "fixtures", "jax_tiny_vectors.json"))


def cmd_dump(args) -> None:
    m = load_model(args.weights)
    ids = [int(s) for s in args.enc_ids.split(",") if s.strip()]
    if not ids:
        raise SystemExit("--enc-ids: at least one id")
    enc = encode(m, ids)
    run = greedy(m, enc, args.steps)
    vec, kind = embed(m, ids)
    out = {"weights": os.path.basename(args.weights), "config": m.config.as_dict(), "enc_ids": ids,
           "enc_out": enc.tolist(),
           "steps": [{"logits": s["logits"].tolist(), "token": s["token"], "margin": s["margin"]} for s in run],
           "tokens": [s["token"] for s in run],
           "embed": {"vector": vec.tolist(), "kind": kind}}
    with open(args.out, "w") as f:
        json.dump(out, f)


def cmd_generate(args) -> None:
    import sentencepiece

    m = load_model(args.weights)
    sp = sentencepiece.SentencePieceProcessor(model_file=args.spm)
    ids = encoder_ids(sp, args.query, args.tools, m.config.max_enc_len)
    limit = m.config.max_dec_len - 1 if args.max_tokens is None else args.max_tokens
    steps = greedy(m, encode(m, ids), limit)
    tokens = [s["token"] for s in steps]
    if tokens and tokens[-1] == EOS_ID:
        tokens.pop()
    if args.margins:
        # top1 - top2 logit per step: where it is within fp32 rounding, an fp32 engine may
        # legitimately pick the other token.
        print(json.dumps({"ids": tokens, "margins": [s["margin"] for s in steps]}))
    else:
        print(json.dumps(tokens))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check-jax", action="store_true", help="assert parity with the JAX fixture")
    ap.add_argument("--fixture", default=_default_fixture())
    sub = ap.add_subparsers(dest="command")
    d = sub.add_parser("dump", help="encoder output, greedy logits and the embedding as JSON")
    d.add_argument("--weights", required=True)
    d.add_argument("--enc-ids", required=True, help="comma-separated encoder ids")
    d.add_argument("--steps", type=int, default=8)
    d.add_argument("--out", required=True)
    g = sub.add_parser("generate", help="section 5 protocol, unconstrained greedy; prints ids")
    g.add_argument("--weights", required=True)
    g.add_argument("--spm", required=True, help="SentencePiece .model")
    g.add_argument("--query", required=True)
    g.add_argument("--tools", required=True, help="tools JSON string, used as given")
    g.add_argument("--max-tokens", type=int)
    g.add_argument("--margins", action="store_true",
                   help='print {"ids": [...], "margins": [...]} (top1 - top2 logit per step)')
    args = ap.parse_args(argv)
    if args.check_jax:
        check_jax(args.fixture)
    elif args.command == "dump":
        cmd_dump(args)
    elif args.command == "generate":
        cmd_generate(args)
    else:
        ap.print_help()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
