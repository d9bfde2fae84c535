// needle::Tokenizer against the real SentencePiece library (the oracle, linked into the
// tests only): identical ids and decoded text on the fixture's queries and tool lists, on
// generated hard strings, and on small random models built here that exercise ties,
// UNUSED / CONTROL / USER_DEFINED pieces and every normaliser flag. Plus one test per
// class of malformed .model / vocab.txt.
#include <sentencepiece_processor.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "needle/tokenizer.hpp"

namespace {

using needle::ErrorCode;
using needle::PieceType;
using needle::Tokenizer;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Printable form of a test string for failure messages.
std::string show(std::string_view s) {
  std::string out = "\"";
  for (const char c : s.substr(0, 300)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F || c == '"' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  if (s.size() > 300) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out + "\"";
}

std::string show(const std::vector<int>& ids) {
  std::string out = "[";
  for (std::size_t i = 0; i < ids.size() && i < 60; ++i) {
    if (i > 0) out += ',';
    out += std::to_string(ids[i]);
  }
  return out + (ids.size() > 60 ? ",...]" : "]");
}

std::vector<int> to_int(const std::vector<std::int32_t>& v) { return {v.begin(), v.end()}; }

// ---- the oracle and our two loads of the generated tokenizer ---------------------------

struct Generated {
  std::string model_bytes, vocab_text;
  sentencepiece::SentencePieceProcessor sp;
  std::optional<Tokenizer> from_model, from_vocab;
  std::string error;  // why loading failed, if it did
};

const Generated& generated() {
  static Generated* g = [] {
    auto* g = new Generated;
    const std::string dir = NEEDLE_TESTDATA_DIR "/tokenizer/";
    g->model_bytes = read_file(dir + "needle_spm.model");
    g->vocab_text = read_file(dir + "vocab.txt");
    if (g->model_bytes.empty() || g->vocab_text.empty()) {
      g->error = "missing " + dir + "needle_spm.model / vocab.txt (made by scripts/make_tokenizer.py "
                 "at build time: build the needle_testdata target)";
      return g;
    }
    if (const auto st = g->sp.LoadFromSerializedProto(g->model_bytes); !st.ok()) {
      g->error = "SentencePiece cannot load the model: " + st.ToString();
      return g;
    }
    auto m = Tokenizer::from_model_proto(as_bytes(g->model_bytes));
    auto v = Tokenizer::from_vocab_text(g->vocab_text);
    if (!m.ok()) g->error = "from_model_proto: " + m.error().message;
    if (!v.ok()) g->error = "from_vocab_text: " + v.error().message;
    if (m.ok()) g->from_model = std::move(m).value();
    if (v.ok()) g->from_vocab = std::move(v).value();
    return g;
  }();
  return *g;
}

#define REQUIRE_GENERATED()                                  \
  const Generated& g = generated();                          \
  ASSERT_TRUE(g.error.empty()) << g.error;

// Encodes with both of our loads and with the library; ids, decoded text and the
// round trip must all agree.
::testing::AssertionResult same_as_library(const sentencepiece::SentencePieceProcessor& sp,
                                           const Tokenizer& ours, const Tokenizer* ours_too,
                                           std::string_view s) {
  std::vector<int> want;
  if (const auto st = sp.Encode(s, &want); !st.ok()) {
    return ::testing::AssertionFailure() << "library failed on " << show(s) << ": " << st.ToString();
  }
  const std::vector<int> got = to_int(ours.encode(s));
  if (got != want) {
    return ::testing::AssertionFailure() << "ids differ for " << show(s) << "\n  library " << show(want)
                                         << "\n  needle  " << show(got);
  }
  if (ours_too != nullptr) {
    const std::vector<int> got2 = to_int(ours_too->encode(s));
    if (got2 != want) {
      return ::testing::AssertionFailure() << "vocab.txt ids differ for " << show(s) << "\n  library "
                                           << show(want) << "\n  needle  " << show(got2);
    }
  }
  std::string want_text;
  if (const auto st = sp.Decode(want, &want_text); !st.ok()) {
    return ::testing::AssertionFailure() << "library decode failed: " << st.ToString();
  }
  const std::vector<std::int32_t> ids(got.begin(), got.end());
  const std::string got_text = ours.decode(ids);
  if (got_text != want_text) {
    return ::testing::AssertionFailure() << "decode(encode(" << show(s) << ")) differs\n  library "
                                         << show(want_text) << "\n  needle  " << show(got_text);
  }
  if (ours_too != nullptr && ours_too->decode(ids) != want_text) {
    return ::testing::AssertionFailure() << "vocab.txt decode differs for " << show(s);
  }
  return ::testing::AssertionSuccess();
}

// ---- the fixture's queries and tool lists ----------------------------------------------

// Reads one JSON string literal starting at s[i] == '"'; advances i past it.
std::string json_string(std::string_view s, std::size_t& i) {
  std::string out;
  const auto put_utf8 = [&](std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | cp >> 6);
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | cp >> 12);
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | cp >> 18);
      out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  };
  const auto hex4 = [&](std::size_t at) { return static_cast<std::uint32_t>(std::stoul(std::string(s.substr(at, 4)), nullptr, 16)); };
  for (++i; i < s.size() && s[i] != '"'; ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    const char e = s[++i];
    switch (e) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'u': {
        std::uint32_t cp = hex4(i + 1);
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && s.substr(i + 1, 2) == "\\u") {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(i + 3) - 0xDC00);
          i += 6;
        }
        put_utf8(cp);
        break;
      }
      default: out += e;  // \" \\ \/
    }
  }
  ++i;
  return out;
}

// Every string value whose key is `query` or `tools`, walking the JSON token by token so
// that keys inside string values are never mistaken for keys.
std::vector<std::string> fixture_strings() {
  const std::string json = read_file(NEEDLE_FIXTURES_DIR "/needle_real_e2e_560.json");
  std::vector<std::string> out;
  bool want_value = false;
  for (std::size_t i = 0; i < json.size();) {
    if (json[i] != '"') {
      if (json[i] != ':' && !std::isspace(static_cast<unsigned char>(json[i]))) want_value = false;
      ++i;
      continue;
    }
    std::string str = json_string(json, i);
    std::size_t j = i;
    while (j < json.size() && std::isspace(static_cast<unsigned char>(json[j]))) ++j;
    const bool is_key = j < json.size() && json[j] == ':';
    if (is_key) {
      want_value = str == "query" || str == "tools";
    } else if (want_value) {
      out.push_back(std::move(str));
      want_value = false;
    }
  }
  return out;
}

TEST(TokenizerParity, FixtureQueriesAndToolLists) {
  REQUIRE_GENERATED();
  const std::vector<std::string> strings = fixture_strings();
  ASSERT_EQ(strings.size(), 2u * 560) << "expected a query and a tools string per example";
  int failures = 0;
  for (const std::string& s : strings) {
    const auto r = same_as_library(g.sp, *g.from_model, &*g.from_vocab, s);
    EXPECT_TRUE(r);
    if (!r && ++failures > 5) break;
  }
}

// ---- generated hard strings ------------------------------------------------------------

const std::vector<std::string>& edge_cases() {
  static const std::vector<std::string> cases = {
      "", " ", "   ", "\t", "\n", " \n ", "a", " a", "a ", "  a  b   c  ", "a\tb", "a\nb",
      "a \t b", "\r\n", "hello\x01world", std::string("nul\0byte", 8), std::string(1, '\0'),
      "\x7F", "<tool_call>", "<tools>", " <tools> ", "<tool_call><tools>", "x<tool_call>y",
      "word<tools>word", "<tool_call>[{\"name\":\"f\"}]", "<tool", "tools>", "<<tools>>",
      "<tool_call", "<tools<tools>>", "<TOOLS>", "\xE2\x96\x81", "\xE2\x96\x81\xE2\x96\x81",
      "a\xE2\x96\x81", "\xE2\x96\x81" "a", " \xE2\x96\x81 ", "a \xE2\x96\x81 b",
      "\xE2\x96\x81\xE2\x96\x81hello", "\xFF", "\xC3", "a\xC3", "\xC3(", "\xC0\xAF",
      "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xF0\x9F\x98", "\xF0\x9F\x98\x80", "\xEF\xBF\xBD",
      "\x80\x80\x80", "\xF8\x88\x80\x80\x80", "caf\xC3\xA9", "cafe\xCC\x81", "e\xCC\x81\xCC\x81",
      "\xE6\x9D\xB1\xE4\xBA\xAC", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7",
      "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9", "\xE2\x80\x8B", "\xC2\xA0nbsp\xC2\xA0",
      "\xE3\x80\x80ideographic space", "0", "00000", "3.14159", "-42", "2024-03-15T14:30:00Z",
      "+1 (555) 123-4567", "{\"a\":1}", "[]", "\\u00e9", "\"\"", "''", "...", "!!!???",
      "What's the weather in Paris?", "   What's   the weather   ", "\xF0\x9D\x94\x98",
      "\xEA\x99\xAE", "\xF0\x93\x80\x80", "\xE1\x9A\xA0", "<0x41>", "<unk>", "<s>", "</s>", "<pad>",
  };
  return cases;
}

// Fragments the generator glues together; each one is a known hard case.
const std::vector<std::string>& fragments() {
  static const std::vector<std::string> f = {
      "the", "weather", "get_weather", "Paris", "New York", "send", "email", "tomorrow",
      " ", "  ", "   ", "\t", "\n", "\r", "\x01", "\x1F", std::string(1, '\0'), "\x7F",
      "<tool_call>", "<tools>", "<tool", "call>", "<", ">", "_", "\"", "{", "}", "[", "]",
      ":", ",", "\\n", "\xE2\x96\x81", "\xEF\xBF\xBD", "\xC3\xA9", "e\xCC\x81", "\xCC\x81",
      "\xE6\x9D\xB1\xE4\xBA\xAC", "\xE5\xA4\xA9\xE6\xB0\x97", "\xED\x95\x9C", "\xD0\x9C\xD0\xBE",
      "\xCE\xB1", "\xD8\xB3", "\xE0\xA4\xA8", "\xF0\x9F\x98\x80", "\xF0\x9F\x8E\x89",
      "\xE2\x80\x8D", "\xEF\xB8\x8F", "\xF0\x9F\xA6\x9C", "\xF0\x9D\x94\x98", "\xFF", "\xFE",
      "\x80", "\xC3", "\xE2\x96", "\xF0\x9F", "\xED\xA0\x80", "\xC0\x80", "42", "3.5",
      "2025-01-31", "12:30", "\xE2\x82\xAC", "$", "%", "@", "#", "~", "`", "|",
  };
  return f;
}

std::vector<std::string> generated_strings(const std::string& corpus, std::size_t count) {
  std::mt19937 rng(1234);
  const auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  std::vector<std::string> corpus_lines;
  for (std::size_t pos = 0; pos < corpus.size();) {
    const std::size_t nl = std::min(corpus.find('\n', pos), corpus.size());
    corpus_lines.push_back(corpus.substr(pos, nl - pos));
    pos = nl + 1;
  }
  std::vector<std::string> out;
  while (out.size() < count) {
    std::string s;
    switch (pick(5)) {
      case 0:  // glued fragments
        for (std::size_t n = 1 + pick(12); n > 0; --n) s += fragments()[pick(fragments().size())];
        break;
      case 1: {  // a corpus line cut at arbitrary bytes (may split a UTF-8 sequence)
        const std::string& line = corpus_lines[pick(corpus_lines.size())];
        const std::size_t a = pick(line.size() + 1), b = pick(line.size() + 1);
        s = line.substr(std::min(a, b), std::max(a, b) - std::min(a, b));
        break;
      }
      case 2: {  // a corpus line with fragments spliced in
        s = corpus_lines[pick(corpus_lines.size())];
        for (std::size_t n = 1 + pick(4); n > 0; --n) {
          s.insert(pick(s.size() + 1), fragments()[pick(fragments().size())]);
        }
        break;
      }
      case 3:  // random bytes, biased to space and UTF-8 lead / continuation bytes
        for (std::size_t n = pick(40); n > 0; --n) {
          static const unsigned char kBias[] = {' ', ' ', 'a', 'e', '<', '>', 0x80, 0xBF,
                                                0xC3, 0xE2, 0x96, 0x81, 0xF0, 0x9F, 0xFF, 0};
          s += static_cast<char>(pick(2) ? kBias[pick(sizeof kBias)] : pick(256));
        }
        break;
      default:  // two corpus lines with odd whitespace between and around
        s = fragments()[8 + pick(8)] + corpus_lines[pick(corpus_lines.size())] +
            fragments()[8 + pick(8)] + corpus_lines[pick(corpus_lines.size())] +
            fragments()[8 + pick(8)];
    }
    out.push_back(std::move(s));
  }
  return out;
}

TEST(TokenizerParity, EdgeCases) {
  REQUIRE_GENERATED();
  for (const std::string& s : edge_cases()) {
    EXPECT_TRUE(same_as_library(g.sp, *g.from_model, &*g.from_vocab, s));
  }
}

TEST(TokenizerParity, GeneratedStrings) {
  REQUIRE_GENERATED();
  const std::string corpus = read_file(NEEDLE_TESTDATA_DIR "/tokenizer/corpus.txt");
  ASSERT_FALSE(corpus.empty());
  const auto strings = generated_strings(corpus, 3000);
  int failures = 0;
  for (const std::string& s : strings) {
    const auto r = same_as_library(g.sp, *g.from_model, &*g.from_vocab, s);
    EXPECT_TRUE(r);
    if (!r && ++failures > 5) break;
  }
}

TEST(TokenizerParity, LongStrings) {
  REQUIRE_GENERATED();
  const std::string corpus = read_file(NEEDLE_TESTDATA_DIR "/tokenizer/corpus.txt");
  ASSERT_GT(corpus.size(), 1'000'000u);
  const std::vector<std::string> longs = {
      corpus.substr(0, 1'000'000),          // 1 MB of mixed text, newlines included
      std::string(200'000, 'a'),            // one huge "word": every pair mergeable
      std::string(100'000, ' ') + "x" + std::string(100'000, ' '),
      [] { std::string s; while (s.size() < 150'000) s += "<tools>\xE2\x96\x81\xF0\x9F\x98\x80 "; return s; }(),
  };
  for (const std::string& s : longs) EXPECT_TRUE(same_as_library(g.sp, *g.from_model, nullptr, s));
}

// No quadratic merge loop: bench_tokenizer prints the 100 KB -> 800 KB scaling (tests assert
// behaviour, benchmarks measure time).

// Decoding arbitrary id sequences (not only what encode produces): byte runs that are
// not valid UTF-8, control and unknown pieces, leading-▁ handling.
TEST(TokenizerParity, DecodeRandomIds) {
  REQUIRE_GENERATED();
  std::mt19937 rng(99);
  const int n = g.from_model->vocab_size();
  for (int round = 0; round < 2000; ++round) {
    std::vector<int> ids(rng() % 12);
    for (int& id : ids) {
      switch (rng() % 4) {
        case 0: id = static_cast<int>(rng() % 6); break;          // specials
        case 1: id = 6 + static_cast<int>(rng() % 256); break;    // bytes
        default: id = static_cast<int>(rng() % n);
      }
    }
    std::string want;
    ASSERT_TRUE(g.sp.Decode(ids, &want).ok());
    const std::vector<std::int32_t> ids32(ids.begin(), ids.end());
    EXPECT_EQ(g.from_model->decode(ids32), want) << show(ids);
    EXPECT_EQ(g.from_vocab->decode(ids32), want) << show(ids);
  }
}

TEST(TokenizerDecode, SkipsIdsOutOfRange) {
  REQUIRE_GENERATED();
  const Tokenizer& t = *g.from_model;
  const int hello = t.find_piece("\xE2\x96\x81" "a");
  ASSERT_GE(hello, 0);
  const std::vector<std::int32_t> ids = {-1, hello, t.vocab_size(), 1 << 30};
  EXPECT_EQ(t.decode(ids), "a");
}

TEST(TokenizerEncode, DefaultConstructedIsEmptyAndSafe) {
  const Tokenizer t;
  EXPECT_EQ(t.vocab_size(), 0);
  EXPECT_TRUE(t.encode("hello <tools> world").empty());
  EXPECT_EQ(t.decode(std::vector<std::int32_t>{0, 1, 2}), "");
  EXPECT_EQ(t.find_piece("a"), -1);
  EXPECT_EQ(t.token_text(0), "");
}

// ---- the piece table -------------------------------------------------------------------

TEST(TokenizerPieces, MatchLibraryForEveryId) {
  REQUIRE_GENERATED();
  ASSERT_EQ(g.from_model->vocab_size(), g.sp.GetPieceSize());
  ASSERT_EQ(g.from_vocab->vocab_size(), g.sp.GetPieceSize());
  for (int id = 0; id < g.sp.GetPieceSize(); ++id) {
    const std::string piece = g.sp.IdToPiece(id);
    for (const Tokenizer* t : {&*g.from_model, &*g.from_vocab}) {
      ASSERT_EQ(t->piece(id), piece) << "id " << id;
      ASSERT_EQ(t->score(id), g.sp.GetScore(id)) << "id " << id;
      ASSERT_EQ(t->find_piece(piece), id);
      const PieceType type = t->piece_type(id);
      ASSERT_EQ(type == PieceType::kControl, g.sp.IsControl(id)) << "id " << id << " " << piece;
      ASSERT_EQ(type == PieceType::kUnknown, g.sp.IsUnknown(id)) << "id " << id << " " << piece;
      ASSERT_EQ(type == PieceType::kByte, g.sp.IsByte(id)) << "id " << id << " " << piece;
      ASSERT_EQ(type == PieceType::kUnused, g.sp.IsUnused(id)) << "id " << id << " " << piece;
      // token_text from its definition, built independently here.
      std::string want;
      if (g.sp.IsByte(id)) {
        want = std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
      } else if (!g.sp.IsControl(id) && !g.sp.IsUnknown(id)) {
        for (std::size_t i = 0; i < piece.size();) {
          if (piece.compare(i, 3, "\xE2\x96\x81") == 0) { want += ' '; i += 3; }
          else want += piece[i++];
        }
      }
      ASSERT_EQ(t->token_text(id), want) << "id " << id << " " << piece;
    }
    // Both loads infer the same types, so user-defined pieces are found from vocab.txt.
    ASSERT_EQ(g.from_model->piece_type(id), g.from_vocab->piece_type(id)) << "id " << id << " " << piece;
  }
  EXPECT_EQ(g.from_model->piece(-1), "");
  EXPECT_EQ(g.from_model->token_text(g.sp.GetPieceSize()), "");
  EXPECT_EQ(g.from_model->find_piece("no such piece"), -1);
}

TEST(TokenizerPieces, NeedleLayout) {
  REQUIRE_GENERATED();
  for (const Tokenizer* t : {&*g.from_model, &*g.from_vocab}) {
    EXPECT_EQ(t->vocab_size(), 8192);
    EXPECT_EQ(t->pad_id(), 0);
    EXPECT_EQ(t->eos_id(), 1);
    EXPECT_EQ(t->bos_id(), 2);
    EXPECT_EQ(t->unk_id(), 3);
    EXPECT_EQ(t->piece(4), "<tool_call>");
    EXPECT_EQ(t->piece_type(4), PieceType::kUserDefined);
    EXPECT_EQ(t->piece(5), "<tools>");
    EXPECT_EQ(t->piece_type(5), PieceType::kUserDefined);
    EXPECT_EQ(t->piece(6), "<0x00>");
    EXPECT_EQ(t->piece(261), "<0xFF>");
    EXPECT_EQ(t->token_text(6 + 'A'), "A");
    EXPECT_TRUE(t->byte_fallback() && t->add_dummy_prefix() && t->remove_extra_whitespaces() &&
                t->escape_whitespaces());
    // User-defined symbols are whole units even inside words, and never at their edges.
    const auto ids = t->encode("x<tool_call>y<tools>z");
    EXPECT_EQ(std::count(ids.begin(), ids.end(), 4), 1);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), 5), 1);
    EXPECT_TRUE(t->encode("").empty());
    EXPECT_TRUE(t->encode("  \xE2\x96\x81 ").empty());  // trailing ▁ is stripped like a space
  }
}

// ---- small random models: ties, UNUSED / CONTROL / USER_DEFINED, normaliser flags -------

// Writes protobuf wire format, enough for a ModelProto.
struct Proto {
  std::string bytes;
  Proto& varint(std::uint64_t v) {
    while (v >= 0x80) { bytes += static_cast<char>(v | 0x80); v >>= 7; }
    bytes += static_cast<char>(v);
    return *this;
  }
  Proto& tag(int field, int wire) { return varint(static_cast<std::uint64_t>(field) << 3 | wire); }
  Proto& num(int field, std::int64_t v) { return tag(field, 0).varint(static_cast<std::uint64_t>(v)); }
  Proto& str(int field, std::string_view s) { tag(field, 2).varint(s.size()); bytes += s; return *this; }
  Proto& f32(int field, float f) {
    tag(field, 5);
    char b[4];
    std::memcpy(b, &f, 4);  // little-endian hosts only, like the wire format
    bytes.append(b, 4);
    return *this;
  }
};

struct RandomPiece {
  std::string piece;
  float score;
  PieceType type;
};

struct Flags {
  bool byte_fallback = true, add_dummy_prefix = true, remove_extra = true, escape = true;
};

std::string model_proto(const std::vector<RandomPiece>& pieces, const Flags& f, int unk_id,
                        int model_type = 2) {
  Proto m;
  for (const auto& p : pieces) {
    Proto sp;
    sp.str(1, p.piece).f32(2, p.score).num(3, static_cast<int>(p.type));
    m.str(1, sp.bytes);
  }
  Proto trainer;
  trainer.num(3, model_type).num(35, f.byte_fallback).num(40, unk_id).num(41, -1).num(42, -1).num(43, -1);
  m.str(2, trainer.bytes);
  Proto norm;
  norm.str(1, "identity").num(3, f.add_dummy_prefix).num(4, f.remove_extra).num(5, f.escape);
  m.str(3, norm.bytes);
  return m.bytes;
}

TEST(TokenizerParity, RandomSmallModels) {
  // Characters of the toy alphabet; 'z', CJK and emoji stay out of the vocabulary.
  const std::vector<std::string> alphabet = {"a", "b", "c", "d", "\xE2\x96\x81", "\xC3\xA9", "<", ">", "x"};
  const std::vector<std::string> extra = {" ", "  ", "z", "\xE6\x9D\xB1", "\xF0\x9F\x98\x80", "\xFF",
                                          "\xC3", "\t", "<x>", "ab", "<ab>"};
  std::mt19937 rng(7);
  const auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  int checked = 0;
  for (int model = 0; model < 150; ++model) {
    Flags flags{pick(2) == 0, pick(4) != 0, pick(4) != 0, pick(5) != 0};
    std::vector<RandomPiece> pieces = {{"<unk>", 0, PieceType::kUnknown}, {"<s>", 0, PieceType::kControl}};
    if (flags.byte_fallback) {
      for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        pieces.push_back({name, 0, PieceType::kByte});
      }
    }
    std::vector<std::string> seen;
    const auto add = [&](const std::string& s, float score, PieceType type) {
      if (std::find(seen.begin(), seen.end(), s) != seen.end()) return;
      seen.push_back(s);
      pieces.push_back({s, score, type});
    };
    if (pick(2)) add("<x>", 0, PieceType::kUserDefined);
    if (pick(3) == 0) add("\xE2\x96\x81" "b", 0, PieceType::kUserDefined);
    for (std::size_t i = 0; i < alphabet.size(); ++i) {
      if (pick(8) != 0) add(alphabet[i], -100.0f - static_cast<float>(i), PieceType::kNormal);
    }
    for (int k = 0, n = 10 + static_cast<int>(pick(40)); k < n; ++k) {
      std::string s;
      for (std::size_t len = 2 + pick(3); len > 0; --len) s += alphabet[pick(alphabet.size())];
      // Few distinct scores, so equal-score ties are common; +0 and -0 tie as well.
      float score = -static_cast<float>(pick(6));
      if (score == 0.0f && pick(2)) score = 0.0f;
      // Half the models have no UNUSED piece: encode then merges run by run (see
      // Tokenizer::encode), the other half use one global queue.
      const std::size_t r = pick(20);
      const bool unused_ok = model % 2 == 1;
      const PieceType type = r == 0                ? PieceType::kControl
                             : r < 4 && unused_ok ? PieceType::kUnused
                                                  : PieceType::kNormal;
      add(s, score, type);
    }
    const std::string bytes = model_proto(pieces, flags, 0);
    sentencepiece::SentencePieceProcessor sp;
    ASSERT_TRUE(sp.LoadFromSerializedProto(bytes).ok()) << "model " << model;
    auto ours = Tokenizer::from_model_proto(as_bytes(bytes));
    ASSERT_TRUE(ours.ok()) << ours.error().message;
    for (int k = 0; k < 60; ++k) {
      std::string s;
      for (std::size_t len = pick(14); len > 0; --len) {
        s += pick(5) ? alphabet[pick(alphabet.size())] : extra[pick(extra.size())];
      }
      const auto r = same_as_library(sp, *ours, nullptr, s);
      ASSERT_TRUE(r) << "model " << model << " flags bf=" << flags.byte_fallback
                     << " dummy=" << flags.add_dummy_prefix << " remove=" << flags.remove_extra
                     << " escape=" << flags.escape;
      ++checked;
    }
    // Decoding arbitrary ids too (UNUSED and CONTROL pieces, ▁ handling per flags).
    for (int k = 0; k < 20; ++k) {
      std::vector<int> ids(pick(8));
      for (int& id : ids) id = static_cast<int>(pick(pieces.size()));
      std::string want;
      ASSERT_TRUE(sp.Decode(ids, &want).ok());
      EXPECT_EQ(ours->decode(std::vector<std::int32_t>(ids.begin(), ids.end())), want)
          << "model " << model << " ids " << show(ids);
    }
  }
  EXPECT_EQ(checked, 150 * 60);
}

// ---- loading and malformed input -------------------------------------------------------

void expect_bad(const needle::Result<Tokenizer>& r, std::initializer_list<std::string_view> words) {
  ASSERT_FALSE(r.ok()) << "loaded although malformed";
  EXPECT_EQ(r.error().code, ErrorCode::kBadTokenizer);
  for (const std::string_view w : words) {
    EXPECT_NE(r.error().message.find(w), std::string::npos)
        << "message \"" << r.error().message << "\" should mention \"" << w << "\"";
  }
}

TEST(TokenizerLoad, DetectsFormat) {
  REQUIRE_GENERATED();
  auto m = Tokenizer::load(as_bytes(g.model_bytes));
  auto v = Tokenizer::load(as_bytes(g.vocab_text));
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_TRUE(v.ok()) << v.error().message;
  const std::string s = "Book a table for 2 at 7pm <tools> [{\"name\":\"book\"}]";
  EXPECT_EQ(m->encode(s), g.from_model->encode(s));
  EXPECT_EQ(v->encode(s), g.from_model->encode(s));
  expect_bad(Tokenizer::load({}), {"empty"});
}

TEST(TokenizerLoad, VocabTextVariants) {
  // CRLF line endings, a BOM, Python-style float scores, no final newline, a TAB piece.
  std::string text = "\xEF\xBB\xBF<pad>\t0.0\r\n</s>\t0.0\r\n<s>\t0.0\r\n<unk>\t0.0\r\n<tool_call>\t0.0\r\n";
  text += "\xE2\x96\x81" "a\t-0.0\r\n\t\t-1.0\r\na\t-2.0\r\n\xE2\x96\x81\t-3.0\r\nb\t-4.5e+00";
  auto t = Tokenizer::from_vocab_text(text);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->vocab_size(), 10);
  EXPECT_EQ(t->piece_type(4), PieceType::kUserDefined);
  EXPECT_EQ(t->piece_type(5), PieceType::kNormal);  // "-0.0" ends the meta block
  EXPECT_EQ(t->piece(6), "\t");
  EXPECT_EQ(t->score(9), -4.5f);
  EXPECT_FALSE(t->byte_fallback());
  // No byte pieces: unknown characters become one <unk> per run.
  EXPECT_EQ(t->encode("a zz<tool_call>a"), (std::vector<std::int32_t>{5, 8, 3, 4, 7}));
  EXPECT_EQ(t->decode(std::vector<std::int32_t>{5, 3, 4, 1}), "a \xE2\x81\x87 <tool_call>");
}

// The legacy one-piece-per-line vocab.txt (no scores): learned pieces ranked by id.
TEST(TokenizerLoad, VocabWithoutScoresEncodesTheSame) {
  REQUIRE_GENERATED();
  std::string plain, plain_crlf;
  for (std::size_t pos = 0; pos < g.vocab_text.size();) {
    const std::size_t nl = g.vocab_text.find('\n', pos);
    const std::string line = g.vocab_text.substr(pos, nl - pos);
    plain += line.substr(0, line.rfind('\t')) + "\n";
    plain_crlf += line.substr(0, line.rfind('\t')) + "\r\n";
    pos = nl + 1;
  }
  ASSERT_EQ(plain.find('\t'), std::string::npos);
  auto t = Tokenizer::load(as_bytes(plain));
  auto t_crlf = Tokenizer::from_vocab_text(plain_crlf);
  ASSERT_TRUE(t.ok()) << t.error().message;
  ASSERT_TRUE(t_crlf.ok()) << t_crlf.error().message;
  ASSERT_EQ(t->vocab_size(), g.from_model->vocab_size());
  for (int id = 0; id < t->vocab_size(); ++id) {
    ASSERT_EQ(t->piece(id), g.from_model->piece(id));
    ASSERT_EQ(t->piece_type(id), g.from_model->piece_type(id)) << "id " << id << " " << t->piece(id);
    ASSERT_EQ(t_crlf->piece(id), g.from_model->piece(id));
  }
  std::vector<std::string> strings = fixture_strings();
  const auto more = generated_strings(read_file(NEEDLE_TESTDATA_DIR "/tokenizer/corpus.txt"), 500);
  strings.insert(strings.end(), more.begin(), more.end());
  for (const std::string& s : strings) {
    const auto want = g.from_model->encode(s);
    ASSERT_EQ(t->encode(s), want) << show(s);
    ASSERT_EQ(t_crlf->encode(s), want) << show(s);
  }
}

TEST(TokenizerLoad, TruncatedModel) {
  REQUIRE_GENERATED();
  // Cut inside the first piece's bytes: the length prefix promises more than remains.
  expect_bad(Tokenizer::from_model_proto(as_bytes(std::string_view(g.model_bytes).substr(0, 5))),
             {"ModelProto: field 1 at byte 0", "remain", "truncated"});
  // Cut inside a varint.
  expect_bad(Tokenizer::from_model_proto(as_bytes("\x0A\x85")), {"truncated varint", "byte 1"});
  // Every cut through the first 300 bytes and a spread of later ones: an error, never a
  // crash or a read past the end (run under ASan to see the latter). The last bytes are
  // the optional normalizer_spec: without it the model is complete, so no cut there.
  for (std::size_t cut = 0; cut + 64 < g.model_bytes.size(); cut += cut < 300 ? 1 : 997) {
    auto r = Tokenizer::from_model_proto(as_bytes(std::string_view(g.model_bytes).substr(0, cut)));
    ASSERT_FALSE(r.ok()) << "cut at " << cut;
    EXPECT_EQ(r.error().code, ErrorCode::kBadTokenizer);
  }
}

TEST(TokenizerLoad, WrongWireType) {
  expect_bad(Tokenizer::from_model_proto(as_bytes(std::string("\x08\x01", 2))),
             {"ModelProto.pieces", "wire type varint", "expected length-delimited"});
  Proto piece;
  piece.str(1, "a").num(2, 5);  // score as a varint instead of fixed32
  Proto m;
  m.str(1, piece.bytes);
  expect_bad(Tokenizer::from_model_proto(as_bytes(m.bytes)), {"pieces[0].score", "expected fixed32"});
  expect_bad(Tokenizer::from_model_proto(as_bytes(std::string("\x0B\x00", 2))), {"wire type 3"});
}

TEST(TokenizerLoad, BadPieceType) {
  Proto piece;
  piece.str(1, "a").f32(2, 0).num(3, 9);
  Proto m;
  m.str(1, piece.bytes);
  expect_bad(Tokenizer::from_model_proto(as_bytes(m.bytes)), {"pieces[0].type = 9"});
}

TEST(TokenizerLoad, NonBpeModel) {
  const std::vector<RandomPiece> pieces = {{"<unk>", 0, PieceType::kUnknown}, {"a", -1, PieceType::kNormal}};
  expect_bad(Tokenizer::from_model_proto(as_bytes(model_proto(pieces, Flags{false}, 0, /*UNIGRAM*/ 1))),
             {"UNIGRAM", "only BPE"});
  // A model without trainer_spec is UNIGRAM by proto default.
  Proto m;
  m.str(1, Proto().str(1, "<unk>").num(3, 2).bytes);
  expect_bad(Tokenizer::from_model_proto(as_bytes(m.bytes)), {"UNIGRAM"});
}

TEST(TokenizerLoad, NonIdentityNormalizer) {
  REQUIRE_GENERATED();
  Proto norm;
  norm.str(1, "nmt_nfkc").str(2, "\x04\x00\x00\x00 charsmap");
  const std::string bytes = g.model_bytes + Proto().str(3, norm.bytes).bytes;  // later field wins
  expect_bad(Tokenizer::from_model_proto(as_bytes(bytes)), {"nmt_nfkc", "precompiled_charsmap", "identity"});
}

TEST(TokenizerLoad, EmptyVocabulary) {
  Proto trainer;
  trainer.num(3, 2);
  expect_bad(Tokenizer::from_model_proto(as_bytes(Proto().str(2, trainer.bytes).bytes)), {"vocabulary is empty"});
  expect_bad(Tokenizer::from_vocab_text(""), {"vocab.txt", "empty"});
}

TEST(TokenizerLoad, DuplicatePieces) {
  const std::vector<RandomPiece> pieces = {{"<unk>", 0, PieceType::kUnknown}, {"ab", -1, PieceType::kNormal},
                                           {"a", -2, PieceType::kNormal}, {"ab", -3, PieceType::kUnused}};
  expect_bad(Tokenizer::from_model_proto(as_bytes(model_proto(pieces, Flags{false}, 0))),
             {"duplicate piece 'ab' (id 3)", "id 1"});
  expect_bad(Tokenizer::from_vocab_text("<pad>\t0\n</s>\t0\n<s>\t0\n<unk>\t0\nx\t-1\ny\t-2\nx\t-3\n"),
             {"duplicate piece 'x' (line 7)", "line 5"});
}

TEST(TokenizerLoad, VocabTooSmallForSpecialIds) {
  expect_bad(Tokenizer::from_vocab_text("<pad>\t0\n</s>\t0\n"), {"2 pieces", "special ids"});
  // A .model whose trainer ids point past the vocabulary.
  const std::vector<RandomPiece> pieces = {{"<unk>", 0, PieceType::kUnknown}, {"a", -1, PieceType::kNormal}};
  expect_bad(Tokenizer::from_model_proto(as_bytes(model_proto(pieces, Flags{false}, 3))),
             {"unk_id = 3", "2-piece"});
  expect_bad(Tokenizer::from_vocab_text("<pad>\t0\n</s>\t0\n<s>\t0\nx\t-1\n"), {"UNKNOWN"});
}

TEST(TokenizerLoad, BadScore) {
  expect_bad(Tokenizer::from_vocab_text("<pad>\t0\n</s>\t0\n<s>\tzero\n"), {"line 3", "'zero'", "not a finite number"});
  expect_bad(Tokenizer::from_vocab_text("<pad>\t0\n</s>\t\n"), {"line 2", "not a finite number"});
  expect_bad(Tokenizer::from_vocab_text("<pad>\t0\n</s>\tnan\n"), {"line 2"});
  expect_bad(Tokenizer::from_vocab_text("<pad>\t0\n</s>\t-1x\n"), {"line 2", "'-1x'"});
  const std::vector<RandomPiece> pieces = {{"<unk>", 0, PieceType::kUnknown}, {"a", NAN, PieceType::kNormal}};
  expect_bad(Tokenizer::from_model_proto(as_bytes(model_proto(pieces, Flags{false}, 0))),
             {"piece 'a' (id 1)", "non-finite score"});
}

TEST(TokenizerLoad, MalformedVocabLines) {
  expect_bad(Tokenizer::from_vocab_text("<pad>\t0\n</s> 0\n"), {"line 2", "no TAB"});
  expect_bad(Tokenizer::from_vocab_text("<pad>\t0\n\n<s>\t0\n"), {"line 2", "no TAB"});
  expect_bad(Tokenizer::from_vocab_text("<pad>\t0\n\t0\n"), {"line 2", "empty piece"});
}

TEST(TokenizerLoad, BytePieceProblems) {
  std::vector<RandomPiece> pieces = {{"<unk>", 0, PieceType::kUnknown}, {"<0x41>", 0, PieceType::kByte}};
  expect_bad(Tokenizer::from_model_proto(as_bytes(model_proto(pieces, Flags{true}, 0))),
             {"only 1 of the 256 byte pieces"});
  expect_bad(Tokenizer::from_model_proto(as_bytes(model_proto(pieces, Flags{false}, 0))),
             {"'<0x41>'", "byte_fallback is off"});
  pieces[1].piece = "<0x4g>";
  expect_bad(Tokenizer::from_model_proto(as_bytes(model_proto(pieces, Flags{true}, 0))),
             {"'<0x4g>'", "not of the form <0xNN>"});
}

TEST(TokenizerLoad, ModelWithoutUnknownPiece) {
  const std::vector<RandomPiece> pieces = {{"<s>", 0, PieceType::kControl}, {"a", -1, PieceType::kNormal}};
  expect_bad(Tokenizer::from_model_proto(as_bytes(model_proto(pieces, Flags{false}, 0))),
             {"unk_id = 0", "UNKNOWN"});
}

}  // namespace
