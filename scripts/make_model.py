#!/usr/bin/env python3
"""Write a random-weight Needle v1 model in the published SafeTensors format.

The engine's tests need models that exercise every weight, in every dtype the published
format allows, without the real (unavailable) weights. This script makes them, and
scripts/reference.py computes what the engine must output on them.

    make_model.py --preset tiny|small|full --out FILE --seed N
                  [--vocab-size 8192] [--float-dtype f32|f16|bf16] [--ffn] [--ffn-dim N]
                  [--retrieval-head] [--retrieval-dim 128] [--float-proj]
                  [--meta KEY=VALUE ...]
    make_model.py --self-check

Format (docs/NEEDLE.md section 9): 8-byte little-endian header length, a JSON header whose
`__metadata__` holds every config key of section 2 as strings, then the raw data.
- Projections (wq wk wv wo of every attention block, FFN gate_proj/up_proj/down_proj) are
  INT4: dtype "I4", shape [in_pad/2, out], byte data[pair*out + o] = row 2*pair in the low
  nibble, row 2*pair+1 in the high nibble (two's complement -8..7), plus `<name>.scale`
  F32 [in_pad/32, out]. in_pad = in rounded up to 32; pad rows quantise to 0.
  With --float-proj they are F32 [in, out] instead.
- Norms, gates, embedding and the retrieval head are in --float-dtype (bf16 is rounded to
  nearest even). Gates are shape []; with an odd --seed the gates of odd-numbered layers
  are shape [1] instead, since readers must accept both.
- FFN (--ffn): no_feedforward "false", activation drelu, ffn_dim 4*d (tiny: 4*d-16 = 112,
  not a multiple of 32, so down_proj has zero pad rows). Tensors are
  `encoder.{i}.ffn_gate`, `encoder.{i}.ffn_norm`, `encoder.{i}.ffn.gate_proj` ... with the
  full `encoder`/`decoder` prefix of every other layer tensor (section 9 of NEEDLE.md
  abbreviates it as `{enc|dec}`).
- Tensors are laid out I4 first, then F32, then 16-bit, so every tensor's offset is a
  multiple of its element size (I4 blocks are multiples of 16 bytes).

Quantisation matches the upstream reference (checked in --self-check against
jax_tiny_vectors.json): per 32-row group and output column, scale = max|w| / 7 in float32
(at least 1e-8), q = clip(round_half_even(w / scale), -8, 7).

--meta KEY=VALUE is written into `__metadata__` verbatim after the config, without changing
any tensor: use it to add unknown keys or to make deliberately inconsistent files.

The weights are random but chosen so that activations stay O(1) and greedy decoding gives
varied tokens; --self-check verifies that with reference.py. Same seed, same bytes.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import tempfile

import numpy as np

GROUP = 32  # input rows per INT4 scale

PRESETS = {
    # name: (d_model, num_heads, num_kv_heads, encoder layers, decoder layers)
    "tiny": (32, 4, 2, 2, 2),
    "small": (128, 4, 2, 3, 2),
    "full": (512, 8, 4, 12, 8),  # the released architecture
}

FLOAT_DTYPES = {"f32": "F32", "f16": "F16", "bf16": "BF16"}


# ---- numeric encodings ---------------------------------------------------------------

def bf16_bits(x) -> np.ndarray:
    """float -> bfloat16 bit patterns (uint16), rounding to nearest, ties to even."""
    f32 = np.asarray(x, dtype=np.float32)
    if not np.all(np.isfinite(f32)):
        raise ValueError("bf16_bits: non-finite input")
    bits = f32.view(np.uint32).astype(np.uint64)
    # Adding 0x7FFF plus the lowest kept bit rounds the dropped 16 bits half-to-even.
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def quantize_int4(w) -> tuple[np.ndarray, np.ndarray]:
    """[in, out] float -> (q int8 [in_pad, out] in -8..7, scale float32 [in_pad/32, out]).

    The upstream rule: symmetric, one scale per 32 input rows per output column,
    scale = max|w| / 7 (floored at 1e-8 so an all-zero group stays zero), computed and
    divided in float32, rounded half to even, clipped to the signed 4-bit range.
    """
    w = np.asarray(w, dtype=np.float32)
    rows, cols = w.shape
    in_pad = -(-rows // GROUP) * GROUP
    padded = np.zeros((in_pad, cols), dtype=np.float32)
    padded[:rows] = w
    groups = padded.reshape(in_pad // GROUP, GROUP, cols)
    scale = np.max(np.abs(groups), axis=1) / np.float32(7.0)
    scale = np.maximum(scale, np.float32(1e-8)).astype(np.float32)
    q = np.clip(np.rint(groups / scale[:, None, :]), -8, 7).astype(np.int8)
    return q.reshape(in_pad, cols), scale


def pack_int4(q: np.ndarray) -> np.ndarray:
    """q int8 [in_pad, out] -> bytes [in_pad/2, out]: row 2p in the low nibble, 2p+1 high."""
    if q.shape[0] % 2:
        raise ValueError("pack_int4: odd row count")
    low = q[0::2].astype(np.uint8) & 0x0F
    high = q[1::2].astype(np.uint8) & 0x0F
    return (low | (high << 4)).astype(np.uint8)


# ---- the SafeTensors writer ----------------------------------------------------------

class Tensor:
    """One tensor to write: published dtype name, shape, raw little-endian bytes."""

    def __init__(self, dtype: str, shape, data: bytes):
        self.dtype, self.shape, self.data = dtype, [int(s) for s in shape], data


def float_tensor(values, dtype: str, shape=None) -> Tensor:
    arr = np.asarray(values, dtype=np.float64)
    shape = list(arr.shape) if shape is None else shape
    if dtype == "F32":
        raw = arr.astype("<f4").tobytes()
    elif dtype == "F16":
        raw = arr.astype("<f2").tobytes()
    elif dtype == "BF16":
        raw = bf16_bits(arr).astype("<u2").tobytes()
    else:
        raise ValueError(f"float_tensor: unknown dtype {dtype}")
    return Tensor(dtype, shape, raw)


def projection_tensors(name: str, w, float_proj: bool) -> dict[str, Tensor]:
    """A projection matrix [in, out] as I4 + scale, or as plain F32 with float_proj."""
    w = np.asarray(w)
    if float_proj:
        return {name: float_tensor(w, "F32")}
    q, scale = quantize_int4(w)
    packed = pack_int4(q)
    return {name: Tensor("I4", packed.shape, packed.tobytes()),
            name + ".scale": Tensor("F32", scale.shape, scale.astype("<f4").tobytes())}


_LAYOUT_ORDER = {"I4": 0, "F32": 1, "F16": 2, "BF16": 2}


def write_safetensors(path: str, tensors: dict[str, Tensor], metadata: dict[str, str]) -> None:
    # I4 first (sizes are multiples of 16), then 4-byte, then 2-byte elements: every
    # tensor then starts at a multiple of its element size. The sort is stable, so the
    # caller's order is kept within a class and the output is deterministic.
    names = sorted(tensors, key=lambda n: _LAYOUT_ORDER[tensors[n].dtype])
    header: dict = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    offset = 0
    for name in names:
        t = tensors[name]
        header[name] = {"dtype": t.dtype, "shape": t.shape,
                        "data_offsets": [offset, offset + len(t.data)]}
        offset += len(t.data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # data starts 8-byte aligned, as safetensors does
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name in names:
            f.write(tensors[name].data)
    os.replace(tmp, path)  # never leave a half-written model where a build expects one


# ---- the model -----------------------------------------------------------------------

def make_config(preset: str, vocab_size: int, ffn: bool, ffn_dim: int | None) -> dict:
    d, heads, kv_heads, n_enc, n_dec = PRESETS[preset]
    if ffn_dim is None:
        # tiny uses a width that is not a multiple of 32, so down_proj has pad rows.
        ffn_dim = 4 * d - 16 if preset == "tiny" else 4 * d
    return {
        "vocab_size": vocab_size, "d_model": d, "num_heads": heads, "num_kv_heads": kv_heads,
        "num_encoder_layers": n_enc, "num_decoder_layers": n_dec,
        "max_enc_len": 1024, "max_dec_len": 512, "rope_theta": 10000.0,
        "no_feedforward": not ffn, "ffn_dim": ffn_dim, "activation": "drelu",
    }


def config_metadata(cfg: dict) -> dict[str, str]:
    meta = {}
    for key, value in cfg.items():
        if isinstance(value, bool):
            meta[key] = "true" if value else "false"
        else:
            meta[key] = str(value)
    return meta


def random_float_weights(cfg: dict, seed: int, retrieval_dim: int | None) -> dict[str, np.ndarray]:
    """Every weight of the model as float64 [in, out] / vectors / scalars, in a fixed order.

    Random weights make a degenerate decoder by default: tied logits favour repeating the
    current token, and the constant cross-attention term makes every step pick the same
    id. The scales below (tuned with --self-check's measurements) avoid both:
    - x = E[id]*sqrt(d) has RMS 0.5, so the token's own embedding does not dominate;
    - projections are N(0, 1/in); the decoder self-attention's wo has gain 4, so the
      decoded prefix moves the output more than the (fixed) encoder does, while the
      cross-attention (gain 1) still makes different inputs decode differently;
    - q_norm/k_norm are N(1, 0.3): (1 + g) ~ 2 sharpens attention;
    - decoder_final_norm is N(-1, 1): (1 + g) has random signs, which removes the
      positive bias of a token's logit towards itself and gives logits of about +-3;
    - other norms N(0, 0.3), gates N(0, 1): far enough from their initial zeros that a
      wrong norm or gate formula changes the output.
    """
    rng = np.random.default_rng(seed)
    d, v = cfg["d_model"], cfg["vocab_size"]
    head_dim = d // cfg["num_heads"]
    kv_dim = cfg["num_kv_heads"] * head_dim
    w: dict[str, np.ndarray] = {}

    def mat(name, rows, cols, gain=1.0):
        w[name] = rng.normal(0.0, gain / np.sqrt(rows), size=(rows, cols))

    def norm(name, size, mean=0.0, std=0.3):
        w[name] = rng.normal(mean, std, size=size)

    def gate(name):
        w[name] = np.array(rng.normal(0.0, 1.0))

    def attention(prefix, out_gain):
        mat(prefix + ".wq", d, d)
        mat(prefix + ".wk", d, kv_dim)
        mat(prefix + ".wv", d, kv_dim)
        mat(prefix + ".wo", d, d, gain=out_gain)
        norm(prefix + ".q_norm", head_dim, mean=1.0)
        norm(prefix + ".k_norm", head_dim, mean=1.0)

    def feedforward(prefix):
        gate(prefix + ".ffn_gate")
        norm(prefix + ".ffn_norm", d)
        mat(prefix + ".ffn.gate_proj", d, cfg["ffn_dim"])
        mat(prefix + ".ffn.up_proj", d, cfg["ffn_dim"])
        mat(prefix + ".ffn.down_proj", cfg["ffn_dim"], d, gain=2.0)

    w["embedding"] = rng.normal(0.0, 0.5 / np.sqrt(d), size=(v, d))
    norm("encoder_final_norm", d)
    norm("decoder_final_norm", d, mean=-1.0, std=1.0)
    for i in range(cfg["num_encoder_layers"]):
        p = f"encoder.{i}"
        norm(p + ".norm", d)
        gate(p + ".self_attn_gate")
        attention(p + ".self_attn", out_gain=1.0)
        if not cfg["no_feedforward"]:
            feedforward(p)
    for i in range(cfg["num_decoder_layers"]):
        p = f"decoder.{i}"
        norm(p + ".self_attn_norm", d)
        norm(p + ".cross_attn_norm", d)
        gate(p + ".self_attn_gate")
        gate(p + ".cross_attn_gate")
        attention(p + ".self_attn", out_gain=4.0)
        attention(p + ".cross_attn", out_gain=1.0)
        if not cfg["no_feedforward"]:
            feedforward(p)
    if retrieval_dim:
        hidden = d // 4
        mat("contrastive_hidden_kernel", d, hidden)
        w["contrastive_hidden_bias"] = rng.normal(0.0, 0.3, size=hidden)
        mat("contrastive_proj_kernel", hidden, retrieval_dim)
    return w


_PROJECTION_SUFFIXES = (".wq", ".wk", ".wv", ".wo", ".gate_proj", ".up_proj", ".down_proj")


def is_projection(name: str) -> bool:
    return name.endswith(_PROJECTION_SUFFIXES)


def is_gate(name: str) -> bool:
    return name.endswith("_gate") and "." in name


def layer_index(name: str) -> int:
    return int(name.split(".")[1])


def build_tensors(weights: dict[str, np.ndarray], float_dtype: str, float_proj: bool,
                  gate_rank1_odd_layers: bool, embedding_dtype: str | None = None) -> dict[str, Tensor]:
    """Float weights -> published tensors (quantising projections unless float_proj).
    embedding_dtype overrides float_dtype for the embedding (the published files: BF16)."""
    out: dict[str, Tensor] = {}
    for name, value in weights.items():
        if name == "embedding" and embedding_dtype is not None:
            out[name] = float_tensor(value, embedding_dtype)
        elif is_projection(name):
            out.update(projection_tensors(name, value, float_proj))
        elif is_gate(name):
            rank1 = gate_rank1_odd_layers and layer_index(name) % 2 == 1
            out[name] = float_tensor(np.reshape(value, -1), float_dtype, [1] if rank1 else [])
        else:
            out[name] = float_tensor(value, float_dtype)
    return out


def make_model(preset: str, seed: int, vocab_size: int = 8192, float_dtype: str = "f32",
               ffn: bool = False, ffn_dim: int | None = None, retrieval_dim: int | None = None,
               float_proj: bool = False, extra_meta: dict[str, str] | None = None,
               embedding_dtype: str | None = None):
    """-> (tensors, metadata) for write_safetensors."""
    if vocab_size < 6:
        raise ValueError(f"vocab_size {vocab_size} is below the 6 special tokens")
    cfg = make_config(preset, vocab_size, ffn, ffn_dim)
    weights = random_float_weights(cfg, seed, retrieval_dim)
    tensors = build_tensors(weights, FLOAT_DTYPES[float_dtype], float_proj,
                            gate_rank1_odd_layers=seed % 2 == 1,
                            embedding_dtype=FLOAT_DTYPES[embedding_dtype] if embedding_dtype else None)
    meta = config_metadata(cfg)
    meta["needle_test_model"] = f"make_model.py preset={preset} seed={seed}"
    meta.update(extra_meta or {})
    return tensors, meta


# ---- self-check ----------------------------------------------------------------------

def _fixture_path() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "shared", "fixtures", "jax_tiny_vectors.json"))


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)
    print(f"  ok  {what}")


def self_check() -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import reference  # the independent reader and float64 forward pass

    print("quantisation vs the upstream fixture")
    fx = json.load(open(_fixture_path()))["quantization"]
    q, scale = quantize_int4(np.array(fx["w"]))
    _check(np.array_equal(scale, np.array(fx["scales"], dtype=np.float32)),
           "scales equal the fixture's bit for bit (float32 max|w|/7)")
    _check(np.array_equal(q, np.array(fx["w_quantized_int"])), "quantised ints equal the fixture's")
    # Rounding half to even and clipping, on hand-made groups (column 0 sets scale = 1).
    w = np.zeros((32, 3))
    w[0] = [7.0, 7.0, 0.0]
    w[1:5, 0] = [2.5, 3.5, -2.5, -0.5]
    w[1, 1] = -8.4  # |w| max 8.4 -> scale 1.2; -8.4/1.2 = -7 exactly
    q, scale = quantize_int4(w)
    _check(list(q[1:5, 0]) == [2, 4, -2, 0], "ties round half to even (2.5->2, 3.5->4, -0.5->0)")
    _check(q[1, 1] == -7 and q[0, 1] == 6 and np.all(q[:, 2] == 0) and scale[0, 2] == np.float32(1e-8),
           "symmetric scale, zero column stays zero with the 1e-8 floor")

    print("INT4 packing and the file format, read back by reference.py")
    rng = np.random.default_rng(0)
    w = rng.normal(size=(45, 5))  # 45 rows: in_pad 64, two groups, 19 pad rows
    q, scale = quantize_int4(w)
    packed = pack_int4(q)
    _check(packed[0, 0] == ((q[0, 0] & 0xF) | ((q[1, 0] & 0xF) << 4)), "row 2p low nibble, 2p+1 high")
    tensors = {"m": Tensor("I4", packed.shape, packed.tobytes()),
               "m.scale": Tensor("F32", scale.shape, scale.tobytes()),
               "b": float_tensor([1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, 1.0 + 2 ** -8 + 2 ** -20, -3.0], "BF16"),
               "h": float_tensor([0.1, -65504.0], "F16"),
               "g0": float_tensor([0.5], "F32", []), "g1": float_tensor([0.5], "BF16", [1])}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fmt.safetensors")
        write_safetensors(path, tensors, {"k": "v"})
        meta, raw = reference.read_safetensors(path)
    _check(meta == {"k": "v"}, "metadata round-trips")
    deq = reference.dequantize_int4(raw["m"], raw["m.scale"], 45)
    _check(deq.shape == (45, 5) and np.array_equal(deq, q[:45].astype(np.float64) * scale.repeat(32, 0)[:45]),
           "reference dequantises the packed file to q*scale exactly")
    _check(np.abs(deq - w).max() <= scale.max() / 2 + 1e-6, "dequantised weights within half a step")
    _check(list(reference.to_float64(raw["b"])) == [1.0, 1.0 + 2 ** -6, 1.0 + 2 ** -7, -3.0],
           "bf16 rounds to nearest even")
    _check(list(reference.to_float64(raw["h"])) == [float(np.float16(0.1)), -65504.0], "f16 values")
    _check(raw["g0"].shape == () and raw["g1"].shape == (1,), "gates of shape [] and [1]")

    print("determinism")
    a, meta_a = make_model("tiny", 11)
    b, _ = make_model("tiny", 11)
    c, _ = make_model("tiny", 12)
    _check(all(a[n].data == b[n].data for n in a) and meta_a["d_model"] == "32", "same seed, same bytes")
    _check(a["embedding"].data != c["embedding"].data, "another seed, other weights")

    print("non-degenerate outputs (reference.py greedy decoding)")
    # The models scripts/testdata.cmake builds, plus a small one with everything on.
    variants = [("tiny", dict(seed=1)), ("tiny", dict(seed=2, float_dtype="bf16")),
                ("tiny", dict(seed=3, float_dtype="f16")), ("tiny", dict(seed=4, ffn=True)),
                ("tiny", dict(seed=5, retrieval_dim=128)), ("tiny", dict(seed=6, float_proj=True)),
                ("small", dict(seed=8, ffn=True, retrieval_dim=64)), ("full", dict(seed=7))]
    draw = np.random.default_rng(99)
    inputs = [[5, 9, 13], [300, 1200, 77, 5, 4000, 18, 2], [7000, 262, 263, 264, 265, 8000, 12, 9, 31]]
    inputs += [draw.integers(6, 8192, size=n).tolist() for n in (4, 11, 20)]
    with tempfile.TemporaryDirectory() as tmp:
        for preset, kw in variants:
            tensors, meta = make_model(preset, **kw)
            path = os.path.join(tmp, "m.safetensors")
            write_safetensors(path, tensors, meta)
            model = reference.load_model(path)
            label = f"{preset} {kw}"
            zero = [n for n, t in model.weights.items() if not np.any(t)]
            _check(not zero, f"{label}: every tensor has non-zero values {zero or ''}")
            # A random decoder sometimes locks onto one token; it must not do so usually.
            steps, n_inputs = (5, 3) if preset == "full" else (12, len(inputs))
            runs, worst_logit, worst_enc = [], 0.0, 0.0
            for ids in inputs[:n_inputs]:
                enc = reference.encode(model, ids)
                run = reference.greedy(model, enc, steps)
                runs.append([s["token"] for s in run])
                worst_logit = max(worst_logit, max(np.abs(s["logits"]).max() for s in run))
                worst_enc = max(worst_enc, np.abs(enc).max())
            for ids, tokens in zip(inputs, runs):
                print(f"      {ids[:4]}{'...' if len(ids) > 4 else ''} -> {tokens}")
            stuck = sum(len(set(t)) == 1 for t in runs)
            _check(stuck <= n_inputs // 3, f"{label}: {stuck} of {n_inputs} runs repeat one token")
            _check(any(t[0] != 1 for t in runs), f"{label}: not EOS at step 1 every time")
            _check(len({t for r in runs for t in r}) >= 2 * n_inputs, f"{label}: many distinct tokens")
            _check(len({tuple(r[:3]) for r in runs}) >= n_inputs // 2,
                   f"{label}: the encoder input changes the decoded tokens")
            _check(0.5 < worst_logit < 50 and worst_enc < 20,
                   f"{label}: O(1) activations (max |logit| {worst_logit:.2f}, max |enc| {worst_enc:.2f})")
            emb, kind = reference.embed(model, inputs[0])
            want = "head" if kw.get("retrieval_dim") else "mean_pool"
            _check(kind == want and abs(np.linalg.norm(emb) - 1) < 1e-9, f"{label}: embedding via {kind}")
    print("self-check passed")


# ---- CLI -----------------------------------------------------------------------------

def parse_meta(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--meta expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS))
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--vocab-size", type=int, default=8192)
    ap.add_argument("--float-dtype", choices=sorted(FLOAT_DTYPES), default="f32")
    ap.add_argument("--ffn", action="store_true", help="add the feed-forward blocks (drelu)")
    ap.add_argument("--ffn-dim", type=int, help="FFN width (default 4*d, tiny 4*d-16)")
    ap.add_argument("--retrieval-head", action="store_true")
    ap.add_argument("--retrieval-dim", type=int, default=128, help="retrieval embedding size c")
    ap.add_argument("--float-proj", action="store_true", help="F32 projections instead of I4")
    ap.add_argument("--embedding-dtype", choices=sorted(FLOAT_DTYPES),
                    help="dtype of the embedding alone (default: --float-dtype; the published "
                         "files use bf16)")
    ap.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--self-check", action="store_true")
    args = ap.parse_args(argv)
    if args.self_check:
        self_check()
        return 0
    if args.preset is None or args.out is None or args.seed is None:
        ap.error("--preset, --out and --seed are required (or --self-check)")
    tensors, meta = make_model(args.preset, args.seed, args.vocab_size, args.float_dtype,
                               args.ffn, args.ffn_dim,
                               args.retrieval_dim if args.retrieval_head else None,
                               args.float_proj, parse_meta(args.meta), args.embedding_dtype)
    write_safetensors(args.out, tensors, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
