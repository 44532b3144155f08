// parse_quantity on arbitrary bytes. Properties: no crash, no sanitizer report; the same result
// as the general parse (no shortcut); a parsed value's to_string() parses back to the same
// value; surrounding white space changes nothing.
#include <string>

#include "core/quantity.hpp"
#include "fuzz_support.hpp"

using nodealloc::parse_quantity;
using nodealloc::Quantity;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = nodealloc::fuzz::as_text(data, size);
  const auto q = parse_quantity(text);

  // The shortcut for "<digits><suffix>" agrees with the general parse, on every input.
  const auto general = nodealloc::detail::parse_general_for_test(text);
  FUZZ_CHECK(general.has_value() == q.has_value(), "the shortcut and the general parse disagree",
             text);
  FUZZ_CHECK(!q || *general == *q, "the shortcut's value differs: " + q->to_string(), text);

  // "x" and "  x  " (and tabs, newlines) agree: Kubernetes trims before parsing.
  const std::string padded = " \t" + std::string(text) + "\n  ";
  const auto p = parse_quantity(padded);
  FUZZ_CHECK(p.has_value() == q.has_value(), "padding changed whether it parses", text);
  if (!q) return 0;
  FUZZ_CHECK(*p == *q, "padding changed the value: " + p->to_string() + " vs " + q->to_string(),
             text);

  const std::string shown = q->to_string();
  FUZZ_CHECK(!shown.empty(), "empty to_string()", text);
  static const Quantity::Int bound =
      boost::multiprecision::pow(Quantity::Int(10), Quantity::kSaturationDigits);
  FUZZ_CHECK(q->nanos() <= bound && q->nanos() >= -bound, "value beyond the saturation bound",
             text);
  if (q->saturated()) return 0;  // shown as "1e991 or more": a bound, not a quantity
  FUZZ_CHECK(shown.find(' ') == std::string::npos, "to_string() has a space: " + shown, text);

  const auto back = parse_quantity(shown);
  FUZZ_CHECK(back.has_value(), "to_string() does not parse: " + shown, text);
  FUZZ_CHECK(*back == *q,
             "to_string() parses to another value: " + shown + " -> " + back->to_string(), text);
  FUZZ_CHECK(back->to_string() == shown, "to_string() is not stable: " + shown, text);
  return 0;
}
