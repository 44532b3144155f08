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

// Memory for the values the tests build: a patch copies what it is given when it is set.
json::Allocator& scratch() {
  static json::Allocator allocator;
  return allocator;
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
  patch.set("/spec/templates/0/nodeSelector", parsed(R"({"pool":"gpu"})"), false);
  patch.set("/metadata/annotations/node-allocator.io~1placement",
            json::make_string(R"({"a":"gpu"})", scratch()), true);
  CHECK_FALSE(patch.empty());
  CHECK(patch.size() == 2);
  CHECK(patch.to_json() ==
        R"([{"op":"add","path":"/spec/templates/0/nodeSelector","value":{"pool":"gpu"}},)"
        R"({"op":"replace","path":"/metadata/annotations/node-allocator.io~1placement",)"
        R"("value":"{\"a\":\"gpu\"}"}])");
}

TEST_CASE("§6 JSON Patch: to_json of an rvalue moves the same text out, the patch left empty") {
  JsonPatch patch;
  CHECK(JsonPatch().to_json() == "[]");
  patch.set("/spec/templates/0/nodeSelector", parsed(R"({"pool":"gpu"})"), false);
  patch.set_json("/spec/templates/1/nodeSelector", R"({"pool":"cpu"})", true);
  const std::string copied = patch.to_json();
  CHECK(std::move(patch).to_json() == copied);
  CHECK(copied ==
        R"([{"op":"add","path":"/spec/templates/0/nodeSelector","value":{"pool":"gpu"}},)"
        R"({"op":"replace","path":"/spec/templates/1/nodeSelector","value":{"pool":"cpu"}}])");
  CHECK(patch.empty());  // NOLINT(bugprone-use-after-move): left empty, as documented
  CHECK(patch.to_json() == "[]");
}

TEST_CASE("§6 JSON Patch: numbers in values are written raw") {
  JsonPatch patch;
  patch.set("/a", parsed(R"({"n":1e100,"f":0.10,"z":-0,"s":"5"})"), false);
  patch.set("/b", json::make_number("300", scratch()), false);
  CHECK(patch.to_json() ==
        R"([{"op":"add","path":"/a","value":{"n":1e100,"f":0.10,"z":-0,"s":"5"}},)"
        R"({"op":"add","path":"/b","value":300}])");
}

TEST_CASE("§6 JSON Patch: paths and values are escaped as JSON strings") {
  JsonPatch patch;
  patch.set("/metadata/annotations/a~1b\"c", json::make_string("tab\there\x01", scratch()), false);
  CHECK(patch.to_json() ==
        R"([{"op":"add","path":"/metadata/annotations/a~1b\"c","value":"tab\there\u0001"}])");
}

TEST_CASE("§6 JSON Patch: apply_to adds a missing map and replaces an existing value") {
  json::Document target = parsed(R"({"metadata":{"name":"w"},"spec":{"templates":[{"name":"a"},)"
                                 R"({"name":"b","nodeSelector":{"old":"x"}}]}})");
  JsonPatch patch;
  patch.set("/spec/templates/0/nodeSelector", parsed(R"({"pool":"small"})"), false);
  patch.set("/spec/templates/1/nodeSelector", parsed(R"({"pool":"gpu"})"), true);
  patch.set("/metadata/annotations", parsed(R"({"k":"v"})"), false);
  CHECK_FALSE(patch.apply_to(target).has_value());
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
            json::make_string("one", scratch()), true);
  patch.set("/metadata/annotations/" + escape_pointer_token("m~n"),
            json::make_string("two", scratch()), true);
  patch.set("/metadata/annotations/" + escape_pointer_token("~1"),
            json::make_string("three", scratch()), true);
  patch.set("/x/" + escape_pointer_token("node-allocator.io/placement"),
            json::make_string("{}", scratch()), false);
  patch.set("/x/" + escape_pointer_token("~/"), json::make_number("7", scratch()), false);
  CHECK(patch.to_json().find(R"("path":"/metadata/annotations/a~1b")") != std::string::npos);
  CHECK(patch.to_json().find(R"("path":"/metadata/annotations/~01")") != std::string::npos);
  CHECK_FALSE(patch.apply_to(target).has_value());
  CHECK(json::write(target) ==
        R"({"metadata":{"annotations":{"a/b":"one","m~n":"two","~1":"three"}},)"
        R"("x":{"node-allocator.io/placement":"{}","~/":7}})");
}

TEST_CASE("§6 JSON Patch: apply_to keeps number text raw in the target") {
  json::Document target = parsed(R"({"spec":{"cpu":0.10}})");
  JsonPatch patch;
  patch.set("/spec/mem", parsed("1e100"), false);
  CHECK_FALSE(patch.apply_to(target).has_value());
  CHECK(json::write(target) == R"({"spec":{"cpu":0.10,"mem":1e100}})");
  // The patch still holds its own copy.
  CHECK(patch.to_json() == R"([{"op":"add","path":"/spec/mem","value":1e100}])");
}

TEST_CASE("§6 JSON Patch: applying a patch twice gives the same document") {
  json::Document target = parsed(R"({"spec":{"templates":[{"name":"a"}]}})");
  JsonPatch patch;
  patch.set("/spec/templates/0/tolerations",
            parsed(R"([{"key":"nvidia.com/gpu","operator":"Exists"}])"), false);
  CHECK_FALSE(patch.apply_to(target).has_value());
  const std::string once = json::write(target);
  CHECK_FALSE(patch.apply_to(target).has_value());
  CHECK(json::write(target) == once);
  CHECK(
      once ==
      R"({"spec":{"templates":[{"name":"a","tolerations":[{"key":"nvidia.com/gpu","operator":"Exists"}]}]}})");
}

TEST_CASE("§6 JSON Patch: set copies the value when it is set; set_json writes the text given") {
  json::Document value = parsed(R"({"pool":"gpu"})");
  JsonPatch patch;
  patch.set("/a", value, false);
  value["pool"].SetString("changed");
  patch.set_json("/b", R"({"pool":"small"})", true);
  CHECK(patch.size() == 2);
  CHECK(patch.to_json() == R"([{"op":"add","path":"/a","value":{"pool":"gpu"}},)"
                           R"({"op":"replace","path":"/b","value":{"pool":"small"}}])");
  json::Document target = parsed(R"({"b":1})");
  CHECK_FALSE(patch.apply_to(target).has_value());
  CHECK(json::write(target) == R"({"b":{"pool":"small"},"a":{"pool":"gpu"}})");
}

TEST_CASE("§6 JSON Patch: apply_to reports, not crashes, a value too deep to read back") {
  // The operation adds two levels (the array and the op object) above its value.
  const std::string deep =
      std::string(json::kMaxDepth - 1, '[') + std::string(json::kMaxDepth - 1, ']');
  JsonPatch patch;
  patch.set_json("/x", deep, false);
  json::Document target = parsed("{}");
  const auto error = patch.apply_to(target);
  REQUIRE(error.has_value());
  CHECK(error->message.find("the patch cannot be applied") == 0);
  CHECK(json::write(target) == "{}");
}

}  // namespace nodealloc
