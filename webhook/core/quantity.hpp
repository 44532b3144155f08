// Kubernetes resource quantities (k8s.io/apimachinery resource.Quantity), exact.
#pragma once

#include <boost/multiprecision/cpp_int.hpp>
#include <compare>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace nodealloc {

// A quantity as Kubernetes holds it after parsing: every parsed value is a whole number of
// nano-units (smaller values are rounded up to 1n), so we keep exactly that integer.
// Values of 10^kSaturationDigits nano-units or more (e.g. "1e2000") are kept as that bound:
// every capacity a policy may hold is below it, so fit decisions stay exact.
//
// Like Kubernetes' own (an int64 with a scale, inf.Dec beyond), the common values take a fast
// form: a 128-bit integer (up to 1.7e29 units, 1.5e11 Ei), and only larger ones a cpp_int.
class Quantity {
 public:
  using Int = boost::multiprecision::cpp_int;
  static constexpr int kSaturationDigits = 1000;

  Quantity() = default;
  static Quantity from_nanos(const Int& nanos);
  static Quantity from_nanos(__int128 nanos) {
    Quantity q;
    q.small_ = nanos;
    return q;
  }
  static Quantity from_units(long long units) {
    return from_nanos(static_cast<__int128>(units) * 1'000'000'000);
  }

  Int nanos() const { return big_ ? *big_ : Int(small_); }
  // The value when it fits 128 bits (most do), else nullopt: for sums kept in 128 bits.
  std::optional<__int128> small_nanos() const {
    return big_ ? std::nullopt : std::optional<__int128>(small_);
  }
  bool is_zero() const { return !big_ && small_ == 0; }
  bool is_negative() const { return big_ ? big_->sign() < 0 : small_ < 0; }
  bool saturated() const;

  Quantity& operator+=(const Quantity& other);
  friend Quantity operator+(Quantity a, const Quantity& b) { return a += b; }
  friend bool operator==(const Quantity& a, const Quantity& b) {
    if (!a.big_ && !b.big_) return a.small_ == b.small_;
    return a.nanos() == b.nanos();
  }
  friend std::strong_ordering operator<=>(const Quantity& a, const Quantity& b) {
    if (!a.big_ && !b.big_) return a.small_ <=> b.small_;
    const Int x = a.nanos();
    const Int y = b.nanos();
    return x < y   ? std::strong_ordering::less
           : x > y ? std::strong_ordering::greater
                   : std::strong_ordering::equal;
  }

  // Short exact text for messages: "500m", "64Mi", "2", "1500000001n".
  std::string to_string() const;

 private:
  // The value: small_, or *big_ when it does not fit 128 bits (then small_ is 0). A value that
  // fits is always small_, so two small ones compare by small_ alone. big_ is immutable, so
  // copies share it.
  __int128 small_ = 0;
  std::shared_ptr<const Int> big_;
};

// Parses like resource.ParseQuantity after Quantity.UnmarshalJSON's TrimSpace: signs, leading
// zeros, "1.", ".5", decimal and binary suffixes, exponents ("1e3", "1E-2"), the int64 cap of
// the slow path, rounding up to 1n. nullopt for anything Kubernetes rejects.
std::optional<Quantity> parse_quantity(std::string_view text);

// parse_quantity's value in nano-units, without making a Quantity, when it fits 128 bits (every
// quantity a pod asks for); nullopt when it is invalid or larger. For sums kept in 128 bits
// (template_request's common road).
std::optional<__int128> parse_small_nanos(std::string_view text);

namespace detail {
// parse_quantity without its shortcut for the common "<digits><suffix>" form: the reference the
// unit tests hold the shortcut to.
std::optional<Quantity> parse_general_for_test(std::string_view text);
}  // namespace detail

}  // namespace nodealloc
