// The fast read of a review (json::ReviewReader: simdjson, pruned) against the full one
// (json::parse): the same answer byte for byte, and the fast path really taken where it can be.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/admission.hpp"
#include "core/review_reader.hpp"
#include "test_support.hpp"

using namespace nodealloc;
using namespace nodealloc::test;

namespace {

std::string review_of(std::string_view object, std::string_view kind = "Workflow",
                      std::string_view operation = "CREATE") {
  return std::string(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",)") +
         R"("request":{"uid":"u-1","kind":{"group":"argoproj.io","version":"v1alpha1","kind":")" +
         std::string(kind) + R"("},"operation":")" + std::string(operation) +
         R"(","namespace":"ns","userInfo":{"username":"x","groups":["a","b"]},"object":)" +
         std::string(object) + R"(,"dryRun":false}})";
}

// Every path gives the same result: the same answer body, or the same error. The pruned read
// through json::parse (texts beyond kFastLimit) is forced with a reader whose limit is 0, the
// DOM road (what the scan leaves) with Stage2::kTape.
void check_same(const std::string& text, const Policy& policy) {
  auto full = review(text, policy, ReviewParse::Full);
  json::ReviewReader rapidjson_pruned(0);
  json::ReviewReader tape(json::ReviewReader::kFastLimit, json::ReviewReader::Stage2::kTape);
  // Parsed where it is, with padding that would change the text were it read as part of it.
  json::ReviewReader in_place;
  const std::string padded = text + std::string(json::ReviewReader::kPadding, '"');
  const std::string_view unpadded(padded.data(), text.size());
  for (auto fast : {review(text, policy, ReviewParse::Fast), review(text, policy, rapidjson_pruned),
                    review(text, policy, tape), review(unpadded, policy, in_place, true)}) {
    REQUIRE_MESSAGE(fast.ok() == full.ok(), text);
    if (fast.ok()) {
      CHECK_MESSAGE(fast->body == full->body, text);
      CHECK(fast->summary.uid == full->summary.uid);
      CHECK(fast->summary.name == full->summary.name);
      CHECK(fast->summary.kind == full->summary.kind);
    } else {
      CHECK(fast.error().message == full.error().message);
    }
  }
}

bool fast_path_taken(std::string_view text,
                     json::ReviewReader::Stage2 stage2 = json::ReviewReader::Stage2::kScan) {
  json::ReviewReader reader(json::ReviewReader::kFastLimit, stage2);
  return reader.read(text).has_value();
}

// Whether the scan itself answered (not the DOM road it leaves what it is unsure of to).
bool scanned(std::string_view text) {
  json::ReviewReader reader;
  return reader.read(text).has_value() && reader.scanned();
}

const char* const kWorkflow = R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow",
  "metadata":{"generateName":"w-","annotations":{"a":"b","node-allocator.io/placement":"{}"}},
  "spec":{"entrypoint":"main","nodeSelector":{"zone":"a"},"arguments":{"parameters":[{"name":"p","value":3}]},
   "templates":[
    {"name":"main","dag":{"tasks":[{"name":"a","template":"big","arguments":{}},
                                   {"name":"b","inline":{"container":{"image":"x","resources":{"requests":{"cpu":2}}}}}]}},
    {"name":"big","metadata":{"annotations":{"pipelines.kubeflow.org/component_spec":"{\"a\":1}"}},
     "container":{"image":"x","args":["a","b"],"env":[{"name":"E","value":"1"}],"resources":{"limits":{"memory":"20Gi","cpu":"1"}}},
     "sidecars":[{"name":"s","image":"y","resources":{"requests":{"cpu":"100m"}}}],
     "initContainers":[{"name":"i","resources":{"requests":{"memory":"30Gi"}}}],
     "outputs":{"artifacts":[{"name":"o","path":"/tmp/o"}]},"retryStrategy":{"limit":3}},
    {"name":"gpu","script":{"image":"x","source":"print(1)\n","resources":{"requests":{"nvidia.com/gpu":1}}},
     "tolerations":[{"key":"k","operator":"Exists","tolerationSeconds":300}]},
    {"name":"rs","resource":{"action":"create","manifest":"kind: X\n"}},
    {"name":"cs","containerSet":{"containers":[{"name":"a","resources":{"requests":{"cpu":"1"}}},{"name":"b"}]},
     "podSpecPatch":"{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"3\"}}}]}"},
    {"name":"own","nodeSelector":{"x":"y"},"container":{"image":"x"}},
    {"name":"steps","steps":[[{"name":"s1","template":"gpu"},{"name":"s2","inline":{"data":{"source":{}},"name":"ignored"}}]]},
    {"name":"skip","metadata":{"annotations":{"node-allocator.io/skip":"true"}},"container":{}},
    {"name":"expr","container":{"resources":{"requests":{"cpu":"{{inputs.parameters.cpu}}"}}}},
    {"name":"bad","container":{"resources":{"requests":{"cpu":"lots"}}}},
    {"name":"pod","podResources":{"requests":{"cpu":"500"}},"container":{}}
  ]}})";

}  // namespace

TEST_CASE("review_reader: a realistic review reads fast, with the full parse's answer") {
  for (const char* settings : {"", "  existingPlacement: Merge\n", "  existingPlacement: Replace\n",
                               "  mode: Audit\n", "  onNoFit: Reject\n", "  strategy: BestFit\n"}) {
    CAPTURE(settings);
    const Policy policy = standard_policy(settings);
    const std::string text = review_of(kWorkflow);
    CHECK(fast_path_taken(text));
    CHECK(scanned(text));
    check_same(text, policy);
    check_same(review_of(kWorkflow, "WorkflowTemplate", "UPDATE"), policy);
    check_same(review_of(kWorkflow, "Workflow", "UPDATE"), policy);
    check_same(review_of(kWorkflow, "Pod"), policy);
  }
}

TEST_CASE("review_reader: numbers whose text a value cannot give back take the full parse") {
  const Policy policy = standard_policy();
  // A fraction, an exponent, a zero that may have been "-0": kept parts need the exact text.
  for (const char* quantity : {"0.5", "1e3", "2.50", "0", "-0", "1E2", "123456789012345678901"}) {
    CAPTURE(quantity);
    const std::string text = review_of(
        std::string(
            R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{"name":"w"},)") +
        R"("spec":{"templates":[{"name":"t","container":{"resources":{"requests":{"cpu":)" +
        quantity + "}}}}]}}");
    check_same(text, policy);
  }
  const std::string plain = review_of(
      R"({"kind":"Workflow","spec":{"templates":[{"name":"t","container":{"resources":{"requests":{"cpu":2}}}}]}})");
  CHECK(fast_path_taken(plain));
  CHECK_FALSE(fast_path_taken(review_of(
      R"({"spec":{"templates":[{"container":{"resources":{"requests":{"cpu":0.5}}}}]}})")));
  // The DOM road sees a kept 0 but not its text: "-0" anywhere sends it to json::parse. The
  // scan reads the text itself.
  const std::string zero = review_of(R"({"spec":{"nodeSelector":{"a":0},"x":"-0"}})");
  CHECK_FALSE(fast_path_taken(zero, json::ReviewReader::Stage2::kTape));
  CHECK(scanned(zero));
  CHECK(fast_path_taken(review_of(R"({"spec":{"nodeSelector":{"a":0}}})")));
  // Numbers in what is dropped are validated, never needed exactly.
  CHECK(fast_path_taken(review_of(R"({"spec":{"parallelism":0.5,"x":-0,"y":1e300}})")));
}

TEST_CASE("review_reader: what simdjson refuses gets json::parse's exact answer or error") {
  const Policy policy = standard_policy();
  const std::vector<std::string> texts = {
      "",
      " ",
      "[]",
      "{\"apiVersion\":1}",
      "\xEF\xBB\xBF" + review_of(kWorkflow),           // a byte-order mark
      review_of(R"({"metadata":{"name":"\ud800"}})"),  // a lone surrogate: U+FFFD
      review_of(R"({"spec":{"templates":[{"name":"\udd6d","container":{}}]}})"),
      review_of(R"({"x":1e400})"),   // beyond a double
      review_of(R"({"x":0e1100})"),  // 0 to simdjson and Go, too big to RapidJSON (fuzz_review)
      review_of(R"({"x":[1e-400,-0.0e999]})"),
      review_of(R"({"x":[1,]})"),  // malformed
      review_of(R"({"x":"a)"
                "\x01"
                R"("})"),                                          // a raw control character
      review_of(R"({"x":"\xff"})"),                                // not UTF-8
      review_of(kWorkflow) + " x",                                 // trailing text
      review_of(std::string(1500, '[') + std::string(1500, ']')),  // deeper than simdjson goes
  };
  for (const auto& text : texts) {
    CAPTURE(text.substr(0, 200));
    check_same(text, policy);
  }
}

TEST_CASE("review_reader: duplicate keys are all kept, so the last one counts as before") {
  const Policy policy = standard_policy();
  const std::string text = review_of(
      R"({"apiVersion":"argoproj.io/v1alpha1","spec":"Workflow","kind":"Workflow","metadata":{"name":"q"},)"
      R"("spec":{"templates":[{"name":"a","container":{"image":"x"}},{"name":"a","name":"b","container":null,"container":{}}]}})");
  CHECK(fast_path_taken(text));
  check_same(text, policy);
}

TEST_CASE("review_reader: every template type is kept, so multiple types are seen alike") {
  // fuzz_review: the pruned read dropped "plugin" (and "suspend", "http"), so it placed what the
  // full read found invalid for having two types.
  const Policy policy = standard_policy();
  for (const char* type : {"suspend", "http", "plugin", "resource", "data", "steps", "dag"}) {
    for (const char* value : {"{\"a\":[1]}", "null", "[]", "1"}) {
      CAPTURE(type);
      CAPTURE(value);
      const std::string text = review_of(
          std::string(R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Workflow","metadata":{)") +
          R"("name":"q"},"spec":{"templates":[{"name":"a","container":{"image":"x"},")" + type +
          "\":" + value + "}]}}");
      CHECK(fast_path_taken(text));
      check_same(text, policy);
      const bool typed = std::string_view(value) != "null";
      auto answer = review(text, policy);
      REQUIRE(answer.ok());
      CHECK((answer->summary.templates[0].reason == Reason::Invalid) == typed);
    }
  }
}

TEST_CASE("review_reader: a reader reused across reviews of every size answers each alike") {
  const Policy policy = standard_policy();
  json::ReviewReader reader;
  std::string big = R"({"kind":"Workflow","spec":{"templates":[)";
  for (int i = 0; i < 2000; ++i) {  // about 390 KB: between the two limits
    big += std::string(i == 0 ? "" : ",") + R"({"name":"t)" + std::to_string(i) +
           R"(","container":{"image":"x","args":[")" + std::string(100, 'a') +
           R"("],"resources":{"requests":{"cpu":"100m"}}}})";
  }
  big += "]}}";
  const std::vector<std::string> texts = {review_of(kWorkflow), review_of(big),
                                          review_of(kWorkflow), "{", review_of(kWorkflow)};
  REQUIRE(texts[1].size() > json::ReviewReader::kReusedCapacity);
  REQUIRE(texts[1].size() <= json::ReviewReader::kFastLimit);
  CHECK(fast_path_taken(texts[1]));  // with buffers of its own
  std::string huge = R"({"kind":"Workflow","spec":{"x":")" +
                     std::string(json::ReviewReader::kFastLimit, 'a') + R"("}})";
  // Beyond kFastLimit, RapidJSON's reader with the same pruning: "x" is not kept.
  auto pruned = reader.read(review_of(huge));
  REQUIRE(pruned.has_value());
  CHECK(json::write((*pruned)["request"]["object"]["spec"]) == "{}");
  check_same(review_of(huge), policy);
  for (const auto& text : texts) {
    auto reused = review(text, policy, reader);
    auto full = review(text, policy, ReviewParse::Full);
    REQUIRE(reused.ok() == full.ok());
    if (reused.ok()) CHECK(reused->body == full->body);
  }
}

TEST_CASE("review_reader: every corpus workflow gets the same answer both ways") {
  const Policy policy = standard_policy("  existingPlacement: Merge\n");
  int compared = 0;
  int scanned_reviews = 0;
  if (!for_each_corpus_document([&](const std::string& path, const json::Value& doc) {
        CAPTURE(path);
        rapidjson::StringBuffer buffer;  // json::write is byte for byte the Writer's text
        json::Writer<rapidjson::StringBuffer> writer(buffer);
        doc.Accept(writer);
        CHECK(json::write(doc) == std::string(buffer.GetString(), buffer.GetSize()));
        const std::string text = review_of(json::write(doc), json::str(*json::member(doc, "kind")));
        check_same(text, policy);
        scanned_reviews += scanned(text) ? 1 : 0;
        ++compared;
      })) {
    return;
  }
  CHECK(compared > 200);
  MESSAGE(scanned_reviews << " of " << compared << " corpus reviews scanned");
  CHECK(scanned_reviews > compared * 9 / 10);  // the rest hold a fraction or an exponent
}

TEST_CASE("review_reader: the scan keeps what the DOM road keeps, escapes and layout included") {
  const Policy policy = standard_policy("  existingPlacement: Merge\n");
  // Pretty-printed, as kubectl's own files are (kube-apiserver sends compact JSON).
  std::string pretty;
  bool in_string = false;
  bool escaped = false;
  for (const char c : review_of(kWorkflow)) {
    pretty += c;
    if (in_string) {
      in_string = escaped || c != '"';
      escaped = !escaped && c == '\\';
    } else if (c == '"') {
      in_string = true;
    } else if (c == ',' || c == '{' || c == '[') {
      pretty += "\n  \t";
    } else if (c == ':') {
      pretty += " \r\n";
    }
  }
  REQUIRE(json::parse(pretty).ok());
  const std::vector<std::string> texts = {
      pretty,
      // Escapes in kept strings and keys (a key spelled with an escape is still the key), in
      // dropped ones, and escaped backslashes before a quote.
      review_of(
          R"({"kind":"Workflow","metadata":{"na\u006de":"w\"1\\","annotations":{"x":"\\\\\"\/"}},)"
          R"("spec":{"templates":[{"n\u0061me":"t\u00e9\n","args":["\\","a\"b\\\\"],)"
          R"("container":{"resources":{"requests":{"cpu":"1\u0030"}}},"nodeSelector":{"k\t":"\u20ac"}}]}})"),
      // Every literal and integer form, kept and dropped.
      review_of(
          R"({"kind":"Workflow","spec":{"x":[true,false,null,0,-1,123456789012345678,-5,[],{}],)"
          R"("templates":[{"name":"t","container":{"resources":{"requests":{"cpu":7,"memory":-3}}},)"
          R"("nodeSelector":{"a":true,"b":null,"c":[1,{"d":false}]}}]}})"),
      // Keys and values that are not what a shape expects are kept whole.
      review_of(R"({"kind":"Workflow","spec":{"templates":{"a":1},"nodeSelector":[1,"x"]}})"),
      review_of(R"({"kind":"Workflow","spec":{"templates":[1,"x",null,[],{"name":{}}]}})"),
      review_of(R"({"kind":"Workflow","spec":{"templates":[{"name":"a","resource":{"x":[1]}}]}})"),
  };
  for (const auto& text : texts) {
    CAPTURE(text);
    CHECK(scanned(text));
    check_same(text, policy);
  }
}

TEST_CASE("review_reader: what the scan is not sure of goes the DOM road, with its answer") {
  const Policy policy = standard_policy();
  const std::string deep = std::string(600, '[') + std::string(600, ']');
  const std::vector<std::string> unsure = {
      review_of(R"({"spec":{"x":0.5}})"),                      // a fraction, even dropped
      review_of(R"({"spec":{"x":1e3}})"),                      // an exponent
      review_of(R"({"spec":{"x":1234567890123456789}})"),      // 19 digits
      review_of(R"({"spec":{"x":-0}})"),                       // "-0"
      review_of(R"({"spec":{"x":"\ud83d\ude00"}})"),           // a surrogate pair, dropped
      review_of(R"({"metadata":{"name":"\uD800"}})"),          // a lone surrogate
      review_of(R"({"spec":{"x":)" + deep + "}}"),             // deeper than the scan goes
      review_of(R"({"spec":{"nodeSelector":)" + deep + "}}"),  // the same, kept
      "[1]",
      "\"x\"",
  };
  for (const auto& text : unsure) {
    CAPTURE(text.substr(0, 120));
    CHECK_FALSE(scanned(text));
    check_same(text, policy);
  }
  // Malformed anywhere, kept or dropped: the scan gives up, the DOM road refuses, json::parse
  // gives the error.
  const std::vector<std::string> malformed = {
      R"({"x":[1,]})",
      R"({"x":[1 2]})",
      R"({"x":{"a" 1}})",
      R"({"x":{"a":1,}})",
      R"({"x":{,}})",
      R"({"x":[,1]})",
      R"({"x":{"a":1:2}})",
      R"({"x":tru})",
      R"({"x":nul})",
      R"({"x":falsey})",
      R"({"x":01})",
      R"({"x":-})",
      R"({"x":1.})",
      R"({"x":"\q"})",
      R"({"x":"\u12G4"})",
      R"({"x":[}})",
      R"({"x":{]})",
      R"({"x":{1:2}})",
      R"({"x":"a""b"})",
      R"({"x":1}})",
      R"({"x":1},{})",
      R"({"x":)",
      R"({"x")",
      R"({"kind":"W"})"
      "x",
      R"({"x":truex})",
      R"({"x":--1})",
      R"({"x":+1})",
      R"({"x":1x})",
      // Escapes, checked over the list of backslashes, and backslashes outside strings.
      R"({"x":"\\\q"})",
      R"({"x":"\u12"})",
      R"({"x":"a\"})",
      R"({"x":[1]\})",
      R"({"x":\"a"})",
      R"({"x":"a"\,"y":1})",
      // Brackets that do not match, as many closed as opened, inside a value the scan jumps
      // over.
      R"({"x":[{"a":1]}})",
      R"({"x":{"a":[1}]})",
      R"({"x":[{"a":{"b":[]]}}})",
      R"({"x":[[[]]})",
      // The same where the shapes keep some members and drop others (the walk's own frames).
      R"({"kind":"W",})",
      R"({"kind" "W"})",
      R"({"kind":})",
      R"({"kind":"W""x":1})",
      R"({"metadata":{"name":"a",}})",
      R"({"metadata":{"annotations":{"node-allocator.io/skip":tru}}})",
      R"({"spec":{"templates":[{"name":"a"},]}})",
      R"({"spec":{"templates":[,{"name":"a"}]}})",
      R"({"spec":{"templates":[{"name":"a"}}}})",
      R"({"spec":{"templates":[{"name":"a"]]}})",
      R"({"spec":{"templates":[{"name":01}]}})",
      R"({"spec":{"templates":[{"name":"a","container":{"resources":{"requests":{"cpu":1.}}}}]}})",
      R"({"spec":{"templates":[{"resource":{"a":1,}}]}})",
      R"({"spec":{"templates":[{"resource":{"a" 1}}]}})",
      R"({"spec":{"templates":[{"resource":{"a":[1}}]}})",
      R"({"spec":{"templates":[{"name":"a"} {"name":"b"}]}})",
      R"({"spec":{"templates":[{"name":"a"}]})",
  };
  for (const std::string& object : malformed) {
    for (const std::string& text :
         {review_of(object), review_of(R"({"spec":{"nodeSelector":)" + object + "}}")}) {
      CAPTURE(text);
      CHECK_FALSE(scanned(text));
      CHECK_FALSE(review(text, policy).ok());
      check_same(text, policy);
    }
  }
}
