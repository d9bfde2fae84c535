#!/usr/bin/env python3
"""Train the tiny model's SentencePiece tokenizer with spm_train.

    /usr/bin/python3 train/tokenizer.py --out DIR [--vocab-size 4096] [--seed 7]

Needle's trainer settings (scripts/make_tokenizer.py's TRAINER_FLAGS: BPE, byte fallback,
identity normalisation, ids 0..5 the specials, 6..261 the bytes) with a smaller vocabulary
and a corpus of this model's own data: generated queries, canonical tool lists and answers
(train/data.py, a seed of its own so no held-out example leaks into the vocabulary
choice), plus the fixture's queries and tool lists. Writes DIR/needle.model and
DIR/vocab.txt (`piece<TAB>score`, spm_export_vocab's format). Deterministic.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scripts"))
import data  # noqa: E402
import make_tokenizer as mt  # noqa: E402  (Needle's trainer flags, the command runner)

CORPUS_EXAMPLES = 20000


def corpus_lines(seed: int, count: int) -> list[str]:
    lines = []
    for ex in data.examples(seed, count):
        lines.append(ex["query"])
        lines.append(data.dumps(ex["tools"]))
        lines.append(data.answer_text(ex["answer"]))
    if data.FIXTURE.exists():
        for ex in json.loads(data.FIXTURE.read_text())["examples"]:
            lines.append(ex["query"])
            lines.append(ex["tools"])
    return [" ".join(line.splitlines()) for line in lines]


def check_vocab(vocab_path: Path, vocab_size: int) -> None:
    pieces = [line.rsplit("\t", 1)[0] for line in vocab_path.read_text(encoding="utf-8").split("\n") if line]
    assert len(pieces) == vocab_size, f"vocab has {len(pieces)} pieces, want {vocab_size}"
    assert pieces[:6] == mt.SPECIALS, f"special pieces are {pieces[:6]}, want {mt.SPECIALS}"
    assert pieces[6:262] == [f"<0x{b:02X}>" for b in range(256)], "ids 6..261 are not the bytes"
    assert len(set(pieces)) == len(pieces), "duplicate pieces"


def build(out: Path, vocab_size: int, seed: int, count: int = CORPUS_EXAMPLES) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    spm_train, spm_export = shutil.which("spm_train"), shutil.which("spm_export_vocab")
    if not (spm_train and spm_export):
        raise SystemExit("tokenizer.py: spm_train/spm_export_vocab not found (apt-get install sentencepiece)")
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        work = Path(tmp)
        (work / "corpus.txt").write_text("\n".join(corpus_lines(seed, count)) + "\n", encoding="utf-8")
        # Relative paths: the trainer records them in the model, keep the scratch name out.
        flags = dict(mt.TRAINER_FLAGS, vocab_size=vocab_size, input="corpus.txt", model_prefix="needle")
        mt.run([spm_train, f"--random_seed={mt.SEED}"] + [f"--{k}={v}" for k, v in flags.items()], work)
        mt.run([spm_export, "--model=needle.model", "--output=vocab.txt", "--output_format=vocab"], work)
        check_vocab(work / "vocab.txt", vocab_size)
        for name in ("needle.model", "vocab.txt"):
            os.replace(work / name, out / name)
    return out / "needle.model", out / "vocab.txt"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    model, vocab = build(args.out.resolve(), args.vocab_size, args.seed)
    print(f"tokenizer.py: wrote {model} and {vocab}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
