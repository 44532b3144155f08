// JSON with exact number text, and YAML 1.1 <-> JSON as Kubernetes reads YAML (spec §3, §7, §9).
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "core/yaml_json.hpp"

namespace nodealloc {
namespace {

json::Document parsed(std::string_view text) {
  auto doc = json::parse(text);
  REQUIRE_MESSAGE(doc.ok(), (doc.ok() ? "" : doc.error().message));
  return std::move(doc.value());
}

std::string parse_error(std::string_view text) {
  auto doc = json::parse(text);
  REQUIRE_MESSAGE(!doc.ok(), "parsed: " << text);
  return doc.error().message;
}

// "Type:json" of resolve_plain, e.g. "Int:31", "Bool:true", "String:".
std::string typed(std::string_view plain) {
  static constexpr const char* kNames[] = {"Null", "Bool", "Int", "Float", "String"};
  const yaml::Scalar s = yaml::resolve_plain(plain);
  return std::string(kNames[static_cast<int>(s.type)]) + ":" + s.json;
}

std::vector<std::string> yaml_docs_as_json(std::string_view text) {
  auto docs = yaml::load_all(text);
  REQUIRE_MESSAGE(docs.ok(), (docs.ok() ? "" : docs.error().message));
  std::vector<std::string> out;
  for (const auto& d : docs.value()) out.push_back(json::write(d));
  return out;
}

std::string yaml_as_json(std::string_view text) {
  auto all = yaml_docs_as_json(text);
  REQUIRE(all.size() == 1);
  return all.front();
}

std::string deep_array(unsigned depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

}  // namespace

TEST_CASE("§3 JSON numbers keep their text (\"1e100\", \"0.10\", \"-0\")") {
  const json::Document d =
      parsed(R"({"a":1e100,"b":0.10,"c":-0,"d":1E+2,"e":12345678901234567890123})");
  for (const auto& [name, text] :
       std::vector<std::pair<const char*, const char*>>{{"a", "1e100"},
                                                        {"b", "0.10"},
                                                        {"c", "-0"},
                                                        {"d", "1E+2"},
                                                        {"e", "12345678901234567890123"}}) {
    CAPTURE(name);
    const json::Value* v = json::member(d, name);
    REQUIRE(v != nullptr);
    CHECK(json::is_number(*v));
    CHECK_FALSE(json::is_string(*v));
    CHECK(json::number_text(*v) == text);
  }
}

TEST_CASE("§3 JSON: a string \"5\" is a string, not a number") {
  const json::Document d = parsed(R"({"s":"5","n":5,"e":"","t":true,"z":null})");
  CHECK(json::is_string(*json::member(d, "s")));
  CHECK_FALSE(json::is_number(*json::member(d, "s")));
  CHECK(json::str(*json::member(d, "s")) == "5");
  CHECK(json::is_number(*json::member(d, "n")));
  CHECK(json::is_string(*json::member(d, "e")));  // the empty string is a string
  CHECK_FALSE(json::is_number(*json::member(d, "e")));
  CHECK_FALSE(json::is_number(*json::member(d, "t")));
  CHECK_FALSE(json::is_string(*json::member(d, "z")));
  CHECK(json::member(d, "missing") == nullptr);
  CHECK(json::member(*json::member(d, "s"), "x") == nullptr);  // not an object
}

TEST_CASE("§6 JSON: write puts numbers back raw, compact") {
  const std::string text = R"({"a":[1e100,0.10,-0,1E+2],"b":{"c":"x\"y","d":null,"e":false}})";
  CHECK(json::write(parsed(text)) == text);
  CHECK(json::write(parsed("  [ 1.50 , \"1.50\" ]  ")) == R"([1.50,"1.50"])");
  std::string out = "prefix:";
  json::write_to(out, parsed("[3]"));
  CHECK(out == "prefix:[3]");
}

TEST_CASE("§6 JSON: write is byte for byte RapidJSON's Writer") {
  // Every byte value in a string and a key, non-ASCII text, and each kind of value.
  std::string all;
  for (int c = 1; c < 256; ++c) all += static_cast<char>(c);
  json::Document d;
  d.SetObject();
  auto& alloc = d.GetAllocator();
  d.AddMember(json::make_string(all, alloc), json::make_string(all, alloc), alloc);
  d.AddMember("utf8", json::make_string("\xC3\xA9\xE2\x82\xAC \xF0\x9F\x98\x80 / \x7F", alloc),
              alloc);
  json::Value list(rapidjson::kArrayType);
  list.PushBack(json::Value(true), alloc).PushBack(json::Value(false), alloc);
  list.PushBack(json::Value(), alloc).PushBack(json::Value(rapidjson::kObjectType), alloc);
  list.PushBack(json::Value(rapidjson::kArrayType), alloc).PushBack(json::Value(-7), alloc);
  list.PushBack(json::Value(0.25), alloc).PushBack(json::Value(std::uint64_t{1} << 63), alloc);
  d.AddMember("list", list, alloc);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  d.Accept(writer);
  CHECK(json::write(d) == std::string(buffer.GetString(), buffer.GetSize()));
}

TEST_CASE("§3 JSON: make_number gives a number that writes raw") {
  json::Document d;
  d.SetObject();
  d.AddMember("n", json::make_number("2.50", d.GetAllocator()), d.GetAllocator());
  d.AddMember("s", json::make_string("2.50", d.GetAllocator()), d.GetAllocator());
  CHECK(json::is_number(*json::member(d, "n")));
  CHECK(json::is_string(*json::member(d, "s")));
  CHECK(json::write(d) == R"({"n":2.50,"s":"2.50"})");
}

TEST_CASE("JSON: same_key compares every byte of keys of every length") {
  // Lengths around the 8-byte words it compares: a difference at any position is seen, the
  // last word's overlap included. Each key is its own buffer of exactly its length, so a read
  // past its end is caught by the sanitizer builds.
  const std::string_view text = "abcdefghijklmnopqrstuvwxyz";
  const auto buffer = [](std::string_view s) {
    auto b = std::make_unique<char[]>(s.size());
    std::copy(s.begin(), s.end(), b.get());
    return b;
  };
  for (std::size_t n = 0; n <= 25; ++n) {
    CAPTURE(n);
    const auto a = buffer(text.substr(0, n));
    const auto b = buffer(text.substr(0, n));
    CHECK(json::same_key({a.get(), n}, {b.get(), n}));
    CHECK_FALSE(json::same_key({a.get(), n}, text.substr(0, n + 1)));
    for (std::size_t at = 0; at < n; ++at) {
      CAPTURE(at);
      b[at] = '#';
      CHECK_FALSE(json::same_key({a.get(), n}, {b.get(), n}));
      b[at] = text[at];
    }
  }
}

TEST_CASE("§3 JSON: object_member is a non-empty object only") {
  const json::Document d = parsed(R"({"a":{},"b":{"x":1},"c":[1],"d":"s"})");
  CHECK(json::object_member(d, "a") == nullptr);
  CHECK(json::object_member(d, "b") != nullptr);
  CHECK(json::object_member(d, "c") == nullptr);
  CHECK(json::object_member(d, "d") == nullptr);
  CHECK(json::object_member(d, "e") == nullptr);
}

TEST_CASE("§7 JSON: invalid UTF-8 is rejected") {
  CHECK(parse_error("\"\xff\"").rfind("invalid JSON at offset ", 0) == 0);
  CHECK(parse_error("{\"a\":\"\xc3\x28\"}").rfind("invalid JSON at offset ", 0) == 0);
  CHECK(parse_error("[\"\xed\xa0\x80\"]").rfind("invalid JSON at offset ", 0) == 0);  // surrogate
  // A number mark byte inside a string can never pass for a number.
  CHECK(parse_error("[\"\xff"
                    "5\"]")
            .rfind("invalid JSON", 0) == 0);
  CHECK(json::str(*json::member(parsed("{\"k\":\"h\xc3\xa9\"}"), "k")) == "h\xc3\xa9");
}

TEST_CASE("§7 JSON: errors report the byte offset") {
  CHECK(parse_error(R"({"a":})") == "invalid JSON at offset 5: Invalid value.");
  CHECK(parse_error("[1,2") ==
        "invalid JSON at offset 4: Missing a comma or ']' after an array element.");
  CHECK(parse_error("") == "invalid JSON at offset 0: The document is empty.");
  CHECK(parse_error("{} x") ==
        "invalid JSON at offset 3: The document root must not be followed by other values.");
  CHECK(parse_error("[01]").rfind("invalid JSON at offset ", 0) == 0);
}

TEST_CASE("§7 JSON: nesting deeper than kMaxDepth is refused without crashing") {
  CHECK(json::kMaxDepth == 10000);
  CHECK(parse_error(deep_array(json::kMaxDepth + 1)) == "JSON nested deeper than 10000 levels");
  CHECK(parse_error(std::string(100000, '[')) == "JSON nested deeper than 10000 levels");
  std::string objects;
  for (unsigned i = 0; i <= json::kMaxDepth; ++i) objects += "{\"a\":";
  objects += "1" + std::string(json::kMaxDepth + 1, '}');
  CHECK(parse_error(objects) == "JSON nested deeper than 10000 levels");
}

TEST_CASE("§7 JSON: 1000-deep and kMaxDepth-deep nesting is accepted") {
  const json::Document d = parsed(deep_array(1000));
  CHECK(d.IsArray());
  CHECK(json::write(d) == deep_array(1000));
  CHECK(parsed(deep_array(json::kMaxDepth)).IsArray());
}

TEST_CASE("§3 YAML 1.1 scalars: yes/no/on/off/y/n are bools") {
  for (std::string_view t :
       {"yes", "Yes", "YES", "on", "On", "ON", "y", "Y", "true", "True", "TRUE"}) {
    CAPTURE(t);
    CHECK(typed(t) == "Bool:true");
  }
  for (std::string_view f :
       {"no", "No", "NO", "off", "Off", "OFF", "n", "N", "false", "False", "FALSE"}) {
    CAPTURE(f);
    CHECK(typed(f) == "Bool:false");
  }
  CHECK(typed("yEs") == "String:");
  CHECK(typed("tRUE") == "String:");
}

TEST_CASE("§3 YAML 1.1 scalars: ~, null and the empty scalar are null") {
  for (std::string_view s : {"~", "null", "Null", "NULL", ""}) {
    CAPTURE(s);
    CHECK(typed(s) == "Null:null");
  }
  CHECK(typed("nULL") == "String:");
}

TEST_CASE("§3 YAML 1.1 scalars: integers in every base") {
  CHECK(typed("0x1F") == "Int:31");
  CHECK(typed("0X1f") == "Int:31");
  CHECK(typed("-0x1F") == "Int:-31");
  CHECK(typed("0o17") == "Int:15");
  CHECK(typed("017") == "Int:15");
  CHECK(typed("-017") == "Int:-15");
  CHECK(typed("0b101") == "Int:5");
  CHECK(typed("1_000") == "Int:1000");
  CHECK(typed("0x_1F") == "Int:31");
  CHECK(typed("42") == "Int:42");
  CHECK(typed("+42") == "Int:42");
  CHECK(typed("-42") == "Int:-42");
  CHECK(typed("0") == "Int:0");
  CHECK(typed("-0x0") == "Int:0");
  CHECK(typed("12345678901234567890123") == "Int:12345678901234567890123");
}

TEST_CASE("§3 YAML 1.1 scalars: floats, in JSON's grammar") {
  CHECK(typed("1.") == "Float:1");
  CHECK(typed(".5") == "Float:0.5");
  CHECK(typed("-.5") == "Float:-0.5");
  CHECK(typed("+1.5") == "Float:1.5");
  CHECK(typed("0.10") == "Float:0.10");
  CHECK(typed("1e3") == "Float:1e3");
  CHECK(typed("1E-3") == "Float:1e-3");
  CHECK(typed("1.5e+10") == "Float:1.5e+10");
  CHECK(typed("1_000.5") == "Float:1000.5");
  CHECK(typed("007.5") == "Float:7.5");
  // "08" is not octal: go-yaml reads it as a float 8; JSON sees 8 either way.
  const yaml::Scalar eight = yaml::resolve_plain("08");
  CHECK(eight.json == "8");
  CHECK((eight.type == yaml::ScalarType::Int || eight.type == yaml::ScalarType::Float));
  CHECK(yaml::resolve_plain("09.5").json == "9.5");
}

TEST_CASE("§3 YAML 1.1 scalars: .inf and .nan are floats with no JSON text") {
  for (std::string_view s : {".inf", ".Inf", "-.inf", "+.INF", ".nan", ".NaN"}) {
    CAPTURE(s);
    CHECK(typed(s) == "Float:");
  }
}

TEST_CASE("§3 YAML 1.1 scalars: everything else is a string") {
  for (std::string_view s :
       {"hello",      "500m",  "1Gi", "1.2.3",   "0x",         "0xG",
        "0b2",        "0o8",   "1e",  "e5",      "1e3.5",      ".",
        "-",          "+",     "1-2", "1:30:00", "2001-12-14", "nvidia.com/gpu",
        "yes please", "0x1F ", "_1",  "_1.5",    "_"}) {
    CAPTURE(s);
    CHECK(typed(s) == "String:");
  }
}

TEST_CASE("§7 YAML: load_all reads several documents, dropping empty ones") {
  CHECK(yaml_docs_as_json("a: 1\n---\n---\nb: [x, 2]\n...\n---\n# nothing\n") ==
        std::vector<std::string>{R"({"a":1})", R"({"b":["x",2]})"});
  CHECK(yaml_docs_as_json("").empty());
  CHECK(yaml_docs_as_json("---\n").empty());
}

TEST_CASE("§7 YAML: load_all types plain scalars and keeps quoted ones as strings") {
  CHECK(yaml_as_json(R"(plain: true
quoted: "true"
single: 'yes'
num: 0.10
snum: "0.10"
hex: 0x1F
oct: 017
nul: ~
empty:
tagged: !!str 5
cpu: 500m
big: 1e100
block: |
  line one
  line two
)") == R"({"plain":true,"quoted":"true","single":"yes","num":0.10,"snum":"0.10","hex":31,)"
       R"("oct":15,"nul":null,"empty":null,"tagged":"5","cpu":"500m","big":1e100,)"
       R"("block":"line one\nline two\n"})");
}

TEST_CASE("§7 YAML: JSON text is YAML too") {
  CHECK(yaml_as_json(R"({"a": [1, 2.50, "x"], "b": {"c": null}})") ==
        R"({"a":[1,2.50,"x"],"b":{"c":null}})");
}

TEST_CASE("§7 YAML: a repeated key: the last one wins, as in Kubernetes") {
  CHECK(yaml_as_json("a: 1\nb: 2\na: 3\n") == R"({"a":3,"b":2})");
}

TEST_CASE("§7 YAML: repeated and merged keys in a large map (past the scanned few) as in a small") {
  // Maps past 16 keys are looked up through a hash index; the rules must not change with it.
  std::string text = "base: &base {k3: merged, extra: merged}\nbig:\n  <<: *base\n";
  std::string want = "{";
  for (int i = 0; i < 40; ++i) {
    text += "  k" + std::to_string(i) + ": " + std::to_string(i) + "\n";
    if (i > 0) want += ",";
    want += "\"k" + std::to_string(i) + "\":" +
            (i == 5    ? "\"five\""
             : i == 30 ? "\"x\""
                       : std::to_string(i));
  }
  text += "  k5: five\n  k30: y\n  k30: x\n";
  want += ",\"extra\":\"merged\"}";
  auto docs = yaml::load_all(text);
  REQUIRE(docs.ok());
  CHECK(json::write(docs->front()["big"]) == want);
}

TEST_CASE("§7 YAML: aliases of long strings are bounded in bytes, not only in values") {
  // fuzz_review: ten aliases of a string are ten values and ten times its bytes; nested, a 4 KB
  // text (a podSpecPatch, say) expanded to 39 MB of JSON, read again by every pass.
  std::string text = "a0: &a0 \"" + std::string(1000, 'x') + "\"\n";
  for (int level = 1; level <= 3; ++level) {
    const std::string prev = "*a" + std::to_string(level - 1);
    text += "a" + std::to_string(level) + ": &a" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) text += (i == 0 ? "" : ",") + prev;
    text += "]\n";
  }
  auto docs = yaml::load_all(text);  // 1111 values, 1.1 MB of text from 1.1 KB
  REQUIRE_FALSE(docs.ok());
  CHECK(docs.error().message.find("bytes of text") != std::string::npos);
  // Without the last level it is 111 KB from 1.1 KB: still refused (16 bytes per byte of text).
  CHECK_FALSE(yaml::load_all(text.substr(0, text.rfind("a3:"))).ok());
  // Two aliases of the string are within bounds.
  CHECK(yaml::load_all(text.substr(0, text.find("a1:")) + "b: [*a0, *a0]\n").ok());
}

TEST_CASE("§7 YAML: errors give a line") {
  auto bad = yaml::load_all("a: 1\nb: [1, 2\nc: 3\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.rfind("invalid YAML: line ", 0) == 0);
  auto tab = yaml::load_all("a:\n\tb: 1\n");
  REQUIRE_FALSE(tab.ok());
  CHECK(tab.error().message.rfind("invalid YAML: line 2: ", 0) == 0);
  auto inf = yaml::load_all("a: 1\nb: .inf\n");
  REQUIRE_FALSE(inf.ok());
  CHECK(inf.error().message == "line 2: .inf cannot be represented in JSON");
  auto key = yaml::load_all("? [a, b]\n: 1\n");
  REQUIRE_FALSE(key.ok());
  CHECK(key.error().message == "line 1: a mapping key must be a scalar");
}

TEST_CASE("§7 YAML: to_yaml writes block YAML that reads back the same") {
  const std::string source =
      R"({"kind":"Workflow","spec":{"templates":[{"name":"a","nodeSelector":{"pool":"gpu"}}],)"
      R"("n":1e100,"f":0.10,"t":true,"z":null,"empty":{},"list":[]}})";
  const std::string yaml = yaml::to_yaml(parsed(source));
  CHECK(yaml == R"(kind: Workflow
spec:
  templates:
    - name: a
      nodeSelector:
        pool: gpu
  "n": 1e100
  f: 0.10
  t: true
  z: ~
  empty: {}
  list: []
)");
  CHECK(yaml_as_json(yaml) == source);
}

TEST_CASE("§7 YAML: to_yaml quotes strings that would read back as another type") {
  const std::string source =
      R"(["true","yes","on","n","~","null","","5","0x1F","017","1.","1e3",".5",".inf",)"
      R"(".nan","-1","500m","plain text","1_000","08","_1","n"])";
  const std::string yaml = yaml::to_yaml(parsed(source));
  CHECK(yaml_as_json(yaml) == source);
  CHECK(yaml.find("- \"true\"\n") != std::string::npos);
  CHECK(yaml.find("- 500m\n") != std::string::npos);  // a plain string stays plain
  CHECK(yaml.find("- plain text\n") != std::string::npos);
}

TEST_CASE("§7 YAML: to_yaml round-trips multi-line and special strings") {
  const std::string source =
      R"({"script":"echo hi\necho there\n","two":"a\n\nb","trail":"x \ny\n","lead":" x\n",)"
      R"("noeol":"a\nb","colon":"a: b","hash":"a #b","dash":"- x","quote":"\"q\"",)"
      R"("tab":"a\tb","unicode":"h\u00e9","ctl":"a\u0001b","braces":"{{inputs.x}}"})";
  const std::string yaml = yaml::to_yaml(parsed(source));
  CHECK(yaml_as_json(yaml) == json::write(parsed(source)));
  CHECK(yaml.find("script: |\n  echo hi\n  echo there\n") != std::string::npos);
}

TEST_CASE("§7 YAML: to_yaml of empty containers and scalars") {
  CHECK(yaml::to_yaml(parsed("{}")) == "{}\n");
  CHECK(yaml::to_yaml(parsed("[]")) == "[]\n");
  CHECK(yaml_as_json(yaml::to_yaml(parsed(R"({"a":{},"b":[],"c":[{}],"d":[[]]})"))) ==
        R"({"a":{},"b":[],"c":[{}],"d":[[]]})");
}

}  // namespace nodealloc

TEST_CASE("§7 YAML merge keys (<<) resolve as go-yaml does: own keys win, then merges in order") {
  auto docs = nodealloc::yaml::load_all(R"(
base: &base {a: 1, b: 2}
other: &other {b: 3, c: 4}
one: {<<: *base, a: 9}
many: {<<: [*other, *base], d: 5}
quoted: {"<<": *base}
)");
  REQUIRE(docs.ok());
  const auto& d = docs->front();
  CHECK(nodealloc::json::write(d["one"]) == R"({"a":9,"b":2})");
  CHECK(nodealloc::json::write(d["many"]) == R"({"d":5,"b":3,"c":4,"a":1})");
  CHECK(nodealloc::json::write(d["quoted"]) == R"({"<<":{"a":1,"b":2}})");
  auto bad = nodealloc::yaml::load_all("x: {<<: 1}\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "line 1: a merge key (<<) needs a mapping or a list of mappings");
}

TEST_CASE("json::member: of duplicate keys the last one counts, as Go's decoder reads them") {
  auto doc = nodealloc::json::parse(R"({"a":1,"b":2,"a":3})");
  REQUIRE(doc.ok());
  const nodealloc::json::Value* a = nodealloc::json::member(doc.value(), "a");
  REQUIRE(a != nullptr);
  CHECK(nodealloc::json::number_text(*a) == "3");
  CHECK(nodealloc::json::member(doc.value(), "c") == nullptr);
}

TEST_CASE("§7 YAML input must be UTF-8 (found by fuzz_review: a 0xFF byte read as a number)") {
  auto bad = nodealloc::yaml::load_all("memory: \xff\"1k\"\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "invalid YAML: invalid UTF-8 at byte 8");
  CHECK_FALSE(nodealloc::yaml::load_all("a: \xc0\x80\n").ok());      // overlong
  CHECK_FALSE(nodealloc::yaml::load_all("a: \xed\xa0\x80\n").ok());  // a surrogate
  CHECK_FALSE(nodealloc::yaml::load_all("a: \xe2\x82\n").ok());      // truncated
  auto good = nodealloc::yaml::load_all("a: \"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"\n");
  REQUIRE(good.ok());
  CHECK(nodealloc::json::is_string(good->front()["a"]));
}

TEST_CASE("json::equal is RapidJSON's ==, large objects included (sorted, not scanned)") {
  std::vector<std::string> texts = {"{}",
                                    "[]",
                                    "1",
                                    "\"1\"",
                                    "null",
                                    "true",
                                    R"({"a":1})",
                                    R"({"a":"1"})",
                                    R"({"a":1,"b":2})",
                                    R"({"b":2,"a":1})",
                                    R"({"a":1,"a":2})",
                                    R"({"a":2,"a":1})",
                                    R"({"a":1,"b":1})",
                                    R"([{"a":1},{"b":[1,2]}])",
                                    R"([{"b":[1,2]},{"a":1}])",
                                    R"([{"a":1},{"b":[1,2,3]}])"};
  // Past 16 members, in other orders, with one value or one name changed, with a duplicate.
  const auto big = [](int n, int reversed, const char* last_value, bool duplicate) {
    std::string t = "{";
    for (int k = 0; k < n; ++k) {
      const int i = reversed != 0 ? n - 1 - k : k;
      if (k > 0) t += ",";
      t += "\"k" + std::to_string(i) + "\":";
      t += i == n - 1 ? std::string(last_value) : "{\"v\":[" + std::to_string(i) + "]}";
    }
    if (duplicate) t += R"(,"k0":{"v":[0]})";
    return t + "}";
  };
  for (int n : {17, 40}) {
    for (int reversed : {0, 1}) {
      texts.push_back(big(n, reversed, "1", false));
      texts.push_back(big(n, reversed, "2", false));
      texts.push_back(big(n, reversed, "1", true));
    }
  }
  texts.push_back(R"({"x":)" + big(40, 0, "1", false) + "}");
  texts.push_back(R"({"x":)" + big(40, 1, "1", false) + "}");
  texts.push_back(R"({"x":)" + big(40, 1, "3", false) + "}");
  std::vector<nodealloc::json::Document> docs;
  for (const auto& t : texts) {
    auto d = nodealloc::json::parse(t);
    REQUIRE_MESSAGE(d.ok(), t);
    docs.push_back(std::move(d.value()));
  }
  int equal_pairs = 0;
  for (std::size_t i = 0; i < docs.size(); ++i) {
    for (std::size_t j = 0; j < docs.size(); ++j) {
      CAPTURE(texts[i]);
      CAPTURE(texts[j]);
      const bool rapidjson_equal = static_cast<const nodealloc::json::Value&>(docs[i]) == docs[j];
      CHECK(nodealloc::json::equal(docs[i], docs[j]) == rapidjson_equal);
      equal_pairs += rapidjson_equal && i != j ? 1 : 0;
    }
  }
  CHECK(equal_pairs > 8);  // reorderings of large objects among them
}

TEST_CASE("json::drop_shadowed_members keeps the last of duplicate keys, in order, at any depth") {
  auto doc = nodealloc::json::parse(
      R"({"a":1,"b":{"x":1,"x":[{"y":1,"y":2}]},"a":3,"c":{},"b":{"x":{"z":1,"z":2},"w":0}})");
  REQUIRE(doc.ok());
  nodealloc::json::drop_shadowed_members(doc.value(), doc->GetAllocator());
  CHECK(nodealloc::json::write(doc.value()) == R"({"a":3,"c":{},"b":{"x":{"z":2},"w":0}})");
  auto arr = nodealloc::json::parse(R"([{"k":1,"k":2},{"k":3}])");
  REQUIRE(arr.ok());
  nodealloc::json::drop_shadowed_members(arr.value(), arr->GetAllocator());
  CHECK(nodealloc::json::write(arr.value()) == R"([{"k":2},{"k":3}])");
}

TEST_CASE("§6 JSON: write handles values nested to the depth limit (no recursion)") {
  const std::size_t depth = nodealloc::json::kMaxDepth - 1;
  for (const auto& [open, close] : {std::pair{"[", "]"}, std::pair{"{\"a\":", "}"}}) {
    std::string text;
    for (std::size_t i = 0; i < depth; ++i) text += open;
    text += "1";
    for (std::size_t i = 0; i < depth; ++i) text += close;
    const auto doc = nodealloc::json::parse(text);
    REQUIRE(doc.ok());
    CHECK(nodealloc::json::write(doc.value()) == text);
  }
}
