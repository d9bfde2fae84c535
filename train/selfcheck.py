#!/usr/bin/env python3
"""Checks that train/model.py computes NEEDLE.md's forward pass and that export is lossless
apart from the INT4/F16 rounding the engine also sees.

    /usr/bin/python3 train/selfcheck.py

1. Random models (norms and gates far from their zero init, so a wrong norm or gate formula
   shows; with and without FFN) are exported and read back by scripts/reference.py, the
   independent float64 implementation: the logits of every decoder position must agree.
2. Padding: a batch with padded encoder and decoder rows gives the same logits as each
   sequence alone.
3. fake_quant_int4 equals make_model.quantize_int4's dequantised value exactly.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export  # noqa: E402
from model import Config, Needle, fake_quant_int4  # noqa: E402


def perturbed(cfg: Config, seed: int) -> Needle:
    torch.manual_seed(seed)
    model = Needle(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("norm", "_gate")):
                p.normal_(0.0, 0.5)
    return model


def check_reference(ffn: bool) -> None:
    cfg = Config(vocab_size=300, d_model=64, num_heads=4, num_kv_heads=2, num_encoder_layers=2,
                 num_decoder_layers=2, no_feedforward=not ffn, ffn_dim=80)
    model = perturbed(cfg, 3 if ffn else 2)
    rng = np.random.default_rng(1)
    enc_ids = rng.integers(0, cfg.vocab_size, 37).tolist()
    dec_ids = [1, 4] + rng.integers(0, cfg.vocab_size, 9).tolist()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.safetensors")
        export.export(model, path)
        err = export.check_against_reference(model, path, enc_ids, dec_ids, tol=1e-3)
    print(f"  ok  export + reference.py logits agree ({'FFN' if ffn else 'no FFN'}): max |diff| {err:.2e}")


@torch.no_grad()
def check_padding() -> None:
    cfg = Config(vocab_size=300, d_model=64, num_heads=4, num_kv_heads=2, num_encoder_layers=2,
                 num_decoder_layers=2)
    model = perturbed(cfg, 4)
    a_enc, b_enc = [7, 8, 9, 10, 11, 12], [20, 21, 22]
    a_dec, b_dec = [1, 4, 30, 31], [1, 4]
    enc = torch.tensor([a_enc, b_enc + [0] * 3])
    keep = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    dec = torch.tensor([a_dec, b_dec + [0] * 2])
    batched = model(enc, keep, dec)
    alone_a = model(torch.tensor([a_enc]), torch.ones(1, 6, dtype=torch.bool), torch.tensor([a_dec]))
    alone_b = model(torch.tensor([b_enc]), torch.ones(1, 3, dtype=torch.bool), torch.tensor([b_dec]))
    err = max(float((batched[0] - alone_a[0]).abs().max()), float((batched[1, :2] - alone_b[0]).abs().max()))
    assert err < 1e-4, f"padding changes the logits by {err}"
    print(f"  ok  padded batch equals sequences alone: max |diff| {err:.2e}")


def check_fake_quant() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import make_model
    w = torch.randn(70, 24)  # 70 rows: not a multiple of 32, so padding is exercised
    w[3, 5] = 0.0
    q, scale = make_model.quantize_int4(w.numpy())
    want = (q.astype(np.float32) * np.repeat(scale, 32, axis=0))[:70]
    got = fake_quant_int4(w).numpy()
    assert np.array_equal(got, want), f"fake quant differs by {np.abs(got - want).max()}"
    print("  ok  fake_quant_int4 equals make_model.quantize_int4 exactly")


def main() -> int:
    torch.set_num_threads(1)
    check_fake_quant()
    check_padding()
    check_reference(ffn=False)
    check_reference(ffn=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
