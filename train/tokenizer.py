#!/usr/bin/env python3
"""Train the tiny model's SentencePiece tokenizer with spm_train.

    /usr/bin/python3 train/tokenizer.py --out DIR [--vocab-size 4096] [--seed 7]

Needle's trainer settings (scripts/make_tokenizer.py's TRAINER_FLAGS: BPE, byte fallback,
identity normalisation, ids 0..5 the specials, 6..261 the bytes) with a smaller vocabulary
and a corpus of this model's own data: generated queries, canonical tool lists and answers
(train/data.py, a seed of its own so no held-out example leaks into the vocabulary
choice), plus the fixture's queries and tool lists. Writes DIR/needle.model and
DIR/vocab.txt (`piece<TAB>score`, spm_export_vocab's format). Deterministic.

Two deliberate differences from Needle's vocabulary. Digits are pieces of their own
(spm_train --split_digits): the model copies numbers digit by digit, where with pieces like
`58`, `582` and `2` it had to learn how each number splits (measured: a third of the
first model's wrong answers were numbers off by a digit). Since no piece holds a digit next
to anything else, every SentencePiece-compatible encoder (ours reads vocab.txt, which has no
such flag) splits digits the same way. And no piece joins the word-boundary mark
`▁` to a word. The model copies argument values from the query, where a word follows a
space (`▁Nashville`), into JSON, where it follows a quote (`"Nashville`); with `▁word`
pieces the two spellings tokenise differently and the model must learn each word's
mapping (and fails on words it never saw). Here `▁` is always a token of its own, so a
copied word is the same tokens in both places. How: the corpus is given to spm_train one
word per line with the dummy prefix off, so `▁` never starts a training word, plus lines
holding `▁` alone (kept only with whitespace collapsing off), so `▁` itself is a piece;
the written model's normaliser then gets both flags back on: encoding is Needle's (dummy
prefix, whitespace collapsed, `▁` escaping), and a text vocabulary (whose loader assumes
those flags) agrees with the .model.
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


WORD_MARK = "\u2581"


def corpus_lines(seed: int, count: int) -> list[str]:
    """One word per line, and `▁` alone about as often as a word boundary (see above)."""
    texts = []
    for ex in data.examples(seed, count):
        texts.append(ex["query"])
        texts.append(data.dumps(ex["tools"]))
        texts.append(data.answer_text(ex["answer"]))
    if data.FIXTURE.exists():
        for ex in json.loads(data.FIXTURE.read_text())["examples"]:
            texts.append(ex["query"])
            texts.append(ex["tools"])
    words = [w for text in texts for w in text.split()]
    return words + [WORD_MARK] * (len(words) // 2)


# ---- the one protobuf edit: the normaliser flags training had to turn off ----------------

def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        out.append(b | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _fields(buf: bytes):
    """Top-level protobuf fields: (number, wire type, raw bytes of the whole field, payload)."""
    pos = 0
    while pos < len(buf):
        start = pos
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(buf, pos)
            payload = None
        elif wire == 2:
            length, pos = _varint(buf, pos)
            payload = buf[pos:pos + length]
            pos += length
        elif wire == 1:
            pos += 8
            payload = None
        elif wire == 5:
            pos += 4
            payload = None
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, buf[start:pos], payload


def restore_normalizer_flags(model: bytes) -> bytes:
    """ModelProto with normalizer_spec (field 3) add_dummy_prefix (its field 3) and
    remove_extra_whitespaces (field 4) set to true."""
    out, found = bytearray(), False
    for number, wire, raw, payload in _fields(model):
        if number == 3 and wire == 2:
            found = True
            spec = b"".join(r for n, _, r, _ in _fields(payload) if n not in (3, 4)) + b"\x18\x01\x20\x01"
            out += b"\x1a" + _encode_varint(len(spec)) + spec
        else:
            out += raw
    if not found:
        raise ValueError("SentencePiece model without a normalizer_spec")
    return bytes(out)


def check_vocab(vocab_path: Path, vocab_size: int) -> None:
    pieces = [line.rsplit("\t", 1)[0] for line in vocab_path.read_text(encoding="utf-8").split("\n") if line]
    assert len(pieces) == vocab_size, f"vocab has {len(pieces)} pieces, want {vocab_size}"
    assert pieces[:6] == mt.SPECIALS, f"special pieces are {pieces[:6]}, want {mt.SPECIALS}"
    assert pieces[6:262] == [f"<0x{b:02X}>" for b in range(256)], "ids 6..261 are not the bytes"
    assert len(set(pieces)) == len(pieces), "duplicate pieces"


def check_encoding(model_path: Path) -> None:
    """The patched model encodes as intended: a dummy prefix, and `▁` always alone."""
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    pieces = sp.encode("Book a hotel in Nashville", out_type=str)
    assert pieces[0] == WORD_MARK and pieces.count(WORD_MARK) == 5, f"unexpected encoding {pieces}"
    vocab = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    joined = [p for p in vocab if WORD_MARK in p and p != WORD_MARK]
    assert not joined, f"pieces join the word mark: {joined[:5]}"
    digits = [p for p in vocab if any(c.isdigit() for c in p) and len(p) > 1 and not p.startswith("<0x")]
    assert not digits, f"pieces hold a digit next to other characters: {digits[:5]}"
    text = "  Book a   hotel in Nashville "
    assert sp.decode(sp.encode(text)) == " ".join(text.split()), "whitespace is not collapsed"


def build(out: Path, vocab_size: int, seed: int, count: int = CORPUS_EXAMPLES) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    spm_train, spm_export = shutil.which("spm_train"), shutil.which("spm_export_vocab")
    if not (spm_train and spm_export):
        raise SystemExit("tokenizer.py: spm_train/spm_export_vocab not found (apt-get install sentencepiece)")
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        work = Path(tmp)
        (work / "corpus.txt").write_text("\n".join(corpus_lines(seed, count)) + "\n", encoding="utf-8")
        # Relative paths: the trainer records them in the model, keep the scratch name out.
        flags = dict(mt.TRAINER_FLAGS, vocab_size=vocab_size, input="corpus.txt", model_prefix="needle",
                     add_dummy_prefix="false", remove_extra_whitespaces="false", split_digits="true")
        mt.run([spm_train, f"--random_seed={mt.SEED}"] + [f"--{k}={v}" for k, v in flags.items()], work)
        model_path = work / "needle.model"
        model_path.write_bytes(restore_normalizer_flags(model_path.read_bytes()))
        mt.run([spm_export, "--model=needle.model", "--output=vocab.txt", "--output_format=vocab"], work)
        check_vocab(work / "vocab.txt", vocab_size)
        check_encoding(model_path)
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
