#!/usr/bin/env python3
"""Train the tiny Needle model and export it in the published format.

    /usr/bin/python3 train/train.py --out models/needle-tiny            # the committed model
    /usr/bin/python3 train/train.py --out /tmp/x --steps 300 --threads 1   # a quick try

Steps: (1) a SentencePiece tokenizer (train/tokenizer.py) into OUT; (2) generated training
examples (train/data.py, seed --seed), minus any whose query and tools equal a held-out
example's (train/evaluate.py's set, seed HELD_OUT_SEED), tokenised exactly as the engine
does (NEEDLE.md section 5: encoder = query ids, <tools>, tools ids; decoder = 1, 4, answer
ids; targets = 4, answer ids, 1); (3) AdamW with warm-up and cosine decay, INT4
fake-quantised projections for the last --qat-fraction of the steps; (4) export to
OUT/needle.safetensors, checked against scripts/reference.py. Everything is seeded: the
same arguments and thread count give the same bytes.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

# torch's own threads do the parallel work; a multi-threaded BLAS underneath them only
# oversubscribes the cores (measured: 2.4x slower on 2 cores). Set before torch loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import data  # noqa: E402
from data import HELD_OUT_COUNT, HELD_OUT_SEED  # noqa: E402
import export  # noqa: E402
import tokenizer as tok  # noqa: E402
from model import Config, Needle  # noqa: E402

TOOLS_ID, TOOL_CALL_ID, EOS_ID, PAD_ID = 5, 4, 1, 0
DECISION_POS = 2
TRAIN_MAX_ENC = 800  # longer generated examples are dropped (about 0.1 %)


def example_key(ex: dict) -> str:
    return ex["query"] + "\x00" + data.dumps(ex["tools"])


def held_out_keys() -> set[str]:
    return {example_key(ex) for ex in data.examples(HELD_OUT_SEED, HELD_OUT_COUNT)}


def encode_example(sp, ex: dict, max_enc_len: int) -> tuple[list[int], list[int]]:
    """-> (encoder ids, target ids) as NEEDLE.md section 5 builds them."""
    q = sp.encode(ex["query"])[: max_enc_len - 2]
    remaining = max_enc_len - len(q) - 1
    enc = q + [TOOLS_ID] + sp.encode(data.dumps(ex["tools"]))[:remaining]
    target = [TOOL_CALL_ID] + sp.encode(data.answer_text(ex["answer"])) + [EOS_ID]
    return enc, target


class Batches:
    """Length-bucketed batches: sort windows of examples by encoder length, cut into
    batches of at most `tokens` padded encoder tokens, shuffle the batches."""

    def __init__(self, encoded: list[tuple[list[int], list[int]]], tokens: int, seed: int,
                 decision_weight: float = 1.0):
        self.encoded, self.tokens, self.decision_weight = encoded, tokens, decision_weight
        self.rng = random.Random(seed)

    def epoch(self):
        order = list(range(len(self.encoded)))
        self.rng.shuffle(order)
        batches = []
        window = 4096
        for start in range(0, len(order), window):
            chunk = sorted(order[start:start + window], key=lambda i: len(self.encoded[i][0]))
            batch, longest = [], 0
            for i in chunk:
                n = len(self.encoded[i][0])
                if batch and max(longest, n) * (len(batch) + 1) > self.tokens:
                    batches.append(batch)
                    batch, longest = [], 0
                batch.append(i)
                longest = max(longest, n)
            if batch:
                batches.append(batch)
        self.rng.shuffle(batches)
        return batches

    def tensors(self, batch: list[int]):
        encs = [self.encoded[i][0] for i in batch]
        tgts = [self.encoded[i][1] for i in batch]
        te, td = max(map(len, encs)), max(map(len, tgts))
        enc = torch.full((len(batch), te), PAD_ID, dtype=torch.long)
        keep = torch.zeros((len(batch), te), dtype=torch.bool)
        dec_in = torch.full((len(batch), td), PAD_ID, dtype=torch.long)
        target = torch.full((len(batch), td), -100, dtype=torch.long)
        weight = torch.ones((len(batch), td))
        # target = <tool_call> "▁" then the piece that decides between `[]` and a call.
        weight[:, DECISION_POS] = self.decision_weight
        for r, (e, t) in enumerate(zip(encs, tgts)):
            enc[r, :len(e)] = torch.tensor(e)
            keep[r, :len(e)] = True
            dec_in[r, :len(t)] = torch.tensor([EOS_ID] + t[:-1])  # the decoder starts from 1
            target[r, :len(t)] = torch.tensor(t)
        return enc, keep, dec_in, target, weight


@torch.no_grad()
def greedy(model: Needle, encoded: list[tuple[list[int], list[int]]], max_new: int = 96) -> list[list[int]]:
    """Unconstrained batched greedy decoding (no KV cache: the decoder reruns each step)."""
    model.eval()
    outs = []
    for s in range(0, len(encoded), 32):
        chunk = encoded[s:s + 32]
        te = max(len(e) for e, _ in chunk)
        enc = torch.full((len(chunk), te), PAD_ID, dtype=torch.long)
        keep = torch.zeros((len(chunk), te), dtype=torch.bool)
        for r, (e, _) in enumerate(chunk):
            enc[r, :len(e)] = torch.tensor(e)
            keep[r, :len(e)] = True
        memory = model.encode(enc, keep)
        dec = torch.full((len(chunk), 1), EOS_ID, dtype=torch.long)
        done = torch.zeros(len(chunk), dtype=torch.bool)
        for _ in range(max_new):
            nxt = model.decode(memory, keep, dec, last_only=True).argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, PAD_ID), nxt)
            dec = torch.cat([dec, nxt[:, None]], dim=1)
            done |= nxt == EOS_ID
            if bool(done.all()):
                break
        for row in dec.tolist():
            ids = row[1:]
            outs.append(ids[:ids.index(EOS_ID) + 1] if EOS_ID in ids else ids)
    model.train()
    return outs


def matmul_gflops() -> float:
    """Single-thread fp32 matmul speed: tells the reference BLAS (~3 GFLOP/s) from
    OpenBLAS (tens), which decides whether training takes 45 minutes or many hours."""
    a, b = torch.randn(256, 256), torch.randn(256, 256)
    a @ b
    t = time.perf_counter()
    for _ in range(20):
        a @ b
    return 20 * 2 * 256 ** 3 / (time.perf_counter() - t) / 1e9


def cpu_has_bf16() -> bool:
    """Native bfloat16 dot products (AVX512-BF16 or AMX). With them autocast runs a
    training step 1.8x faster than float32 (0.48 against 0.85 s, AMD EPYC); without them
    oneDNN has no native bfloat16 kernel, so training stays float32 (not measured)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def lr_at(step: int, steps: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seed", type=int, default=data.TRAIN_SEED)
    ap.add_argument("--procs", type=int, default=2, help="data-parallel processes")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--examples", type=int, default=data.TRAIN_EXAMPLES, help="generated training examples")
    ap.add_argument("--batch-tokens", type=int, default=8192, help="padded encoder tokens per batch")
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--qat-fraction", type=float, default=0.2)
    ap.add_argument("--decision-weight", type=float, default=4.0,
                    help="loss weight of the first answer token: `[]` (nothing fits) or a call")
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--enc-layers", type=int, default=4)
    ap.add_argument("--dec-layers", type=int, default=4)
    ap.add_argument("--ffn-dim", type=int, default=0, help="0: no FFN (Needle's architecture)")
    ap.add_argument("--eval-every", type=int, default=0, help="0: evaluate at the end only (each costs ~80 s)")
    ap.add_argument("--bf16", choices=["auto", "on", "off"], default="auto",
                    help="bfloat16 matmuls (torch.autocast); auto: on when the CPU has AVX512-BF16 or AMX")
    ap.add_argument("--export-float", help="also write a copy with F32 projections here")
    ap.add_argument("--reuse-tokenizer", action="store_true", help="keep OUT's tokenizer if present")
    args = ap.parse_args()

    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    if not (args.reuse_tokenizer and (args.out / "needle.model").exists()):
        tok.build(args.out, args.vocab_size, seed=args.seed + 6)
    if args.procs == 1:
        worker(0, args)
    else:
        # Data parallel over processes, one thread each: on 2 cores this beats 2 threads in
        # one process (measured ~1.3x), whose many small ops scale poorly.
        import torch.multiprocessing as mp
        with tempfile.TemporaryDirectory() as rendezvous:
            args.rendezvous = os.path.join(rendezvous, "store")
            mp.spawn(worker, args=(args,), nprocs=args.procs, join=True)
    return 0


def worker(rank: int, args) -> None:
    """One training process. Every process builds the same data, model and batch order from
    the seed; each takes every procs-th example of each batch, and gradients are summed
    across processes, so the update is the full batch's. Rank 0 logs, evaluates, exports."""
    t_start = time.time()
    world = args.procs
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group("gloo", init_method=f"file://{args.rendezvous}", rank=rank, world_size=world)
    out = args.out
    log_file = open(out / "train_log.txt", "w", encoding="utf-8") if rank == 0 else None

    def log(msg: str) -> None:
        if rank != 0:
            return
        line = f"[{time.time() - t_start:7.1f}s] {msg}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    log(f"args {json.dumps({k: str(v) for k, v in vars(args).items() if k != 'rendezvous'})}")
    bf16 = args.bf16 == "on" or (args.bf16 == "auto" and cpu_has_bf16())
    log(f"matmuls in {'bfloat16 (autocast)' if bf16 else 'float32'}")
    gflops = matmul_gflops()
    log(f"matmul speed {gflops:.1f} GFLOP/s per thread")
    if gflops < 10:
        log("WARNING: torch is on a slow BLAS (Debian's reference libblas?). Install OpenBLAS "
            "(apt-get install libopenblas0-pthread) or point LD_LIBRARY_PATH at its directory; "
            "see train/README.md")
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(out / "needle.model"))
    log(f"tokenizer: {sp.get_piece_size()} pieces")

    cfg = Config(vocab_size=args.vocab_size, d_model=args.d_model, num_heads=args.heads,
                 num_kv_heads=args.kv_heads, num_encoder_layers=args.enc_layers,
                 num_decoder_layers=args.dec_layers, no_feedforward=args.ffn_dim == 0,
                 ffn_dim=args.ffn_dim or 512)

    held = held_out_keys()
    encoded, skipped_held, skipped_long = [], 0, 0
    for ex in data.examples(args.seed, args.examples, data.TRAIN_NONE_SHARE):
        if example_key(ex) in held:
            skipped_held += 1
            continue
        enc, target = encode_example(sp, ex, cfg.max_enc_len)
        if len(enc) > TRAIN_MAX_ENC:
            skipped_long += 1
            continue
        encoded.append((enc, target))
    log(f"data: {len(encoded)} examples ({skipped_held} equal to held-out ones and {skipped_long} "
        f"longer than {TRAIN_MAX_ENC} dropped), mean encoder length "
        f"{np.mean([len(e) for e, _ in encoded]):.0f}")
    # A small validation set from the held-out generator, for progress only.
    val = [encode_example(sp, ex, cfg.max_enc_len) for ex in data.examples(HELD_OUT_SEED, 200)]

    model = Needle(cfg)
    params = list(model.parameters())
    log(f"model: {json.dumps(cfg.metadata())}, {sum(p.numel() for p in params)} parameters")
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-8)
    for p in params:  # every process sends a gradient, even one whose share is empty
        p.grad = torch.zeros_like(p)
    batches = Batches(encoded, args.batch_tokens, args.seed, args.decision_weight)
    qat_start = int(args.steps * (1 - args.qat_fraction))
    step, epoch, loss_avg, tok_count = 0, 0, None, 0
    t_train = time.time()
    while step < args.steps:
        for batch in batches.epoch():
            if step >= args.steps:
                break
            if step == qat_start and args.qat_fraction > 0:
                model.fake_quant = True
                log(f"step {step}: INT4 fake quantisation on")
            for g in opt.param_groups:
                g["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
            # Loss = summed token losses / the whole batch's target tokens: the processes'
            # gradients then add up to the full batch's mean-loss gradient.
            n_targets = sum(len(encoded[i][1]) for i in batch)
            mine = batch[rank::world]
            opt.zero_grad(set_to_none=False)
            loss_sum = torch.zeros(())
            if mine:
                enc, keep, dec_in, target, weight = batches.tensors(mine)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    logits = model(enc, keep, dec_in)
                losses = F.cross_entropy(logits.float().reshape(-1, cfg.vocab_size), target.reshape(-1),
                                         ignore_index=-100, reduction="none")
                loss_sum = (losses * weight.reshape(-1)).sum()
                (loss_sum / n_targets).backward()
            if world > 1:
                flat = torch.cat([p.grad.reshape(-1) for p in params] + [loss_sum.detach().reshape(1)])
                dist.all_reduce(flat)
                offset = 0
                for p in params:
                    p.grad.copy_(flat[offset:offset + p.numel()].view_as(p))
                    offset += p.numel()
                loss_sum = flat[-1]
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            step += 1
            tok_count += sum(len(encoded[i][0]) for i in batch)
            loss = float(loss_sum) / n_targets
            loss_avg = loss if loss_avg is None else 0.98 * loss_avg + 0.02 * loss
            if step % 100 == 0:
                el = time.time() - t_train
                log(f"step {step} epoch {epoch} loss {loss_avg:.4f} lr {opt.param_groups[0]['lr']:.2e} "
                    f"{tok_count / el:.0f} enc tok/s, {el / step:.3f} s/step")
            if (args.eval_every and step % args.eval_every == 0) or step == args.steps:
                if rank == 0:
                    got = greedy(model, val)
                    exact = sum(g == t for g, (_, t) in zip(got, val)) / len(val)
                    log(f"step {step}: held-out token-exact (PyTorch, unconstrained, 200 examples) {exact:.3f}")
                if world > 1:
                    dist.barrier()
        epoch += 1

    if rank == 0:
        export_path = out / "needle.safetensors"
        export.export(model, str(export_path), {"needle_tiny": f"train/train.py seed={args.seed} steps={args.steps}"})
        enc_ids, target = val[0]
        err = export.check_against_reference(model, str(export_path), enc_ids, [EOS_ID] + target[:-1], tol=5e-3)
        log(f"exported {export_path} ({export_path.stat().st_size} bytes); reference.py logits agree within {err:.1e}")
        if args.export_float:
            # F32 projections (the engine loads those too): measures what INT4 costs.
            export.export(model, args.export_float, float_proj=True)
            log(f"exported float projections to {args.export_float}")
        log(f"done in {time.time() - t_start:.0f} s")
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
