// RFC 6902 JSON Patch and RFC 6901 pointer escaping (spec §6).
#include <doctest/doctest.h>
#include <rapidjson/pointer.h>

#include <string>

#include "core/json.hpp"
#include "core/patch.hpp"

namespace nodealloc {
namespace {

json::Document parsed(std::string_view text) {
  auto doc = json::parse(text);
  REQUIRE_MESSAGE(doc.ok(), (doc.ok() ? "" : doc.error().message));
  return std::move(doc.value());
}

// A value for `patch` from JSON text (numbers stay raw).
json::Value value_of(JsonPatch& patch, std::string_view text) {
  const json::Document d = parsed(text);
  return json::Value(d, patch.allocator());
}

}  // namespace

TEST_CASE("§6 pointer escaping: '~' becomes ~0 and '/' becomes ~1") {
  CHECK(escape_pointer_token("a/b") == "a~1b");
  CHECK(escape_pointer_token("m~n") == "m~0n");
  CHECK(escape_pointer_token("~/") == "~0~1");
  CHECK(escape_pointer_token("/~") == "~1~0");
  CHECK(escape_pointer_token("nvidia.com/gpu") == "nvidia.com~1gpu");
  CHECK(escape_pointer_token("node-allocator.io/placement") == "node-allocator.io~1placement");
  CHECK(escape_pointer_token("plain") == "plain");
  CHECK(escape_pointer_token("") == "");
  CHECK(escape_pointer_token("//") == "~1~1");
}

TEST_CASE("§6 pointer escaping: order matters, a literal \"~1\" becomes ~01 (not ~1 -> /)") {
  CHECK(escape_pointer_token("~1") == "~01");
  CHECK(escape_pointer_token("~0") == "~00");
  CHECK(escape_pointer_token("a~1/b") == "a~01~1b");
  // Escaping then unescaping as RFC 6901 does (~1 first, then ~0) gives the key back.
  for (std::string_view key : {"~1", "~01", "a/b~c", "~/~/", "x~1y/z~0"}) {
    CAPTURE(key);
    json::Document d;
    d.SetObject();
    json::Value name = json::make_string(key, d.GetAllocator());
    d.AddMember(name, json::Value(1), d.GetAllocator());
    const std::string pointer = "/" + escape_pointer_token(key);
    const json::Value* v = rapidjson::Pointer(pointer.c_str()).Get(d);
    REQUIRE(v != nullptr);
    CHECK(v->GetInt() == 1);
  }
}

TEST_CASE("§6 JSON Patch: an empty patch is an empty array") {
  const JsonPatch patch;
  CHECK(patch.empty());
  CHECK(patch.size() == 0);
  CHECK(patch.to_json() == "[]");
}

TEST_CASE("§6 JSON Patch: to_json gives op add/replace, path and value, in order") {
  JsonPatch patch;
  patch.set("/spec/templates/0/nodeSelector", value_of(patch, R"({"pool":"gpu"})"), false);
  patch.set("/metadata/annotations/node-allocator.io~1placement",
            json::make_string(R"({"a":"gpu"})", patch.allocator()), true);
  CHECK_FALSE(patch.empty());
  CHECK(patch.size() == 2);
  CHECK(patch.to_json() ==
        R"([{"op":"add","path":"/spec/templates/0/nodeSelector","value":{"pool":"gpu"}},)"
        R"({"op":"replace","path":"/metadata/annotations/node-allocator.io~1placement",)"
        R"("value":"{\"a\":\"gpu\"}"}])");
}

TEST_CASE("§6 JSON Patch: numbers in values are written raw") {
  JsonPatch patch;
  patch.set("/a", value_of(patch, R"({"n":1e100,"f":0.10,"z":-0,"s":"5"})"), false);
  patch.set("/b", json::make_number("300", patch.allocator()), false);
  CHECK(patch.to_json() ==
        R"([{"op":"add","path":"/a","value":{"n":1e100,"f":0.10,"z":-0,"s":"5"}},)"
        R"({"op":"add","path":"/b","value":300}])");
}

TEST_CASE("§6 JSON Patch: paths and values are escaped as JSON strings") {
  JsonPatch patch;
  patch.set("/metadata/annotations/a~1b\"c", json::make_string("tab\there\x01", patch.allocator()),
            false);
  CHECK(patch.to_json() ==
        R"([{"op":"add","path":"/metadata/annotations/a~1b\"c","value":"tab\there\u0001"}])");
}

TEST_CASE("§6 JSON Patch: apply_to adds a missing map and replaces an existing value") {
  json::Document target = parsed(R"({"metadata":{"name":"w"},"spec":{"templates":[{"name":"a"},)"
                                 R"({"name":"b","nodeSelector":{"old":"x"}}]}})");
  JsonPatch patch;
  patch.set("/spec/templates/0/nodeSelector", value_of(patch, R"({"pool":"small"})"), false);
  patch.set("/spec/templates/1/nodeSelector", value_of(patch, R"({"pool":"gpu"})"), true);
  patch.set("/metadata/annotations", value_of(patch, R"({"k":"v"})"), false);
  patch.apply_to(target);
  CHECK(
      json::write(target) ==
      R"({"metadata":{"name":"w","annotations":{"k":"v"}},"spec":{"templates":[)"
      R"({"name":"a","nodeSelector":{"pool":"small"}},{"name":"b","nodeSelector":{"pool":"gpu"}}]}})");
}

TEST_CASE("§6 JSON Patch: apply_to unescapes keys with '/' and '~'") {
  json::Document target =
      parsed(R"({"metadata":{"annotations":{"a/b":"1","m~n":"2","~1":"3"}},"x":{}})");
  JsonPatch patch;
  patch.set("/metadata/annotations/" + escape_pointer_token("a/b"),
            json::make_string("one", patch.allocator()), true);
  patch.set("/metadata/annotations/" + escape_pointer_token("m~n"),
            json::make_string("two", patch.allocator()), true);
  patch.set("/metadata/annotations/" + escape_pointer_token("~1"),
            json::make_string("three", patch.allocator()), true);
  patch.set("/x/" + escape_pointer_token("node-allocator.io/placement"),
            json::make_string("{}", patch.allocator()), false);
  patch.set("/x/" + escape_pointer_token("~/"), json::make_number("7", patch.allocator()), false);
  CHECK(patch.to_json().find(R"("path":"/metadata/annotations/a~1b")") != std::string::npos);
  CHECK(patch.to_json().find(R"("path":"/metadata/annotations/~01")") != std::string::npos);
  patch.apply_to(target);
  CHECK(json::write(target) ==
        R"({"metadata":{"annotations":{"a/b":"one","m~n":"two","~1":"three"}},)"
        R"("x":{"node-allocator.io/placement":"{}","~/":7}})");
}

TEST_CASE("§6 JSON Patch: apply_to keeps number text raw in the target") {
  json::Document target = parsed(R"({"spec":{"cpu":0.10}})");
  JsonPatch patch;
  patch.set("/spec/mem", value_of(patch, "1e100"), false);
  patch.apply_to(target);
  CHECK(json::write(target) == R"({"spec":{"cpu":0.10,"mem":1e100}})");
  // The patch still holds its own copy.
  CHECK(patch.to_json() == R"([{"op":"add","path":"/spec/mem","value":1e100}])");
}

TEST_CASE("§6 JSON Patch: applying a patch twice gives the same document") {
  json::Document target = parsed(R"({"spec":{"templates":[{"name":"a"}]}})");
  JsonPatch patch;
  patch.set("/spec/templates/0/tolerations",
            value_of(patch, R"([{"key":"nvidia.com/gpu","operator":"Exists"}])"), false);
  patch.apply_to(target);
  const std::string once = json::write(target);
  patch.apply_to(target);
  CHECK(json::write(target) == once);
  CHECK(
      once ==
      R"({"spec":{"templates":[{"name":"a","tolerations":[{"key":"nvidia.com/gpu","operator":"Exists"}]}]}})");
}

}  // namespace nodealloc
