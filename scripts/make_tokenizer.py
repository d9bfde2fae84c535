#!/usr/bin/env python3
"""Train the test SentencePiece tokenizer: make_tokenizer.py --out DIR

Writes DIR/corpus.txt, DIR/needle_spm.model and DIR/vocab.txt (`piece<TAB>score` per
line, line number = id, the format of `spm_export_vocab`). Nothing is downloaded: the
corpus is every query and tools string of ../shared/fixtures/needle_real_e2e_560.json
plus synthetic text generated here from a fixed seed. The trainer settings are Needle's
(NEEDLE.md sections 3 and 6), so the tokenizer has the real one's structure even though
its merges differ. Deterministic and idempotent: the same files, byte for byte, every run.

Uses the `spm_train` / `spm_export_vocab` binaries (Debian package `sentencepiece`) and,
when they are missing, the `sentencepiece` Python module, which wraps the same library.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

VOCAB_SIZE = 8192
SEED = 20240611
SPECIALS = ["<pad>", "</s>", "<s>", "<unk>", "<tool_call>", "<tools>"]  # ids 0..5
NUM_SYNTHETIC_LINES = 6000

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE = REPO_ROOT.parent / "shared" / "fixtures" / "needle_real_e2e_560.json"

TRAINER_FLAGS = {
    "model_type": "bpe",
    "vocab_size": VOCAB_SIZE,
    "byte_fallback": "true",
    "normalization_rule_name": "identity",
    "add_dummy_prefix": "true",
    "remove_extra_whitespaces": "true",
    "user_defined_symbols": "<tool_call>,<tools>",
    "pad_id": 0,
    "eos_id": 1,
    "bos_id": 2,
    "unk_id": 3,
    # Determinism: read every sentence in file order, no sampling (so BPE training
    # uses no randomness; spm_train also gets a fixed --random_seed to be safe).
    "input_sentence_size": 0,
    "shuffle_input_sentence": "false",
    "num_threads": 2,
    # Long tool lists are single lines; keep them instead of dropping them.
    "max_sentence_length": 16384,
    "minloglevel": 1,
}

# ---- synthetic corpus ---------------------------------------------------------------

WORDS = """
the a an of to in for on with from by at about into over after before between under
weather forecast temperature rain snow wind humidity city country location unit celsius
fahrenheit send message email text call phone contact friend mother father team boss
meeting calendar event schedule reminder alarm timer minute hour day week month year
today tomorrow tonight morning evening noon midnight flight hotel booking reservation
restaurant table dinner lunch breakfast order pizza coffee tea ticket movie concert music
song playlist album artist play pause stop skip volume light lamp thermostat door lock
camera photo picture video file folder document note list task todo item price stock
market currency convert exchange rate dollar euro yen pound search find look query web
news article story headline translate language english french spanish german japanese
chinese korean route directions distance map navigate traffic bus train taxi ride car
drive walk open close create delete update get set add remove check show tell give make
please could would you can i me my we our your us want need like help quickly now later
what when where who why how which is are was be been do does did have has had will
get_weather send_email create_event set_alarm play_music search_web book_flight order_food
name description parameters type string number integer boolean array object required true
false arguments properties enum default value format date time datetime email uri id
""".split()

SYLLABLES = """ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo fu ga ge gi go gu
ha he hi ho hu ja je ji jo ju ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu
pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu wa we wi wo
za ze zi zo zu tra tre tri pro pla ple str sch ght ing ion ent ant est ous ive able ment
ness ship land ville berg ton ford wick ham""".split()

UNICODE_WORDS = """
café naïve résumé crème brûlée São Paulo Zürich München Köln Malmö Århus Ærø Łódź Kraków
Škoda Dvořák İstanbul Göteborg façade jalapeño piñata España año niño über straße
Αθήνα Ελλάδα καλημέρα Москва Россия привет спасибо Київ Україна
東京 京都 大阪 北京 上海 日本語 中文 天気 今日 明日 会議 予約 電話 你好 谢谢 天气 明天
こんにちは ありがとう さようなら カタカナ ひらがな 서울 부산 안녕하세요 감사합니다
القاهرة مرحبا شكرا नमस्ते धन्यवाद मुंबई ภาษาไทย กรุงเทพ Việt Nam Hà Nội
""".split()

EMOJI = ["😀", "🎉", "🚀", "☕", "🌧️", "👍🏽", "🇫🇷", "❤️", "👨‍👩‍👧", "🔥", "✈️", "📅"]

# Rarely used on purpose: below the 0.9995 character coverage they stay out of the
# vocabulary, so the tokenizer has real byte-fallback cases.
RARE = ["𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "ꙮ", "𓀀", "𐍈", "ᚠᚢᚦ", "⍼", "🦜"]

CITIES = ["Paris", "London", "Tokyo", "New York", "San Francisco", "Berlin", "Madrid",
          "Rome", "Sydney", "Toronto", "Mumbai", "Cairo", "Lagos", "Lima", "Seoul",
          "Dubai", "Chicago", "Boston", "Austin", "Denver", "Oslo", "Vienna", "Prague"]
NAMES = ["Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan",
         "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent",
         "Victor", "Walter", "Zoe", "María", "José", "Søren", "Chloé", "Jürgen"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
TYPES = ["string", "number", "integer", "boolean", "array", "object"]
TEMPLATES = [
    "What's the weather in {city} {when}?",
    "Send a message to {name} saying {phrase}",
    "Set an alarm for {time} {when}",
    "Book a flight from {city} to {city2} on {date}",
    "Remind me to {verb} the {noun} at {time}",
    "How much is {num} {cur} in {cur2}?",
    "Create an event called {phrase} on {date} at {time}",
    "Call {name} at {phone}",
    "Play {phrase} by {name}",
    "Search the web for {phrase}",
    "Translate '{phrase}' into {lang}",
    "Order {num_small} {noun}s from {pseudo} for {name}",
    "{name} said: \"{phrase}\" ({date}, {time})",
    "Find {noun} near {city} with a rating above {decimal}",
    "Convert {decimal} {unit} to {unit2}",
]


def pseudo_word(rng):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))


def phrase(rng, n_min=2, n_max=7):
    out = []
    for _ in range(rng.randint(n_min, n_max)):
        r = rng.random()
        if r < 0.55:
            out.append(rng.choice(WORDS))
        elif r < 0.85:
            out.append(pseudo_word(rng))
        elif r < 0.97:
            out.append(rng.choice(UNICODE_WORDS))
        else:
            out.append(rng.choice(EMOJI))
    return " ".join(out)


def date(rng):
    y, m, d = rng.randint(1990, 2035), rng.randint(1, 12), rng.randint(1, 28)
    return rng.choice([f"{y}-{m:02d}-{d:02d}", f"{MONTHS[m - 1]} {d}, {y}",
                       f"{d}/{m}/{y}", f"{MONTHS[m - 1][:3]} {d}"])


def time_of_day(rng):
    h, mi = rng.randint(0, 23), rng.choice([0, 5, 15, 30, 45, rng.randint(0, 59)])
    return rng.choice([f"{h:02d}:{mi:02d}", f"{(h % 12) or 12}:{mi:02d} {'am' if h < 12 else 'pm'}",
                       f"{(h % 12) or 12}{'am' if h < 12 else 'pm'}"])


def snake_name(rng):
    parts = [rng.choice(["get", "set", "send", "create", "delete", "update", "search",
                         "book", "play", "find", "list", "check", "convert", "translate"])]
    parts += [rng.choice(WORDS + [pseudo_word(rng)]) for _ in range(rng.randint(1, 2))]
    name = "_".join(p for p in parts if p.isascii() and p.isidentifier())
    return name or "do_task"


def tool_list_json(rng):
    tools = []
    for _ in range(rng.randint(1, 4)):
        params = {}
        for _ in range(rng.randint(0, 4)):
            spec = {"type": rng.choice(TYPES), "description": phrase(rng, 2, 6)}
            if rng.random() < 0.2:
                spec["enum"] = [pseudo_word(rng) for _ in range(rng.randint(2, 4))]
            spec["required"] = rng.random() < 0.5
            params[rng.choice(WORDS + [pseudo_word(rng)])] = spec
        tools.append({"name": snake_name(rng), "description": phrase(rng, 3, 9),
                      "parameters": params})
    # Needle reads compact JSON with non-ASCII escaped (NEEDLE.md section 7); keep some
    # raw UTF-8 too so the unicode words reach the vocabulary.
    return json.dumps(tools, separators=(",", ":"), ensure_ascii=rng.random() < 0.7)


def sentence(rng):
    template = rng.choice(TEMPLATES)
    return template.format(
        city=rng.choice(CITIES), city2=rng.choice(CITIES), name=rng.choice(NAMES),
        when=rng.choice(["today", "tomorrow", "tonight", "this weekend", "next week", ""]),
        phrase=phrase(rng), time=time_of_day(rng), date=date(rng),
        verb=rng.choice(["buy", "call", "email", "pay", "water", "feed", "fix", "pick up"]),
        noun=rng.choice(WORDS), num=rng.randint(1, 100000),
        num_small=rng.randint(1, 12), decimal=f"{rng.uniform(0, 1000):.{rng.randint(1, 3)}f}",
        cur=rng.choice(["USD", "EUR", "JPY", "GBP", "dollars", "euros"]),
        cur2=rng.choice(["USD", "EUR", "JPY", "GBP", "yen", "pounds"]),
        phone=f"+{rng.randint(1, 99)} {rng.randint(100, 999)}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
        lang=rng.choice(["French", "Spanish", "German", "Japanese", "Korean", "Greek"]),
        unit=rng.choice(["km", "miles", "kg", "pounds", "liters", "°C"]),
        unit2=rng.choice(["m", "feet", "grams", "ounces", "gallons", "°F"]),
        pseudo=pseudo_word(rng).capitalize())


def synthetic_lines(rng, count):
    for i in range(count):
        r = rng.random()
        if r < 0.45:
            line = sentence(rng)
        elif r < 0.70:
            line = tool_list_json(rng)
        elif r < 0.80:
            line = f"{sentence(rng)} <tools> {tool_list_json(rng)}"
        elif r < 0.85:
            line = "<tool_call>" + json.dumps(
                [{"name": snake_name(rng), "arguments": {rng.choice(WORDS): phrase(rng, 1, 3)}}],
                separators=(",", ":"))
        elif r < 0.93:
            line = " ".join(str(rng.choice([rng.randint(0, 10 ** rng.randint(1, 9)),
                                            round(rng.uniform(-1000, 1000), 2), date(rng),
                                            time_of_day(rng)])) for _ in range(rng.randint(3, 10)))
        else:
            line = phrase(rng, 4, 12)
        if i % 997 == 0:
            line += " " + rng.choice(RARE)
        yield line


def make_corpus():
    examples = json.loads(FIXTURE.read_text(encoding="utf-8"))["examples"]
    lines = []
    for ex in examples:
        lines.append(ex["query"])
        lines.append(ex["tools"])
    lines.extend(synthetic_lines(random.Random(SEED), NUM_SYNTHETIC_LINES))
    # spm_train reads one sentence per line.
    return "".join(" ".join(line.splitlines()) + "\n" for line in lines)


# ---- training -----------------------------------------------------------------------

def train(work_dir):
    """Trains on work_dir/corpus.txt; returns the paths of the model and vocab.txt."""
    # The trainer records `input` and `model_prefix` in the model: relative paths, run
    # from work_dir, keep the scratch directory's random name out of it.
    flags = dict(TRAINER_FLAGS, input="corpus.txt", model_prefix="needle_spm")
    model_path, vocab_path = work_dir / "needle_spm.model", work_dir / "vocab.txt"
    spm_train, spm_export = shutil.which("spm_train"), shutil.which("spm_export_vocab")
    if spm_train and spm_export:
        run([spm_train, f"--random_seed={SEED}"] + [f"--{k}={v}" for k, v in flags.items()],
            work_dir)
        run([spm_export, f"--model={model_path}", f"--output={vocab_path}",
             "--output_format=vocab"], work_dir)
    else:
        import sentencepiece as spm  # the same library, through its Python wrapper
        cwd = os.getcwd()
        os.chdir(work_dir)
        try:
            spm.SentencePieceTrainer.Train(" ".join(f"--{k}={v}" for k, v in flags.items()))
        finally:
            os.chdir(cwd)
        proc = spm.SentencePieceProcessor(model_file=str(model_path))
        # spm_export_vocab streams the float score with std::ostream's default
        # formatting, which is printf's %g.
        vocab_path.write_text("".join(
            f"{proc.id_to_piece(i)}\t{proc.get_score(i):g}\n"
            for i in range(proc.get_piece_size())), encoding="utf-8")
    return model_path, vocab_path


def run(cmd, cwd):
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"make_tokenizer.py: command failed ({result.returncode}): {cmd[0]}")


def check_vocab(vocab_path):
    pieces = [line.rsplit("\t", 1)[0]
              for line in vocab_path.read_text(encoding="utf-8").split("\n") if line]
    assert len(pieces) == VOCAB_SIZE, f"vocab has {len(pieces)} pieces, want {VOCAB_SIZE}"
    assert pieces[:6] == SPECIALS, f"special pieces are {pieces[:6]}, want {SPECIALS}"
    want_bytes = [f"<0x{b:02X}>" for b in range(256)]
    assert pieces[6:262] == want_bytes, "ids 6..261 are not the byte pieces <0x00>..<0xFF>"
    assert len(set(pieces)) == len(pieces), "duplicate pieces in the vocabulary"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    out = parser.parse_args().out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    # Build everything in a scratch directory and move it into place at the end, so a
    # failed or interrupted run never leaves a half-written tokenizer that looks complete.
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        work = Path(tmp)
        corpus_path = work / "corpus.txt"
        corpus_path.write_text(make_corpus(), encoding="utf-8")
        model_path, vocab_path = train(work)
        check_vocab(vocab_path)
        for src in (corpus_path, vocab_path, model_path):
            os.replace(src, out / src.name)
    print(f"make_tokenizer.py: wrote {out}/needle_spm.model, vocab.txt, corpus.txt")


if __name__ == "__main__":
    main()
