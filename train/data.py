#!/usr/bin/env python3
"""Synthetic (query, tools, answer) examples for the tiny Needle model.

    /usr/bin/python3 train/data.py --seed 1 --count 5        # print examples
    /usr/bin/python3 train/data.py --seed 1 --count 1000 --out held_out.jsonl

Each example is {"query", "tools" (canonical flat tools, NEEDLE.md section 7: exactly the
bytes the engine's encoder reads), "answer" (the list of calls), "kind"}. Tools come from
train/intents.py (the demo's presets and ~60 other everyday tools, each under varied names,
descriptions and parameter spellings), from a procedural family of made-up tools
(verb_noun names, arbitrary parameters: teaches reading the schema rather than
memorising it), and, as distractors only, the fixture's tools without a matching intent.

Answers follow Needle: `[{"name":..,"arguments":{..}}]`, arguments in schema order, only
the ones the query gives, values copied from the query (typed by the schema); two calls
when the query asks for two things; `[]` when no listed tool fits.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scripts"))
import intents as I  # noqa: E402
import pools as P  # noqa: E402
from gen_tool_cases import canonicalize  # noqa: E402  (the NEEDLE.md section 7 oracle)

FIXTURE = HERE.parent.parent / "shared" / "fixtures" / "needle_real_e2e_560.json"
# train/evaluate.py's held-out set: examples(HELD_OUT_SEED, HELD_OUT_COUNT). The trainer
# drops any training example whose query and tools equal one of them.
HELD_OUT_SEED = 20250101
HELD_OUT_COUNT = 1000
# Share of "nothing in the list fits" examples. The evaluation keeps the plain mix (8 %);
# training sees twice as many, since at 8 % the model put the same probability on `[]`
# whether a tool fitted or not (train/README.md).
NONE_SHARE = 0.08
TRAIN_NONE_SHARE = 0.16
# train.py's default --seed and --examples; evaluate.py regenerates the same queries for its
# seen/unseen split, so the two read them from here.
TRAIN_SEED = 1
TRAIN_EXAMPLES = 200000


def dumps(x, ascii_only: bool = True) -> str:
    """Python's compact JSON: the tools as the engine serialises them (non-ASCII escaped)."""
    return json.dumps(x, separators=(",", ":"), ensure_ascii=ascii_only)


def answer_text(calls: list[dict]) -> str:
    """The decoder's target text: compact, raw UTF-8 (copying needs no escapes)."""
    return json.dumps(calls, separators=(",", ":"), ensure_ascii=False)


# ---- rendering a tool -------------------------------------------------------------------

NAME_DECORATIONS = [("", "_v2"), ("", "_v1"), ("api_", ""), ("", "_tool"), ("my_", ""), ("app_", ""),
                    ("", "_api"), ("api_v1_", "")]


def type_schema(typ: str) -> dict:
    if typ.startswith("enum:"):
        return {"type": "string", "enum": typ[5:].split(",")}
    if typ.startswith("array:"):
        return {"type": "array", "items": {"type": typ[6:]}}
    return {"type": typ}


def render_params(rng: random.Random, specs: list[tuple[str, str, str, bool]]) -> dict:
    """specs: (key, type, description, core) -> the canonical flat `parameters` object.

    Styles: type only (the fixture's), with descriptions, and the canonical form of a
    JSON-Schema tool (description, then `required` appended last, as section 7 does)."""
    style = rng.choices(["type", "desc", "schema", "schema_nodesc"], [0.3, 0.25, 0.35, 0.1])[0]
    enum_first = rng.random() < 0.5
    out = {}
    for key, typ, desc, core in specs:
        schema = type_schema(typ)
        prop = {"type": schema["type"]}
        if "items" in schema:
            prop["items"] = schema["items"]
        if "enum" in schema and enum_first:
            prop["enum"] = schema["enum"]
        if style in ("desc", "schema"):
            prop["description"] = desc
        if "enum" in schema and not enum_first:
            prop["enum"] = schema["enum"]
        if style.startswith("schema"):
            prop["required"] = core and rng.random() < 0.9
        out[key] = prop
    return out


class Tool:
    """One rendered tool: its canonical dict and, per slot, the key and type chosen."""

    def __init__(self, intent, schema: dict, slot_keys: dict[str, tuple[str, str]]):
        self.intent, self.schema, self.slot_keys = intent, schema, slot_keys

    @property
    def name(self) -> str:
        return self.schema["name"]

    def call(self, facts: dict) -> dict:
        args = {}
        for slot, (key, typ) in self.slot_keys.items():
            if slot in facts:
                args[key] = facts[slot].value(typ)
        return {"name": self.name, "arguments": args}


def render_intent(rng: random.Random, it: I.Intent) -> Tool:
    name = rng.choice(it.names)
    if rng.random() < 0.08:
        pre, post = rng.choice(NAME_DECORATIONS)
        name = pre + name + post
    used, specs, slot_keys = set(), [], {}
    for p in it.params:
        if p.gen is None and rng.random() < 0.5:
            continue  # decoy parameters come and go
        key = rng.choice([k for k in p.keys if k not in used] or [p.slot])
        used.add(key)
        typ = rng.choice(p.types)
        specs.append((key, typ, rng.choice(p.descs), p.core))
        slot_keys[p.slot] = (key, typ)
    schema = {"name": name}
    if rng.random() < 0.95:
        schema["description"] = rng.choice(it.descs)
    schema["parameters"] = render_params(rng, specs)
    return Tool(it, schema, slot_keys)


# ---- procedural tools: made-up actions with arbitrary parameters ---------------------------

VERBS = ["create", "update", "delete", "get", "archive", "share", "export", "rename", "cancel",
         "approve", "assign", "close", "publish", "restore", "schedule", "start", "stop", "sync",
         "upload", "download", "reset", "list", "register", "submit", "print", "review"]
NOUNS = ["invoice", "ticket", "project", "report", "order", "document", "backup", "server",
         "album", "contact", "account", "campaign", "build", "issue", "survey", "shipment",
         "subscription", "coupon", "lead", "deal", "workspace", "repository", "dashboard",
         "expense", "booking", "course", "lesson", "recipe", "vehicle", "patient", "room", "device"]
GENERIC_KEYS = {
    "customer": ("string", P.pool(["Acme Corp", "Globex", "Initech", "Umbrella", "Stark Industries",
                                   "Wayne Enterprises", "Hooli", "Pied Piper", "Soylent", "Vandelay"])),
    "amount": ("number", P.money),
    "id": ("string", P.order_id),
    "status": ("enum:open,closed,pending", P.enum_of(["open", "closed", "pending"], 0.0)),
    "priority": ("enum:low,medium,high", P.enum_of(P.PRIORITIES, 0.0)),
    "owner": ("string", P.first_name),
    "title": ("string", P.pool(P.SUBJECTS + P.EVENT_TITLES)),
    "region": ("string", P.pool(["us-east", "eu-west", "ap-south", "north", "EMEA", "LATAM"])),
    "format": ("enum:pdf,csv,json", P.enum_of(["pdf", "csv", "json"], 0.0)),
    "tag": ("string", P.pool(["urgent", "q3", "marketing", "beta", "vip", "archived", "draft"])),
    "version": ("string", P.pool(["1.0", "2.3.1", "v4", "0.9-beta", "3.2"])),
    "count": ("integer", P.integer(1, 500)),
    "email": ("string", P.email_address),
    "date": ("string", P.date),
    "city": ("string", P.city),
    "name": ("string", P.person),
    "quantity": ("integer", P.integer(1, 50)),
    "notify": ("boolean", lambda rng: P.Fact("true", {"bool": True}) if rng.random() < 0.5 else P.Fact("false", {"bool": False})),
    "comment": ("string", P.pool(P.MESSAGES)),
    "url": ("string", P.pool(["https://example.com", "example.org/page", "https://acme.co/docs", "http://localhost:8080"])),
    "path": ("string", P.pool(P.FILES)),
    "language": ("string", P.pool(P.LANGUAGES)),
    "color": ("string", P.pool(P.COLORS)),
    "size": ("enum:small,medium,large", P.enum_of(["small", "medium", "large"], 0.0)),
    "duration_minutes": ("integer", P.integer(5, 240)),
}


class ProcIntent:
    """Stands in for an Intent for procedural tools (group = the name)."""

    def __init__(self, verb: str, noun: str, keys: list[str]):
        self.verb, self.noun, self.keys = verb, noun, keys
        self.group = f"proc:{verb}_{noun}"


def procedural_tool(rng: random.Random, verb: str | None = None, noun: str | None = None) -> Tool:
    verb = verb or rng.choice(VERBS)
    noun = noun or rng.choice(NOUNS)
    keys = rng.sample(sorted(GENERIC_KEYS), rng.randint(0, 3))
    it = ProcIntent(verb, noun, keys)
    specs, slot_keys = [], {}
    for k in keys:
        typ = GENERIC_KEYS[k][0]
        core = rng.random() < 0.5
        specs.append((k, typ, k.replace("_", " ").capitalize(), core))
        slot_keys[k] = (k, typ)
    schema = {"name": f"{verb}_{noun}"}
    if rng.random() < 0.9:
        art = "an" if noun[0] in "aeiou" else "a"
        schema["description"] = rng.choice([f"{verb.capitalize()} {art} {noun}", f"{verb.capitalize()} the {noun}",
                                            f"{verb.capitalize()}s {art} {noun} by its details"])
    schema["parameters"] = render_params(rng, specs)
    tool = Tool(it, schema, slot_keys)
    tool.core = {k for k, _, _, core in specs if core}
    return tool


def procedural_query(rng: random.Random, tool: Tool) -> tuple[str, dict]:
    it = tool.intent
    art = rng.choice(["the", "a", "an" if it.noun[0] in "aeiou" else "a", "this"])
    chosen = [k for k in it.keys if k in tool.core or rng.random() < 0.6]
    facts = {k: GENERIC_KEYS[k][1](rng) for k in chosen}
    parts = []
    for k in chosen:
        phrase = k.replace("_", " ")
        parts.append(rng.choice([f"{phrase} {facts[k].surface}", f"{phrase} {facts[k].surface}",
                                 f"{phrase} set to {facts[k].surface}", f"{phrase}: {facts[k].surface}"]))
    head = rng.choice([f"{it.verb.capitalize()} {art} {it.noun}", f"Please {it.verb} {art} {it.noun}",
                       f"I need to {it.verb} {art} {it.noun}", f"{it.verb.capitalize()} {it.noun}"])
    if not parts:
        return head, facts
    if len(parts) == 1:
        tail = parts[0]
    else:
        tail = ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{head} with {tail}", facts


# ---- fixture tools as extra distractors ------------------------------------------------------

def fixture_distractors() -> list[dict]:
    """The fixture's canonical tools that no intent answers (e.g. `get`, `send`)."""
    if not FIXTURE.exists():
        return []
    names = {n for it in I.INTENTS for n in it.names}
    seen, out = set(), []
    for ex in json.loads(FIXTURE.read_text())["examples"]:
        for t in canonicalize(json.loads(ex["tools"])):
            if t["name"] not in names and t["name"] not in seen and not re.search(r"_v\d$", t["name"]):
                seen.add(t["name"])
                out.append(t)
    return out


# ---- queries ------------------------------------------------------------------------------

PREFIXES = ["Hey, ", "Hi, ", "Ok, ", "Quick one: ", "Hey assistant, ", "Yo, "]
SUFFIXES = [" please", " thanks", " thank you", " asap", " for me", " now"]


def fill(rng: random.Random, template: str, it, lower: bool) -> tuple[str, dict]:
    facts = {}
    params = {p.slot: p for p in it.params}

    def sub(m):
        slot = m.group(1)
        if slot not in facts:
            f = params[slot].gen(rng)
            if lower:
                f = P.Fact(f.surface.lower(), dict(f.values))
                if "string" in f.values:
                    f.values["string"] = f.values["string"].lower()
                if "list" in f.values:  # the items are copies from the (lower-cased) query too
                    f.values["list"] = [v.lower() for v in f.values["list"]]
            facts[slot] = f
        return facts[slot].surface

    text = re.sub(r"\{(\w+)\}", sub, template.lower() if lower else template)
    # "on {date}" reads wrong before a relative date ("on tomorrow"): drop the "on".
    text = RELATIVE_ON.sub(r"\1", text)
    return text, facts


RELATIVE_ON = re.compile(r"\b[Oo]n ((?:today|tomorrow|tonight|this weekend|next week|the day after tomorrow|"
                         r"next [A-Z]\w+|this [A-Z]\w+)\b)")


def lower_first(text: str) -> str:
    return text if text.startswith("I ") else text[:1].lower() + text[1:]


def decorate(rng: random.Random, query: str, template: str) -> str:
    """Politeness and punctuation noise. A template ending in a value is left alone at
    the end: a value's own final '?' must not be dropped, nor a word glued onto it."""
    value_last = template.endswith("}")
    r = rng.random()
    if r < 0.08 and not template.startswith("{"):
        query = rng.choice(PREFIXES) + lower_first(query)
    elif r < 0.14 and not value_last and not query.endswith("?") and query[-1] not in "\"'":
        query = query.rstrip(".!") + rng.choice(SUFFIXES)
    if value_last:
        return query
    if rng.random() < 0.15 and query[-1] in "?.!":
        query = query[:-1]
    elif rng.random() < 0.05 and query[-1] not in "?.!\"'":
        query += rng.choice([".", "!"])
    return query


def intent_query(rng: random.Random, tool: Tool, lower: bool) -> tuple[str, dict, str]:
    template = rng.choice(tool.intent.templates)
    query, facts = fill(rng, template, tool.intent, lower)
    # A slot the rendered tool dropped (an optional decoy) cannot be in the template:
    # decoys have no generator, so every filled slot has a key.
    return query, facts, template


# ---- examples -----------------------------------------------------------------------------

class Generator:
    def __init__(self, seed: int, none_share: float = NONE_SHARE):
        self.rng = random.Random(seed)
        self.none_share = none_share
        self.intents = I.INTENTS
        self.weights = [it.weight for it in self.intents]
        self.extra = fixture_distractors()

    def pick_intent(self, exclude_groups: set) -> I.Intent:
        while True:
            it = self.rng.choices(self.intents, self.weights)[0]
            if it.group not in exclude_groups:
                return it

    def demo_distractors(self, groups: set) -> list[Tool]:
        """Most of the demo's preset tools: the long list a demo page shows at once."""
        free = [g for g in sorted(I.DEMO_GROUPS) if g not in groups]
        chosen = self.rng.sample(free, self.rng.randint(min(4, len(free)), len(free)))
        out = []
        for g in chosen:
            it = self.rng.choice([it for it in self.intents if it.group == g])
            groups.add(g)
            out.append(render_intent(self.rng, it))
        return out

    def distractors(self, k: int, groups: set) -> list[Tool | dict]:
        rng, out = self.rng, []
        if rng.random() < 0.06:
            return self.demo_distractors(groups)
        while len(out) < k:
            r = rng.random()
            if r < 0.75:
                it = self.pick_intent(groups)
                groups.add(it.group)
                out.append(render_intent(rng, it))
            elif r < 0.9 or not self.extra:
                t = procedural_tool(rng)
                if t.intent.group in groups:
                    continue
                groups.add(t.intent.group)
                out.append(t)
            else:
                t = rng.choice(self.extra)
                if t["name"] in groups:
                    continue
                groups.add(t["name"])
                out.append(t)
        return out

    def num_distractors(self) -> int:
        return self.rng.choices(range(12), [10, 15, 18, 18, 13, 9, 6, 4, 3, 2, 1, 1])[0]

    def example(self) -> dict:
        rng = self.rng
        r = rng.random()
        lower = rng.random() < 0.12
        if r < 0.14:  # a made-up tool, sometimes next to siblings with the same verb or noun
            target = procedural_tool(rng)
            query, facts = procedural_query(rng, target)
            if lower:
                query = query.lower()
                facts = {k: P.Fact(f.surface.lower(), dict(f.values)) for k, f in facts.items()}
            query = decorate(rng, query, "")
            groups = {target.intent.group}
            siblings = []
            for _ in range(rng.randint(0, 2)):
                sib = procedural_tool(rng, verb=target.intent.verb) if rng.random() < 0.5 else \
                    procedural_tool(rng, noun=target.intent.noun)
                if sib.intent.group not in groups:
                    groups.add(sib.intent.group)
                    siblings.append(sib)
            tools = [target] + siblings + self.distractors(self.num_distractors(), groups)
            calls, kind = [target.call(facts)], "procedural"
        elif r < 0.14 + self.none_share:  # nothing in the list fits
            it = self.pick_intent(set())
            asked = render_intent(rng, it)
            query, _, template = intent_query(rng, asked, lower)
            query = decorate(rng, query, template)
            tools = self.distractors(max(1, self.num_distractors()), {it.group})
            calls, kind = [], "none"
        elif r < 0.25 + self.none_share:  # two requests in one sentence (11 %)
            a = render_intent(rng, self.pick_intent(set()))
            b = render_intent(rng, self.pick_intent({a.intent.group}))
            qa, fa, ta = intent_query(rng, a, lower)
            tb = rng.choice([t for t in b.intent.templates if not t.startswith("{")] or b.intent.templates)
            qb, fb = fill(rng, tb, b.intent, lower)
            if not tb.startswith("{") and not qb.startswith("I "):
                qb = qb[0].lower() + qb[1:]
            joiner = rng.choice([" and ", " and then ", ", then ", " and also ", ". Also "])
            if joiner == ". Also ":
                qb = qb[0].lower() + qb[1:] if not tb.startswith("{") else qb
            query = (qa if ta.endswith("}") else qa.rstrip("?.!")) + joiner + qb
            tools = [a, b] + self.distractors(self.num_distractors(), {a.intent.group, b.intent.group})
            calls, kind = [a.call(fa), b.call(fb)], "two"
        else:
            it = self.pick_intent(set())
            target = render_intent(rng, it)
            query, facts, template = intent_query(rng, target, lower)
            query = decorate(rng, query, template)
            tools = [target] + self.distractors(self.num_distractors(), {it.group})
            calls, kind = [target.call(facts)], "one"
        rng.shuffle(tools)
        schemas = [t.schema if isinstance(t, Tool) else t for t in tools]
        return {"query": query, "tools": schemas, "answer": calls, "kind": kind}


def examples(seed: int, count: int, none_share: float = NONE_SHARE):
    gen = Generator(seed, none_share)
    for _ in range(count):
        yield gen.example()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=5)
    ap.add_argument("--out", help="write JSON lines here instead of printing")
    args = ap.parse_args()
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            for ex in examples(args.seed, args.count):
                f.write(json.dumps(ex, ensure_ascii=False) + "\n")
        return 0
    for ex in examples(args.seed, args.count):
        print(ex["kind"], "|", ex["query"])
        print("   tools:", dumps(ex["tools"])[:300])
        print("   =>", answer_text(ex["answer"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
