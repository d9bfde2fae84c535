#!/usr/bin/python3
"""Writes tests/cpp/tools_test_cases.inc: expected outputs computed by Python itself.

The C++ JSON writer must give the bytes of json.dumps(x, separators=(",", ":")), and the
tool canonicaliser must give what NEEDLE.md section 7 describes. Python is the oracle for
both: json.loads/json.dumps for the JSON semantics (duplicate keys, floats, escaping),
`re` for the snake_case rule, and `canonicalize` below, a straight reading of section 7
and of the decisions documented in core/needle/tools.hpp, for the tools.

Run with Debian's /usr/bin/python3 from the repository root and commit the result:
    /usr/bin/python3 scripts/gen_tool_cases.py
"""
import json
import os
import random
import re
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "cpp",
                   "tools_test_cases.inc")


def dumps(x):
    return json.dumps(x, separators=(",", ":"))


def snake(name):
    s = re.sub(r"[^A-Za-z0-9_]+", "_", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return re.sub(r"_+", "_", s).lower().strip("_")


def canonicalize(tools):
    if isinstance(tools, dict):
        tools = [tools]
    out = []
    for tool in tools:
        fn = tool.get("function")
        f = fn if fn is not None else tool
        schema_key = next((k for k in ("parameters", "input_schema", "inputSchema") if k in f), None)
        schema = f[schema_key] if schema_key else None
        props = schema.get("properties") if schema is not None else None
        flat = (fn is None and tool.get("type") != "function"
                and schema_key in (None, "parameters") and not isinstance(props, dict))
        if flat:
            t = dict(tool)  # same key order; only the name value changes
            t["name"] = snake(tool["name"])
            out.append(t)
            continue
        t = {"name": snake(f["name"])}
        if "description" in f:
            t["description"] = f["description"]
        params = {}
        if schema is not None:
            if isinstance(props, dict):
                required = set(schema.get("required", []))
                for key, value in props.items():
                    value = dict(value) if isinstance(value, dict) else {"type": value}
                    value["required"] = key in required
                    params[key] = value
            elif all(isinstance(v, dict) for v in schema.values()):
                params = schema
        t["parameters"] = params
        out.append(t)
    return out


def c_literal(data):
    """A C++ string literal (used with the sv suffix) for arbitrary bytes."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    parts = ['"']
    for b in data:
        ch = chr(b)
        if ch in '"\\?':
            parts.append("\\" + ch)
        elif 0x20 <= b < 0x7F:
            parts.append(ch)
        else:
            parts.append("\\%03o" % b)  # three octal digits never swallow what follows
    parts.append('"sv')
    return "".join(parts)


def json_cases():
    texts = [
        '{"a":1,"b":2,"a":3}',
        '{"a":{"x":1},"b":[],"a":{"y":2},"c":0,"b":"last"}',
        '[0.1,1e-7,1e16,123456789012345678,123456789012345678.0,-0.0,-0,1.5e300,5e-324]',
        '[1.0,2.50,1E5,1e+2,1e-2,0.0001,0.00001,1e15,1e16,1e22,9007199254740993,2e-308]',
        '[123456789012345678901234567890,-98765432109876543210987654321,18446744073709551616,'
        '-9223372036854775809,9223372036854775807,18446744073709551615]',
        '[1e400,-1e400,1e-400,-1e-400]',
        '["caf\u00e9 na\u00efve \u65e5\u672c\u8a9e \u0417\u0434\u0440\u0430\u0432\u0441\u0442\u0432\u0443\u0439"]',
        json.dumps(["\U0001F600 \U0001F389 \U00010348 \U0010FFFF \uFFFF \u20ac"], ensure_ascii=False),
        '["\\u0000\\u0001\\u001f\\u007f\\b\\f\\n\\r\\t\\"\\\\\\/ /"]',
        '"\\ud83d\\ude00 escaped pair, \\u00e9 escaped e-acute"',
        '{"nested":{"a":[1,[2,[3,{"b":[true,false,null]}]]],"e":{},"f":[]}}',
        '  {\n  "spaced" :\t[ 1 , 2 ] ,\r\n "k" : "v" }  ',
        '{"":"empty key","\\u00e9":"escaped key","\u00e9t\u00e9":"raw key"}',
        '"just a string"', '42', '-0', '3.14', 'true', 'false', 'null', '[]', '{}',
    ]
    # Powers of two have lopsided rounding intervals: the hardest case for short floats.
    texts.append(dumps([2.0 ** e for e in range(-1074, 1024, 7)]))
    rng = random.Random(1234)
    doubles = []
    while len(doubles) < 300:
        d = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if d == d and abs(d) != float("inf"):
            doubles.append(d)
    texts.append(dumps(doubles))
    texts.append(dumps([rng.randint(-10 ** 6, 10 ** 6) / 10 ** rng.randint(0, 12) for _ in range(200)]))
    return [(t, dumps(json.loads(t))) for t in texts]


# Inputs Python's json.loads rejects (and so must we). The literal NaN/Infinity and lone
# surrogates, which Python accepts, are deliberately absent: see core/needle/json.hpp.
INVALID_JSON = [
    "", "   ", "[1,2", "[1,2,", "[1 2]", "[1,]", "[,1]", "[1,,2]", "{\"a\" 1}", "{\"a\":1,}",
    "{,}", "{\"a\"}", "{1:2}", "{\"a\":1 \"b\":2}", "{\"a\":1}x", "[] x", "[1]]", "{\"a\":{\"b\":1}",
    "[01]", "[1.]", "[-]", "[1e]", "[.5]", "[+1]", "[0x10]", "[tru]", "[truex]", "[nul]", "nul",
    "[True]", "'single'", "[\"abc", "[\"a\x01b\"]", "[\"tab\there\"]", "[\"\\x\"]", "[\"\\u12\"]",
    "12 34", "1.5 2", "\"a\" 1", "true 1", "null 1", "[1]/*c*/", "{\"a\":1}}",
]

# Bytes that are not UTF-8: (input, offset Python's decoder reports).
def invalid_utf8_cases():
    raw = [
        b'["\xff"]', b'["ok","\xc3"]', b'["\xc3\x28"]', b'["\xe2\x82"]', b'["\xe2\x82\x28"]',
        b'["\xed\xa0\x80"]', b'["\xf4\x90\x80\x80"]', b'["\xc0\xaf"]', b'["\xe0\x80\xaf"]',
        b'["\xf0\x8f\xbf\xbf"]', b'["\xf8\x88\x80\x80\x80"]', b'["caf\xc3\xa9","\x80"]',
        b'{"k\xfe":1}', b'["' + b"a" * 40 + b'\xf0\x9f\x98"]',
    ]
    cases = []
    for r in raw:
        try:
            r.decode("utf-8")
            raise SystemExit("not invalid: %r" % r)
        except UnicodeDecodeError as e:
            cases.append((r, e.start))
    return cases


SNAKE_NAMES = [
    "get_weather", "getWeather", "GetWeather", "GET_WEATHER", "get-weather", "HTTPServer",
    "getHTTPResponse2", "ABCWord", "aBCd", "ABCdEFg", "v2Beta", "2FA", "get2FACode", "x",
    "__private__", "a--b__c", "Get Weather Now", "snake_case_already", "camelCase", "PascalCase",
    "kebab-case-name", "UPPER_SNAKE_CASE", "dots.and/slashes", "with space", "tool123",
    "123tool", "m\u00e9t\u00e9o_actuelle", "getM\u00e9t\u00e9o", "\u5929\u6c17_weather",
    "emoji\U0001F600Tool", "XMLHttpRequest", "IOError", "iPhone", "ID", "userID", "getURLs",
    "a1B2c3", "_leading", "trailing_", "A", "AB", "ABc", "Ab", "lowerUPPER", "UPPERlower",
]


def fixture_names():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared",
                        "fixtures", "needle_real_e2e_560.json")
    names = set()
    with open(path) as fh:
        for ex in json.load(fh)["examples"]:
            names.update(t["name"] for t in json.loads(ex["tools"]))
    return sorted(names)


def tool_cases():
    weather_schema = {"type": "object",
                      "properties": {"location": {"type": "string", "description": "City, e.g. Z\u00fcrich"},
                                     "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                                     "days": {"type": "integer", "minimum": 1, "default": 3}},
                      "required": ["location"]}
    cases = [
        # flat Needle form, names snake_cased in place, everything else untouched
        [{"name": "getWeather", "description": "Weather", "parameters": {"location": {"type": "string"}}}],
        [{"description": "name not first", "name": "Get-Time", "extra": [1, 2.5, None],
          "parameters": {"tz": {"type": "string", "required": True}}}],
        [{"name": "no_params"}],
        [{"name": "schema_without_properties", "parameters": {"type": "object"}}],
        [{"name": "odd_flat", "parameters": {"x": "string", "y": 3}}],
        # JSON Schema style
        [{"name": "get_weather", "description": "Get the weather", "parameters": weather_schema}],
        [{"name": "reqInPlace", "parameters": {"type": "object", "properties": {
            "a": {"type": "string", "required": ["x"], "title": "A"}, "b": {"required": True}},
            "required": ["b"]}}],
        [{"name": "nonObjectProps", "parameters": {"type": "object", "properties": {
            "a": "string", "b": ["string", "null"], "c": None}, "required": ["c", "zzz"]}}],
        [{"name": "emptyProps", "parameters": {"type": "object", "properties": {}}}],
        # OpenAI wrapped, OpenAI flat
        [{"type": "function", "function": {"name": "sendEmail", "description": "Send \u2709",
                                           "parameters": weather_schema, "strict": True}}],
        [{"type": "function", "function": {"name": "noParams"}}],
        [{"type": "function", "function": {"name": "flatInside", "parameters": {"q": {"type": "string"}}}}],
        [{"type": "function", "function": {"name": "schemaOnly", "parameters": {"type": "object"}}}],
        [{"type": "function", "name": "openai_flat", "description": "d", "parameters": weather_schema}],
        [{"type": "function", "name": "openaiFlatNoProps", "parameters": {}}],
        # Anthropic, MCP
        [{"name": "anthropicTool", "description": "uses input_schema", "input_schema": weather_schema}],
        [{"name": "mcp.tool", "title": "MCP Tool", "description": "uses inputSchema",
          "inputSchema": weather_schema, "outputSchema": {"type": "object"}, "annotations": {"readOnlyHint": True}}],
        [{"name": "anthropicEmpty", "input_schema": {"type": "object", "properties": {}}}],
        # a single object instead of an array
        {"name": "single", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}},
        {"name": "singleFlat", "parameters": {"q": {"type": "string"}}},
        # description of any JSON type is copied as is; unicode, floats and big ints survive
        [{"name": "descNull", "description": None, "input_schema": {"properties": {}}}],
        [{"name": "numbers", "description": "\U0001F600 \u65e5\u672c \"quoted\" \\ \n\t\u0001",
          "parameters": {"type": "object", "properties": {
              "x": {"type": "number", "default": 0.1, "minimum": -1e-7, "maximum": 1e16,
                    "enum": [5e-324, 1.5e300, -0.0, 123456789012345678901234567890]}}}}],
        # mixed formats in one list
        [{"name": "a_flat", "parameters": {}},
         {"type": "function", "function": {"name": "bWrapped", "parameters": weather_schema}},
         {"name": "cAnthropic", "input_schema": weather_schema},
         {"name": "dMcp", "inputSchema": {"type": "object", "properties": {"z": {"type": "boolean"}}}}],
        [],
    ]
    return [(dumps(c), dumps(canonicalize(c))) for c in cases]


def main():
    lines = ["// Generated by scripts/gen_tool_cases.py from Python " + sys.version.split()[0] +
             ". Do not edit.", "// NOLINTBEGIN", ""]
    lines.append("struct PyCase { std::string_view input; std::string_view expected; };")
    lines.append("")
    lines.append("// json.dumps(json.loads(input), separators=(\",\", \":\"))")
    lines.append("inline const PyCase kPyJsonCases[] = {")
    for inp, exp in json_cases():
        lines.append("    {%s,\n     %s}," % (c_literal(inp), c_literal(exp)))
    lines.append("};")
    lines.append("")
    lines.append("// Rejected by Python's json.loads.")
    lines.append("inline const std::string_view kInvalidJson[] = {")
    for inp in INVALID_JSON:
        try:
            json.loads(inp)
            raise SystemExit("Python accepts %r" % inp)
        except json.JSONDecodeError:
            pass
        lines.append("    %s," % c_literal(inp))
    lines.append("};")
    lines.append("")
    lines.append("struct Utf8Case { std::string_view input; std::size_t offset; };")
    lines.append("// Not UTF-8: the offset is UnicodeDecodeError.start.")
    lines.append("inline const Utf8Case kInvalidUtf8[] = {")
    for inp, off in invalid_utf8_cases():
        lines.append("    {%s, %d}," % (c_literal(inp), off))
    lines.append("};")
    lines.append("")
    lines.append("// json.dumps(input.decode(\"utf-8\", \"replace\")): how the writer shows bad bytes.")
    lines.append("inline const PyCase kReplaceCases[] = {")
    for raw in [b"\xff", b"a\xe2\x82Ab", b"\xf0\x9f\x98", b"\xf0\x9f\x98\x80\xf0\x9f", b"\xed\xa0\x80x",
                b"\xc0\xaf", b"\xe0\x80\xaf", b"\xf4\x90\x80\x80", b"ok\xc3", b"\x80\x80", b"\xc3\xa9\xff\xc3\xa9"]:
        lines.append("    {%s, %s}," % (c_literal(raw), c_literal(dumps(raw.decode("utf-8", "replace")))))
    lines.append("};")
    lines.append("")
    lines.append("// The section 7 snake_case rule, applied with Python's re.")
    lines.append("inline const PyCase kSnakeCases[] = {")
    for name in sorted(set(SNAKE_NAMES) | set(fixture_names())):
        lines.append("    {%s, %s}," % (c_literal(name), c_literal(snake(name))))
    lines.append("};")
    lines.append("")
    lines.append("// canonicalize() in scripts/gen_tool_cases.py, dumped by json.dumps.")
    lines.append("inline const PyCase kPyToolCases[] = {")
    for inp, exp in tool_cases():
        lines.append("    {%s,\n     %s}," % (c_literal(inp), c_literal(exp)))
    lines.append("};")
    lines.append("// NOLINTEND")
    with open(OUT, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
