// Kubernetes resource quantities (k8s.io/apimachinery resource.Quantity), exact.
#pragma once

#include <boost/multiprecision/cpp_int.hpp>
#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace nodealloc {

// A quantity as Kubernetes holds it after parsing: every parsed value is a whole number of
// nano-units (smaller values are rounded up to 1n), so we keep exactly that integer.
// Values of 10^kSaturationDigits nano-units or more (e.g. "1e2000") are kept as that bound:
// every capacity a policy may hold is below it, so fit decisions stay exact.
class Quantity {
 public:
  using Int = boost::multiprecision::cpp_int;
  static constexpr int kSaturationDigits = 1000;

  Quantity() = default;
  static Quantity from_nanos(Int nanos);
  static Quantity from_units(long long units) { return from_nanos(Int(units) * 1'000'000'000); }

  const Int& nanos() const { return nanos_; }
  bool is_zero() const { return nanos_.is_zero(); }
  bool is_negative() const { return nanos_ < 0; }
  bool saturated() const;

  Quantity& operator+=(const Quantity& other);
  friend Quantity operator+(Quantity a, const Quantity& b) { return a += b; }
  friend bool operator==(const Quantity& a, const Quantity& b) { return a.nanos_ == b.nanos_; }
  friend std::strong_ordering operator<=>(const Quantity& a, const Quantity& b) {
    return a.nanos_ < b.nanos_   ? std::strong_ordering::less
           : a.nanos_ > b.nanos_ ? std::strong_ordering::greater
                                 : std::strong_ordering::equal;
  }

  // Short exact text for messages: "500m", "64Mi", "2", "1500000001n".
  std::string to_string() const;

 private:
  Int nanos_;
};

// Parses like resource.ParseQuantity after Quantity.UnmarshalJSON's TrimSpace: signs, leading
// zeros, "1.", ".5", decimal and binary suffixes, exponents ("1e3", "1E-2"), the int64 cap of
// the slow path, rounding up to 1n. nullopt for anything Kubernetes rejects.
std::optional<Quantity> parse_quantity(std::string_view text);

namespace detail {
// parse_quantity without its shortcut for the common "<digits><suffix>" form: the reference the
// unit tests hold the shortcut to.
std::optional<Quantity> parse_general_for_test(std::string_view text);
}  // namespace detail

}  // namespace nodealloc
