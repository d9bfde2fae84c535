"""Export a trained train/model.py Needle to the published SafeTensors format.

Reuses scripts/make_model.py's INT4 quantiser and writer (NEEDLE.md section 9): projections
I4 + F32 scales, norms and gates F32, and the embedding in F16 (half the bytes of F32; the
only large float tensor). `check_against_reference` reads the written file back with
scripts/reference.py (the independent float64 reader and forward pass) and compares its
logits with PyTorch's, so an export or architecture bug shows up before any engine run.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import make_model  # noqa: E402  (the published-format quantiser and writer)
import reference  # noqa: E402  (float64 reader + forward pass, independent of PyTorch)

EMBEDDING_DTYPE = "F16"


def float_weights(model) -> dict[str, np.ndarray]:
    return {name: p.detach().double().numpy() for name, p in model.named_weights().items()}


def export(model, path: str, extra_meta: dict[str, str] | None = None,
           embedding_dtype: str = EMBEDDING_DTYPE, float_proj: bool = False) -> None:
    weights = float_weights(model)
    tensors = make_model.build_tensors(weights, "F32", float_proj=float_proj, gate_rank1_odd_layers=False)
    tensors["embedding"] = make_model.float_tensor(weights["embedding"], embedding_dtype)
    meta = model.cfg.metadata()
    meta.update(extra_meta or {})
    make_model.write_safetensors(path, tensors, meta)


def rounded_embedding(model, embedding_dtype: str = EMBEDDING_DTYPE) -> torch.Tensor:
    """The embedding as the exported file stores it (F16-rounded), for exact comparisons."""
    if embedding_dtype == "F16":
        return model.embedding.detach().half().float()
    return model.embedding.detach().clone()


@torch.no_grad()
def check_against_reference(model, path: str, enc_ids: list[int], dec_ids: list[int],
                            tol: float = 2e-3) -> float:
    """Max |logit difference| between PyTorch (fake-quant, stored embedding) and
    reference.py on the exported file, for every decoder position. Raises above tol."""
    ref = reference.load_model(path)
    enc = reference.encode(ref, enc_ids)
    want = reference.decode_hidden(ref, enc, dec_ids) @ ref.weights["embedding"].T

    saved_quant, saved_emb = model.fake_quant, model.embedding.data.clone()
    try:
        model.fake_quant = True
        model.embedding.data.copy_(rounded_embedding(model))
        ids = torch.tensor([enc_ids])
        keep = torch.ones_like(ids, dtype=torch.bool)
        got = model(ids, keep, torch.tensor([dec_ids]))[0].double().numpy()
    finally:
        model.fake_quant = saved_quant
        model.embedding.data.copy_(saved_emb)
    err = float(np.max(np.abs(got - want)))
    if not err <= tol:
        raise AssertionError(f"exported model disagrees with reference.py: max |logit diff| {err:.3g} > {tol}")
    return err
