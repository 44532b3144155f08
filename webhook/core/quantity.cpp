// A port of k8s.io/apimachinery/pkg/api/resource ParseQuantity (quantity.go, suffix.go) that
// keeps the decisions Kubernetes makes — its fast path, its slow path with the int64 cap and
// the round-up to 1n — but computes the value exactly.
#include "core/quantity.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

namespace nodealloc {
namespace {

using Int = Quantity::Int;

const Int& saturation_bound() {
  static const Int bound = boost::multiprecision::pow(Int(10), Quantity::kSaturationDigits);
  return bound;
}

Int pow10(std::int64_t exp) {
  return boost::multiprecision::pow(Int(10), static_cast<unsigned>(exp));
}

// 10^i, and the largest product <= int64 max whose multiple by it fits 128 bits unsigned.
struct PowerOfTen {
  unsigned __int128 value;
  std::uint64_t max_factor;
};
constexpr std::array<PowerOfTen, 39> kPowersOfTen = [] {
  std::array<PowerOfTen, 39> t{};
  unsigned __int128 p = 1;
  for (auto& e : t) {
    const unsigned __int128 bound = ~static_cast<unsigned __int128>(0) / p;
    const auto int64_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    e = {p, bound >= int64_max ? int64_max : static_cast<std::uint64_t>(bound)};
    p *= 10;
  }
  return t;
}();

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Go's strings.TrimSpace: ASCII white space plus Unicode's (NEL, NBSP, the Z category).
std::size_t space_prefix(std::string_view s) {
  const auto* u = reinterpret_cast<const unsigned char*>(s.data());
  if (s.empty()) return 0;
  if (u[0] == ' ' || (u[0] >= '\t' && u[0] <= '\r')) return 1;
  if (s.size() >= 2 && u[0] == 0xC2 && (u[1] == 0x85 || u[1] == 0xA0)) return 2;
  if (s.size() >= 3) {
    const unsigned cp = ((u[0] & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu);
    if ((u[0] & 0xF0) == 0xE0 && (u[1] & 0xC0) == 0x80 && (u[2] & 0xC0) == 0x80 &&
        (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000)) {
      return 3;
    }
  }
  return 0;
}

std::size_t space_suffix(std::string_view s) {
  for (std::size_t n = 1; n <= 3 && n <= s.size(); ++n) {
    if (space_prefix(s.substr(s.size() - n)) == n) return n;
  }
  return 0;
}

std::string_view trim_space(std::string_view s) {
  // Every space starts with a byte <= ' ' or >= 0x80 and ends with one: most quantities are
  // done here.
  const auto plain = [](char c) { return c > ' ' && static_cast<unsigned char>(c) < 0x80; };
  if (s.empty() || (plain(s.front()) && plain(s.back()))) return s;
  while (std::size_t n = space_prefix(s)) s.remove_prefix(n);
  while (std::size_t n = space_suffix(s)) s.remove_suffix(n);
  return s;
}

struct Parts {
  bool positive = true;
  std::string_view value;  // sign, digits and point, as written
  std::string_view num;    // integer digits without leading zeros ("0" when none)
  std::string_view denom;  // fraction digits
  std::string_view suffix;
};

// parseQuantityString.
std::optional<Parts> split(std::string_view str) {
  Parts p;
  std::size_t pos = 0;
  const std::size_t end = str.size();
  if (pos < end && (str[0] == '-' || str[0] == '+')) {
    p.positive = str[0] == '+';
    ++pos;
  }
  while (pos < end && str[pos] == '0') ++pos;
  if (pos >= end) {
    p.num = "0";
    p.value = "0";
    return p;
  }
  std::size_t i = pos;
  while (i < end && is_digit(str[i])) ++i;
  p.num = str.substr(pos, i - pos);
  pos = i;
  if (p.num.empty()) p.num = "0";
  if (pos >= end) {
    p.value = str;
    return p;
  }
  if (str[pos] == '.') {
    ++pos;
    i = pos;
    while (i < end && is_digit(str[i])) ++i;
    p.denom = str.substr(pos, i - pos);
    pos = i;
    if (pos >= end) {
      p.value = str;
      return p;
    }
  }
  p.value = str.substr(0, pos);
  const std::size_t suffix_start = pos;
  static constexpr std::array<bool, 256> kSuffixChar = [] {
    std::array<bool, 256> t{};
    for (const char c : std::string_view("eEinumkKMGTP")) t[static_cast<unsigned char>(c)] = true;
    return t;
  }();
  while (pos < end && kSuffixChar[static_cast<unsigned char>(str[pos])]) ++pos;
  if (pos < end && (str[pos] == '-' || str[pos] == '+')) ++pos;
  while (pos < end && is_digit(str[pos])) ++pos;
  if (pos < end) return std::nullopt;  // ErrFormatWrong
  p.suffix = str.substr(suffix_start);
  return p;
}

enum class Format { DecimalSI, BinarySI, DecimalExponent };
struct Suffix {
  int base;
  std::int32_t exponent;
  Format format;
};

// strconv.ParseInt(s, 10, 64).
std::optional<std::int64_t> parse_int64(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  const std::uint64_t limit = negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (limit - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return negative ? static_cast<std::int64_t>(0 - v) : static_cast<std::int64_t>(v);
}

// suffixer.interpret.
std::optional<Suffix> interpret(std::string_view s) {
  struct Entry {
    std::string_view text;
    Suffix suffix;
  };
  static constexpr std::array<Entry, 16> kTable{{
      {"", {10, 0, Format::DecimalSI}},
      {"n", {10, -9, Format::DecimalSI}},
      {"u", {10, -6, Format::DecimalSI}},
      {"m", {10, -3, Format::DecimalSI}},
      {"k", {10, 3, Format::DecimalSI}},
      {"M", {10, 6, Format::DecimalSI}},
      {"G", {10, 9, Format::DecimalSI}},
      {"T", {10, 12, Format::DecimalSI}},
      {"P", {10, 15, Format::DecimalSI}},
      {"E", {10, 18, Format::DecimalSI}},
      {"Ki", {2, 10, Format::BinarySI}},
      {"Mi", {2, 20, Format::BinarySI}},
      {"Gi", {2, 30, Format::BinarySI}},
      {"Ti", {2, 40, Format::BinarySI}},
      {"Pi", {2, 50, Format::BinarySI}},
      {"Ei", {2, 60, Format::BinarySI}},
  }};
  if (s.size() <= 2) {
    for (const auto& e : kTable) {  // compared inline: suffixes are 0-2 bytes
      if (e.text.size() == s.size() && std::equal(s.begin(), s.end(), e.text.begin())) {
        return e.suffix;
      }
    }
  }
  if (s.size() > 1 && (s[0] == 'e' || s[0] == 'E')) {
    auto parsed = parse_int64(s.substr(1));
    if (!parsed) return std::nullopt;
    // Go's int32(parsed) wraps; so do we.
    return Suffix{10, static_cast<std::int32_t>(static_cast<std::uint32_t>(*parsed)),
                  Format::DecimalExponent};
  }
  return std::nullopt;
}

Int digits_to_int(std::string_view a, std::string_view b = {}) {
  Int v = 0;
  for (std::string_view part : {a, b}) {
    for (char c : part) {
      if (is_digit(c)) v = v * 10 + (c - '0');
    }
  }
  return v;
}

// value * 10^exp10 with exp10 >= 0, saturating.
Int scale_up(Int value, std::int64_t exp10) {
  if (value.is_zero()) return value;
  if (exp10 >= Quantity::kSaturationDigits) return saturation_bound();
  value *= pow10(exp10);
  return value >= saturation_bound() ? saturation_bound() : value;
}

// A value of `magnitude` nano-units, negated unless `positive`.
Quantity from_magnitude(unsigned __int128 magnitude, bool positive) {
  constexpr auto kMax = static_cast<unsigned __int128>(std::numeric_limits<__int128>::max());
  if (magnitude > kMax) {
    const Int big(magnitude);
    return Quantity::from_nanos(positive ? big : Int(-big));
  }
  const auto value = static_cast<__int128>(magnitude);
  return Quantity::from_nanos(positive ? value : -value);
}

// The common form, "<digits><suffix>" with a non-zero first digit ("100m", "2Gi", "1"), the way
// parse_general() computes it on its int64 fast path, without splitting the text into parts.
// nullopt when the text is not of that form or would leave that path: parse_general() decides.
// The magnitude in nano-units (the form is never negative).
std::optional<unsigned __int128> simple_magnitude(std::string_view str) {
  if (str.empty() || str[0] < '1' || str[0] > '9') return std::nullopt;
  std::size_t digits = 1;
  std::uint64_t value = static_cast<std::uint64_t>(str[0] - '0');
  while (digits < str.size() && is_digit(str[digits])) {
    if (digits == 18) return std::nullopt;  // beyond the 18 digits an int64 always holds
    value = value * 10 + static_cast<std::uint64_t>(str[digits] - '0');
    ++digits;
  }
  const std::string_view suffix = str.substr(digits);
  std::int32_t exp10 = 9;  // to nano-units
  std::uint64_t product = value;
  // A suffix's power of ten (decimal) or of two (binary, before the 'i'), by its first byte.
  static constexpr int kNone = 127;
  static constexpr auto kExponents = [] {
    std::array<std::pair<int, int>, 128> t{};
    t.fill({kNone, kNone});
    for (const auto& [c, decimal, binary] : {std::tuple{'n', -9, kNone},
                                             {'u', -6, kNone},
                                             {'m', -3, kNone},
                                             {'k', 3, kNone},
                                             {'K', kNone, 10},
                                             {'M', 6, 20},
                                             {'G', 9, 30},
                                             {'T', 12, 40},
                                             {'P', 15, 50},
                                             {'E', 18, 60}}) {
      t[static_cast<unsigned char>(c)] = {decimal, binary};
    }
    return t;
  }();
  const auto [decimal, binary] = suffix.empty() || static_cast<unsigned char>(suffix[0]) >= 128
                                     ? std::pair{kNone, kNone}
                                     : kExponents[static_cast<unsigned char>(suffix[0])];
  if (suffix.size() == 2 && suffix[1] == 'i' && binary != kNone) {
    const std::int64_t exponent = binary;
    // parse_general's precision test for BinarySI, then its overflow test.
    if (15 - static_cast<std::int64_t>(digits) - exponent * 3 / 10 - 1 < 0) return std::nullopt;
    if (__builtin_mul_overflow(value, std::uint64_t{1} << exponent, &product) ||
        product > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return std::nullopt;
    }
  } else if (suffix.size() == 1 && decimal != kNone) {
    exp10 += decimal;
  } else if (!suffix.empty()) {
    return std::nullopt;
  }
  const auto& power = kPowersOfTen[static_cast<std::size_t>(exp10)];
  if (product > power.max_factor) return std::nullopt;
  return product * power.value;
}

std::optional<Quantity> parse_simple(std::string_view str) {
  const auto magnitude = simple_magnitude(str);
  if (!magnitude) return std::nullopt;
  return from_magnitude(*magnitude, true);
}

// resource.ParseQuantity on a trimmed text: every form, exactly.
std::optional<Quantity> parse_general(std::string_view str) {
  if (str.empty()) return std::nullopt;
  if (str == "0") return Quantity{};
  auto parts = split(str);
  if (!parts) return std::nullopt;
  auto suffix = interpret(parts->suffix);
  if (!suffix) return std::nullopt;

  const auto num_len = static_cast<std::int32_t>(parts->num.size());
  const auto denom_len = static_cast<std::int32_t>(parts->denom.size());
  std::int64_t precision = 0;
  std::int64_t scale = 0;
  std::uint64_t mantissa = 1;
  if (suffix->format == Format::BinarySI) {
    if (suffix->exponent >= 0 && denom_len == 0) {
      mantissa <<= suffix->exponent;
      precision = 15 - num_len - suffix->exponent * 3 / 10 - 1;
    } else {
      precision = -1;
    }
  } else {
    scale = suffix->exponent;
    precision = 18 - static_cast<std::int64_t>(num_len) - denom_len;
  }

  // The fast path: the value fits an int64 at a scale of at least nano. Go computes the
  // shifted scale in int32, so "1.5e2147483648" (exponent wrapped to -2^31) wraps back up.
  const auto shifted_scale = static_cast<std::int32_t>(static_cast<std::uint32_t>(scale) -
                                                       static_cast<std::uint32_t>(denom_len));
  if (precision >= 0 && shifted_scale >= -9) {
    std::uint64_t value = 0;  // at most 18 digits
    for (std::string_view part : {parts->num, parts->denom}) {
      for (char c : part) value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    std::uint64_t product = 0;
    if (!__builtin_mul_overflow(value, mantissa, &product) &&
        product <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      // product * 10^exp10 in 128 bits when it fits (every ordinary quantity: no cpp_int
      // arithmetic, and below the saturation bound); else exactly, saturating.
      const std::int64_t exp10 = std::int64_t{shifted_scale} + 9;
      const auto& powers = kPowersOfTen;
      const bool fits = exp10 < static_cast<std::int64_t>(powers.size()) &&
                        product <= powers[static_cast<std::size_t>(exp10)].max_factor;
      if (fits) {
        return from_magnitude(product * powers[static_cast<std::size_t>(exp10)].value,
                              parts->positive);
      }
      const Int nanos = scale_up(Int(product), exp10);
      return Quantity::from_nanos(parts->positive ? nanos : Int(-nanos));
    }
  }

  // The slow path (inf.Dec): the value as written, rounded up to 1n; a BinarySI value is
  // capped at 2^63-1, a decimal one is not (it saturates like the fast path).
  const std::string_view value = parts->value;
  std::size_t digits = 0;
  std::size_t frac = 0;
  bool after_point = false;
  for (char c : value) {
    if (c == '.') after_point = true;
    if (is_digit(c)) {
      ++digits;
      if (after_point) ++frac;
    }
  }
  if (digits == 0) return std::nullopt;  // inf.Dec: "no digits read"
  Int unscaled = digits_to_int(value);
  if (suffix->format == Format::BinarySI) unscaled <<= suffix->exponent;
  const std::int64_t exp10 =
      (suffix->format == Format::BinarySI ? 0 : std::int64_t{suffix->exponent}) -
      static_cast<std::int64_t>(frac) + 9;
  static const Int cap = Int(std::numeric_limits<std::int64_t>::max()) * 1'000'000'000;
  Int nanos;
  if (unscaled.is_zero()) {
    nanos = 0;
  } else if (exp10 >= 0) {
    nanos = scale_up(unscaled, exp10);
  } else if (-exp10 > static_cast<std::int64_t>(digits) + 20) {
    nanos = 1;  // 0 < value < 1n: rounded up
  } else {
    const Int divisor = pow10(-exp10);
    nanos = unscaled / divisor;
    if (nanos * divisor != unscaled) nanos += 1;
  }
  if (suffix->format == Format::BinarySI && nanos > cap) nanos = cap;
  if (nanos > saturation_bound()) nanos = saturation_bound();
  return Quantity::from_nanos(parts->positive ? nanos : Int(-nanos));
}

std::string with_suffix(const Int& v, std::string_view suffix) {
  std::string s = v.str();
  s.append(suffix);
  return s;
}

}  // namespace

Quantity Quantity::from_nanos(const Int& nanos) {
  static const Int kMin(std::numeric_limits<__int128>::min());
  static const Int kMax(std::numeric_limits<__int128>::max());
  if (nanos >= kMin && nanos <= kMax) return from_nanos(nanos.convert_to<__int128>());
  Quantity q;
  q.big_ = std::make_shared<const Int>(nanos);
  return q;
}

bool Quantity::saturated() const {
  return big_ && *big_ >= saturation_bound();  // the bound is far beyond 128 bits
}

Quantity& Quantity::operator+=(const Quantity& other) {
  __int128 sum128 = 0;
  if (!big_ && !other.big_ && !__builtin_add_overflow(small_, other.small_, &sum128)) {
    small_ = sum128;
    return *this;
  }
  Int sum = nanos() + other.nanos();
  if (sum > saturation_bound()) sum = saturation_bound();
  *this = from_nanos(sum);
  return *this;
}

std::string Quantity::to_string() const {
  if (saturated()) return "1e" + std::to_string(kSaturationDigits - 9) + " or more";
  const Int nanos = this->nanos();
  if (nanos.is_zero()) return "0";
  const Int billion = 1'000'000'000;
  if (nanos % billion != 0) {
    if (nanos % 1'000'000 == 0) return with_suffix(nanos / 1'000'000, "m");
    if (nanos % 1'000 == 0) return with_suffix(nanos / 1'000, "u");
    return with_suffix(nanos, "n");
  }
  // Whole units: the shorter of the largest exact decimal and binary forms ("3T", "64Mi").
  const Int units = nanos / billion;
  std::string decimal = units.str();
  static constexpr std::array<std::string_view, 6> kDecimal{"k", "M", "G", "T", "P", "E"};
  for (std::size_t i = kDecimal.size(); i-- > 0;) {
    const Int factor = pow10(3 * static_cast<std::int64_t>(i + 1));
    if (units % factor == 0) {
      decimal = with_suffix(units / factor, kDecimal[i]);
      break;
    }
  }
  // A binary suffix reads back capped at 2^63-1 units ("12E" is not "11444091796875Mi").
  if (abs(units) > std::numeric_limits<std::int64_t>::max()) return decimal;
  static constexpr std::array<std::string_view, 6> kBinary{"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  for (std::size_t i = kBinary.size(); i-- > 0;) {
    const Int factor = Int(1) << (10 * (i + 1));
    if (units % factor == 0) {
      std::string binary = with_suffix(units / factor, kBinary[i]);
      return binary.size() < decimal.size() ? binary : decimal;
    }
  }
  return decimal;
}

std::optional<Quantity> parse_quantity(std::string_view text) {
  const std::string_view trimmed = trim_space(text);
  if (auto q = parse_simple(trimmed)) return q;
  return parse_general(trimmed);
}

std::optional<__int128> parse_small_nanos(std::string_view text) {
  const std::string_view trimmed = trim_space(text);
  constexpr auto kMax = static_cast<unsigned __int128>(std::numeric_limits<__int128>::max());
  if (const auto magnitude = simple_magnitude(trimmed); magnitude && *magnitude <= kMax) {
    return static_cast<__int128>(*magnitude);
  }
  const auto q = parse_general(trimmed);
  return q ? q->small_nanos() : std::nullopt;
}

namespace detail {
std::optional<Quantity> parse_general_for_test(std::string_view text) {
  return parse_general(trim_space(text));
}
}  // namespace detail

}  // namespace nodealloc
