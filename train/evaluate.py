#!/usr/bin/env python3
"""Measure the tiny model THROUGH THE ENGINE: the native CLI (one process per example) and
the WebAssembly package (train/run_wasm.mjs), answer by answer.

    /usr/bin/python3 train/evaluate.py [--needle build/needle] [--model-dir models/needle-tiny]
                                       [--count 1000] [--modes typed,strict,off] [--engines native,wasm]
                                       [--tool-format flat|openai] [--fixture] [--demo] [--report FILE]

The held-out set is train/data.py's generator with a seed of its own (data.HELD_OUT_SEED);
the trainer drops any training example whose query and tools equal one of these, so
none was seen in training. Each example runs `needle run --json` with its query and tools
(canonical flat tools, or with --tool-format openai the same tools wrapped as OpenAI
function schemas, which the engine canonicalises back to the same bytes), and the parsed
calls it prints are compared with the expected ones:

- exact match: the whole list of calls equal (names, argument keys and values, order);
- tool-name accuracy: the list of called tool names equal (for a "nothing fits" example,
  no call);
- valid: the output parsed as calls with no violations reported by the engine.

--fixture also runs ../shared/fixtures/needle_real_e2e_560.json (tools as given: camelCase,
kebab-case ... names the engine canonicalises) and reports how often the tiny model picks
the same tools as the real released Needle did; an out-of-distribution indication only,
since those queries were not written for this model. --demo runs train/demo_cases.json,
hand-written requests to the demo's preset tools (train/demo_tools.json).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import data  # noqa: E402
from data import HELD_OUT_COUNT, HELD_OUT_SEED  # noqa: E402

REPO = HERE.parent


def find_needle() -> Path:
    # build/ first (the README's and CI's build), then any other build directory.
    for candidate in [REPO / "build" / "needle"] + sorted(REPO.glob("build*/needle")):
        if candidate.is_file():
            return candidate
    raise SystemExit("evaluate.py: no build*/needle found; build the CLI or pass --needle")


def openai_form(tool: dict) -> dict:
    """A canonical flat tool as an OpenAI function (section 7 maps it back exactly when
    every property carries `required` as its last key, or none does)."""
    params = tool.get("parameters", {})
    props, required = {}, []
    for key, prop in params.items():
        prop = dict(prop)
        if prop.pop("required", False):
            required.append(key)
        props[key] = prop
    fn = {"name": tool["name"]}
    if "description" in tool:
        fn["description"] = tool["description"]
    fn["parameters"] = {"type": "object", "properties": props, "required": required}
    return {"type": "function", "function": fn}


def run_cli(needle: Path, model_dir: Path, query: str, tools_json: str, mode: str) -> dict:
    cmd = [str(needle), "run", "--weights", str(model_dir / "needle.safetensors"),
           "--tokenizer", str(model_dir / "vocab.txt"), "--query", query, "--tools", tools_json,
           "--json", "--mode", mode]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()}
    return json.loads(proc.stdout)


def same_value(a, b) -> bool:
    """JSON equality where 21 == 21.0 but True != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def answers_wasm(model_dir: Path, requests: list[dict]) -> list[dict]:
    """The same requests through the needle-wasm package (train/run_wasm.mjs, one engine)."""
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests)
    proc = subprocess.run(["node", str(HERE / "run_wasm.mjs"), str(model_dir / "needle.safetensors"),
                           str(model_dir / "vocab.txt")], input=lines, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"evaluate.py: train/run_wasm.mjs failed (build the package: npm run build):\n{proc.stderr}")
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    if len(out) != len(requests):
        raise SystemExit(f"evaluate.py: run_wasm.mjs answered {len(out)} of {len(requests)} requests")
    return out


def held_out_requests(count: int, mode: str, tool_format: str) -> tuple[list[dict], list[dict]]:
    exs = list(data.examples(HELD_OUT_SEED, count))
    reqs = [{"query": ex["query"], "mode": mode,
             "tools": data.dumps(ex["tools"] if tool_format == "flat" else [openai_form(t) for t in ex["tools"]])}
            for ex in exs]
    return exs, reqs


def training_queries(seed: int, count: int) -> set[str]:
    """The query texts the trainer generated (train.py --seed/--examples): a held-out
    example is an unseen (query, tools) pair, but a short templated query can recur in
    training next to other tools; the figures are also given for queries never seen.
    Generating 200,000 examples takes about a minute, so the set is cached under build/,
    keyed by the generator's sources and the arguments."""
    key = hashlib.sha256(repr((seed, count, data.TRAIN_NONE_SHARE)).encode())
    for source in ("data.py", "intents.py", "pools.py"):
        key.update((HERE / source).read_bytes())
    cache = HERE.parent / "build" / "train-cache" / f"queries-{key.hexdigest()[:16]}.json"
    if cache.exists():
        return set(json.loads(cache.read_text(encoding="utf-8")))
    queries = {ex["query"] for ex in data.examples(seed, count, data.TRAIN_NONE_SHARE)}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(sorted(queries), ensure_ascii=False), encoding="utf-8")
    return queries


def score_held_out(exs: list[dict], answers: list[dict], mode: str, tool_format: str, engine: str,
                   seconds: float, failures_out: list, seen_queries: set[str]) -> dict:
    totals = Counter()
    by_kind = defaultdict(Counter)
    for ex, got in zip(exs, answers):
        calls = got.get("calls")
        want = ex["answer"]
        exact = calls is not None and same_value(
            [{"name": c["name"], "arguments": c["arguments"]} for c in calls], want)
        names = calls is not None and [c["name"] for c in calls] == [c["name"] for c in want]
        valid = calls is not None and not got.get("violations")
        seen = "query seen in training" if ex["query"] in seen_queries else "query never seen"
        for counter in (totals, by_kind[ex["kind"]], by_kind[seen]):
            counter["n"] += 1
            counter["exact"] += exact
            counter["names"] += names
            counter["valid"] += valid
        if not exact:
            failures_out.append({"mode": f"{mode}, {engine}", "query": ex["query"], "want": data.answer_text(want),
                                 "got": got.get("text", got.get("error"))})
    return {"mode": mode, "engine": engine, "tool_format": tool_format, "n": totals["n"],
            "exact_match": totals["exact"] / totals["n"],
            "tool_name_accuracy": totals["names"] / totals["n"],
            "valid": totals["valid"] / totals["n"],
            "by_kind": {k: {"n": c["n"], "exact_match": c["exact"] / c["n"],
                            "tool_name_accuracy": c["names"] / c["n"]} for k, c in sorted(by_kind.items())},
            "ms_per_example": 1000 * seconds / totals["n"]}


def evaluate_fixture(needle: Path, model_dir: Path, mode: str) -> dict:
    examples = json.loads(data.FIXTURE.read_text())["examples"]
    same_names = same_text = 0
    for ex in examples:
        got = run_cli(needle, model_dir, ex["query"], ex["tools"], mode)
        try:
            real = json.loads(ex["expected_text"])
            real_names = [c["name"] for c in real]
        except (json.JSONDecodeError, TypeError, KeyError):
            real_names = None
        mine = [c["name"] for c in got.get("calls", [])] if "calls" in got else None
        same_names += mine is not None and mine == real_names
        same_text += got.get("text") == ex["expected_text"]
    return {"mode": mode, "n": len(examples), "same_tools_as_real_needle": same_names / len(examples),
            "same_text_as_real_needle": same_text / len(examples)}


def evaluate_demo(needle: Path, model_dir: Path, mode: str, failures_out: list) -> dict:
    """train/demo_cases.json (hand-written, not from the generator's templates) against
    train/demo_tools.json in OpenAI form: once with all eleven tools, once with only the
    tools each case calls."""
    tools = json.loads((HERE / "demo_tools.json").read_text())
    cases = json.loads((HERE / "demo_cases.json").read_text())
    out = {"mode": mode, "n": len(cases)}
    for label in ("all_tools", "called_tools"):
        exact = names = 0
        for case in cases:
            wanted = {c["name"] for c in case["calls"]}
            listed = tools if label == "all_tools" else [t for t in tools if t["function"]["name"] in wanted]
            got = run_cli(needle, model_dir, case["query"], json.dumps(listed), mode)
            calls = got.get("calls")
            ok = calls is not None and same_value(calls, case["calls"])
            exact += ok
            names += calls is not None and [c["name"] for c in calls] == [c["name"] for c in case["calls"]]
            if not ok:
                failures_out.append({"mode": f"{mode}, demo {label}", "query": case["query"],
                                     "want": data.answer_text(case["calls"]), "got": got.get("text", got.get("error"))})
        out[label] = {"exact_match": exact / len(cases), "tool_name_accuracy": names / len(cases)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--needle", type=Path)
    ap.add_argument("--model-dir", type=Path, default=REPO / "models" / "needle-tiny")
    ap.add_argument("--count", type=int, default=HELD_OUT_COUNT)
    ap.add_argument("--modes", default="typed,strict,off")
    ap.add_argument("--train-seed", type=int, default=data.TRAIN_SEED, help="the trainer's --seed (for the seen/unseen split)")
    ap.add_argument("--train-examples", type=int, default=data.TRAIN_EXAMPLES, help="the trainer's --examples")
    ap.add_argument("--engines", default="native,wasm", help="native (the CLI), wasm (the npm package), or both")
    ap.add_argument("--tool-format", choices=["flat", "openai"], default="flat")
    ap.add_argument("--fixture", action="store_true")
    ap.add_argument("--demo", action="store_true", help="also run train/demo_cases.json")
    ap.add_argument("--report", type=Path, help="write the figures and failures as JSON here")
    ap.add_argument("--show-failures", type=int, default=10)
    args = ap.parse_args()
    if args.count > HELD_OUT_COUNT:
        ap.error(f"--count above {HELD_OUT_COUNT}: the trainer only excludes the first {HELD_OUT_COUNT}")
    needle = args.needle or find_needle()
    model_dir = args.model_dir.resolve()
    print(f"engine {needle}, model {model_dir}, {args.count} held-out examples "
          f"(seed {HELD_OUT_SEED}), tools as {args.tool_format}")
    results, failures = [], []
    seen_queries = training_queries(args.train_seed, args.train_examples)
    agreement = []
    for mode in args.modes.split(","):
        exs, reqs = held_out_requests(args.count, mode, args.tool_format)
        answers = {}
        for engine in args.engines.split(","):
            t0 = time.time()
            if engine == "native":
                answers[engine] = [run_cli(needle, model_dir, r["query"], r["tools"], mode) for r in reqs]
            else:
                answers[engine] = answers_wasm(model_dir, reqs)
            r = score_held_out(exs, answers[engine], mode, args.tool_format, engine, time.time() - t0, failures,
                               seen_queries)
            results.append(r)
            print(f"{mode:>6} ({engine}): exact match {100 * r['exact_match']:.1f} %, tool names "
                  f"{100 * r['tool_name_accuracy']:.1f} %, valid {100 * r['valid']:.1f} % "
                  f"({r['ms_per_example']:.0f} ms/example)")
            for kind, k in r["by_kind"].items():
                print(f"        {kind:>22} n={k['n']:4d}: exact {100 * k['exact_match']:.1f} %, "
                      f"names {100 * k['tool_name_accuracy']:.1f} %")
        if len(answers) == 2:
            a, b = answers.values()
            same = sum(x.get("text") == y.get("text") and "error" not in x for x, y in zip(a, b))
            agreement.append({"mode": mode, "same_text": same, "n": len(reqs)})
            print(f"{mode:>6}: native and WASM give the same text on {same} of {len(reqs)} examples")
    fixture = []
    if args.fixture:
        for mode in args.modes.split(","):
            f = evaluate_fixture(needle, model_dir, mode)
            fixture.append(f)
            print(f"fixture ({mode}): same tools as the real Needle {100 * f['same_tools_as_real_needle']:.1f} %, "
                  f"same text {100 * f['same_text_as_real_needle']:.1f} % of {f['n']}")
    demo = []
    if args.demo:
        for mode in args.modes.split(","):
            d = evaluate_demo(needle, model_dir, mode, failures)
            demo.append(d)
            for label in ("all_tools", "called_tools"):
                print(f"demo ({mode}, {label.replace('_', ' ')}): exact match {100 * d[label]['exact_match']:.1f} %, "
                      f"tool names {100 * d[label]['tool_name_accuracy']:.1f} % of {d['n']}")
    for fail in failures[:args.show_failures]:
        print(f"  FAIL [{fail['mode']}] {fail['query']}\n      want {fail['want']}\n      got  {fail['got']}")
    if args.report:
        args.report.write_text(json.dumps({"held_out": results, "agreement": agreement, "fixture": fixture, "demo": demo,
                                           "failures": failures}, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
