// Kubernetes quantities (spec §3, §9): the grammar of k8s.io/apimachinery's ParseQuantity, exact.
// Expected values were checked against apimachinery's quantity.go / quantity_test.go.
#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "core/quantity.hpp"

namespace nodealloc {
namespace {

// The parsed value in nano-units as decimal text, or "invalid".
std::string nanos(std::string_view text) {
  auto q = parse_quantity(text);
  return q ? q->nanos().str() : "invalid";
}

Quantity q(std::string_view text) {
  auto parsed = parse_quantity(text);
  REQUIRE_MESSAGE(parsed.has_value(), "does not parse: " << text);
  return *parsed;
}

// "1" followed by `zeros` zeros.
std::string one_then_zeros(std::size_t zeros) {
  return "1" + std::string(zeros, '0');
}

constexpr std::string_view kInt64Max = "9223372036854775807";

}  // namespace

TEST_CASE("§3 quantities: plain integers are whole units") {
  CHECK(nanos("0") == "0");
  CHECK(nanos("1") == "1000000000");
  CHECK(nanos("9") == "9000000000");
  CHECK(nanos("250") == "250000000000");
  CHECK(nanos("00001") == "1000000000");
  CHECK(nanos("00") == "0");
  CHECK(nanos("0.000") == "0");
}

TEST_CASE("§3 quantities: \"0.1\" equals \"100m\"") {
  CHECK(q("0.1") == q("100m"));
  CHECK(nanos("0.1") == "100000000");
  CHECK(q("0.5") == q("500m"));
  CHECK(q("1.5") == q("1500m"));
  CHECK(q("0.1") != q("101m"));
}

TEST_CASE("§3 quantities: decimal SI suffixes n u m k M G T P E") {
  CHECK(nanos("5n") == "5");
  CHECK(nanos("4u") == "4000");
  CHECK(nanos("3m") == "3000000");
  CHECK(nanos("8k") == "8000000000000");
  CHECK(nanos("7M") == "7000000000000000");
  CHECK(nanos("6G") == "6000000000000000000");
  CHECK(nanos("5T") == "5000000000000000000000");
  CHECK(nanos("2P") == "2000000000000000000000000");
  CHECK(nanos("1E") == "1000000000000000000000000000");
  // "12E" is beyond int64 units, yet exact (fast path, scale 18).
  CHECK(nanos("12E") == "12000000000000000000000000000");
  CHECK(q("1k") == q("1000"));
  CHECK(q("1000M") == q("1G"));
}

TEST_CASE("§3 quantities: binary SI suffixes Ki Mi Gi Ti Pi Ei") {
  CHECK(nanos("1Ki") == "1024000000000");
  CHECK(q("1Ki") == q("1024"));
  CHECK(q("7Mi") == q(std::to_string(7LL * 1024 * 1024)));
  CHECK(q("6Gi") == q(std::to_string(6LL << 30)));
  CHECK(q("5Ti") == q(std::to_string(5LL << 40)));
  CHECK(q("4Pi") == q(std::to_string(4LL << 50)));
  CHECK(q("3Ei") == q(std::to_string(3LL << 60)));
  CHECK(q("1024Mi") == q("1Gi"));
  CHECK(q("1Ki") != q("1k"));
}

TEST_CASE("§3 quantities: fractional binary values (\"1.5Gi\", \"0.5Mi\", \"100.035Ki\")") {
  CHECK(q("1.5Gi") == q("1536Mi"));
  CHECK(nanos("1.5Gi") == "1610612736000000000");
  CHECK(q("0.5Mi") == q("512Ki"));
  CHECK(q("100.035Ki") == q("102435.84"));
  CHECK(q("0.05Gi") == q("53687091.2"));
  CHECK(q("0.025Ti") == q("27487790694.4"));
  // Below 1n the value rounds up: 0.000000000001Ki = 1.024e-9 -> 2n.
  CHECK(nanos("0.000000000001Ki") == "2");
  CHECK(nanos(".001Ki") == "1024000000");
}

TEST_CASE("§3 quantities: decimal exponents e and E (\"1e3\" == \"1k\", \"1E3\")") {
  CHECK(q("1e3") == q("1k"));
  CHECK(q("1E3") == q("1k"));
  CHECK(q("1E-3") == q("1m"));
  CHECK(q("1e0") == q("1"));
  CHECK(q("1e-9") == q("1n"));
  CHECK(q("1.2e3") == q("1200"));
  CHECK(q("1.3E+6") == q("1300000"));
  CHECK(q("1.40e9") == q("1.4G"));
  CHECK(q("1.7E18") == q("1700P"));
  CHECK(q("0.5e-1") == q("50m"));
  CHECK(q("0.5e-2") == q("5m"));
}

TEST_CASE("§3 quantities: \"1E\" is exa (a suffix), not an incomplete exponent") {
  CHECK(nanos("1E") == one_then_zeros(27));
  CHECK(nanos("1e") == "invalid");  // lower-case e alone is no suffix
  CHECK(nanos("1e+") == "invalid");
  CHECK(nanos("1e-") == "invalid");
}

TEST_CASE("§9 quantities: \"1e100\" is a legal, exact, huge value") {
  const Quantity big = q("1e100");
  CHECK(big.nanos().str() == one_then_zeros(109));
  CHECK_FALSE(big.saturated());
  CHECK(big > q("9223372036854775807"));
  CHECK(q("1e100") == q("10e99"));
  CHECK(q("1e100") < q("1.0000000001e100"));
}

TEST_CASE("§9 quantities: values below 1n are rounded up to 1n (\"1e-10\")") {
  CHECK(nanos("1e-10") == "1");
  CHECK(nanos("0.0000000001") == "1");
  CHECK(nanos("0.0000000005") == "1");
  CHECK(nanos("0.5e-9") == "1");
  CHECK(nanos("0.9n") == "1");
  CHECK(nanos("3.001n") == "4");
  CHECK(nanos("1.1E-9") == "2");
  CHECK(nanos("0.00000012345") == "124");
  CHECK(nanos("0.00000012354") == "124");
  CHECK(nanos("1e-100") == "1");
  CHECK(nanos("0.0000000010") == "1");  // exactly 1n, no rounding
  CHECK(nanos("-1e-10") == "-1");       // away from zero, as inf.RoundUp does
}

TEST_CASE("§9 quantities: \"1.\" is 1, \".5\" is 0.5, \"1.G\" is 1G") {
  CHECK(nanos("1.") == "1000000000");
  CHECK(nanos(".5") == "500000000");
  CHECK(nanos(".001") == "1000000");
  CHECK(nanos(".0001k") == "100000000");
  CHECK(q("1.G") == q("1G"));
  CHECK(q("0001.5000") == q("1500m"));
}

TEST_CASE("§9 quantities: \"-\", \"+\", \".\" and a bare suffix parse as 0 (the fast path)") {
  // A missing number is "0" to parseQuantityString, so a bare suffix is 0 too ("Ei" alone
  // is the exception: its slow path finds no digits).
  for (std::string_view s : {"-", "+", ".", "-.", "+.", "-0", "+0", "0.", "0e5", "0Ki", "0n", "Ki",
                             "Mi", "k", "m", "E", "e3", "-e3", ".e3"}) {
    CAPTURE(s);
    CHECK(nanos(s) == "0");
  }
}

TEST_CASE("§9 quantities: negative numbers parse as negative") {
  CHECK(nanos("-1") == "-1000000000");
  CHECK(nanos("-0.5") == "-500000000");
  CHECK(nanos("-1Ki") == "-1024000000000");
  CHECK(nanos("+1") == "1000000000");
  CHECK(nanos("+0.1") == "100000000");
  CHECK(q("-1").is_negative());
  CHECK_FALSE(q("0").is_negative());
  CHECK_FALSE(q("-0").is_negative());
  CHECK(q("-100m") < q("0"));
}

TEST_CASE("§9 quantities: surrounding white space is trimmed (Go's strings.TrimSpace)") {
  CHECK(nanos("  1  ") == "1000000000");
  CHECK(nanos("\t2\n") == "2000000000");
  CHECK(nanos("\r3\v\f") == "3000000000");
  CHECK(nanos("\u00a01\u00a0") == "1000000000");  // NBSP U+00A0
  CHECK(nanos("\u00851") == "1000000000");        // NEL U+0085
  CHECK(nanos("\u20001Ki\u3000") == "1024000000000");
  CHECK(nanos("1\u2028") == "1000000000");
  // U+200B ZERO WIDTH SPACE is not white space to Go.
  CHECK(nanos("\u200b1") == "invalid");
}

TEST_CASE("§9 quantities: inner white space is invalid (\"1 Ki\")") {
  CHECK(nanos("1 Ki") == "invalid");
  CHECK(nanos("1 ") != "invalid");  // trailing: trimmed
  CHECK(nanos("1\u00a0Ki") == "invalid");
  CHECK(nanos("- 1") == "invalid");
  CHECK(nanos("1\u00851") == "invalid");
}

TEST_CASE("§3 quantities: empty and white-space-only strings are invalid") {
  CHECK(nanos("") == "invalid");
  CHECK(nanos("   ") == "invalid");
  CHECK(nanos("\t\n") == "invalid");
}

TEST_CASE("§3 quantities: unknown or malformed suffixes are invalid") {
  for (std::string_view s :
       {"1Qi",   "1i",     "0.1mi", "0.1am", "aoeu",  ".5i",  "-3.01i", "-3.01e-",
        "1.1.M", "1+1.0M", "1KiB",  "1mm",   "1kk",   "1K",   "1Kie",   "1e3k",
        "1ee3",  "1,5",    "0x10",  "1_000", "1e1.5", "1.5.", "--1",    "+-1",
        "1-",    "1 k",    "1ki",   "1MI",   "e",     "i",    "Ei",     "-Ei"}) {
    CAPTURE(s);
    CHECK(nanos(s) == "invalid");
  }
}

TEST_CASE("§3 quantities: exponents beyond int64 are invalid") {
  CHECK(nanos("1e9223372036854775808") == "invalid");
  CHECK(nanos("1e-9223372036854775809") == "invalid");
  CHECK(nanos("1e99999999999999999999") == "invalid");
}

TEST_CASE("§9 quantities: 19+ significant digits take the slow path, exact for decimals") {
  // Up to 18 digits: the fast path.
  CHECK(nanos("123456789012345678") == "123456789012345678000000000");
  // 19 and 20 digits: inf.Dec, exact; DecimalSI is not capped at 2^63-1.
  CHECK(nanos("1234567890123456789") == "1234567890123456789000000000");
  CHECK(nanos("12345678901234567890") == "12345678901234567890000000000");
  CHECK(nanos("9223372036854775808") == "9223372036854775808000000000");
  CHECK(nanos("-12345678901234567890") == "-12345678901234567890000000000");
  CHECK(nanos("9.223372036854775808E") == "9223372036854775808000000000");
  CHECK(nanos("1234567890123456789012k") == "1234567890123456789012000000000000");
  CHECK(q("12345678901234567890") > q(kInt64Max));
  // Fraction digits count too: 19 digits in all, rounded up to 1n.
  CHECK(nanos("0.1234567891") == "123456790");
  CHECK(nanos("1.000000000000000000001") == "1000000001");
}

TEST_CASE("§9 quantities: BinarySI values are capped at 2^63-1 units, as Kubernetes does") {
  const std::string cap = std::string(kInt64Max) + "000000000";
  CHECK(nanos("9Ei") == cap);
  CHECK(nanos("8Ei") == cap);  // 2^63 is one past the cap
  CHECK(nanos("16Ei") == cap);
  CHECK(nanos("9223372036854775807Ki") == cap);
  CHECK(nanos("-9Ei") == "-" + cap);
  CHECK(nanos("7Ei") == std::to_string(7LL << 60) + "000000000");  // just below: exact
  CHECK(nanos("15.5Ei") == cap);
}

TEST_CASE("§9 quantities: an exponent is read as Go's int32 (it wraps)") {
  // 2^32+1 wraps to 1, 2^32 to 0: apimachinery's int32(parsed).
  CHECK(q("1e4294967297") == q("10"));
  CHECK(q("1e4294967296") == q("1"));
  CHECK(q("3e4294967299") == q("3k"));  // 2^32+3 -> 3
  // 2^31 wraps to -2^31: far below 1n, rounded up.
  CHECK(nanos("1e2147483648") == "1");
  // ... but with one fraction digit Go's int32 scale wraps back to +2^31-1: huge.
  CHECK(q("1.5e2147483648").saturated());
  CHECK(q("1e2147483647").saturated());
}

TEST_CASE("§9 quantities: huge values saturate (Quantity::saturated)") {
  const std::string bound = one_then_zeros(Quantity::kSaturationDigits);
  CHECK(q("1e1000").saturated());
  CHECK(q("1e1000").nanos().str() == bound);
  CHECK(q("1e991").saturated());  // 10^1000 nano-units exactly
  CHECK_FALSE(q("1e990").saturated());
  CHECK(q("1e990").nanos().str() == one_then_zeros(999));
  CHECK(q("12345e995").saturated());
  CHECK(q("1234567890123456789012e990").saturated());  // slow path saturates too
  CHECK(q("1e2000") == q("1e5000"));
  CHECK(q("1e990") < q("1e991"));
  CHECK(q("1e1000").to_string() == "1e991 or more");
}

TEST_CASE("§3 quantities: arithmetic with += is exact") {
  Quantity sum = q("100m");
  sum += q("0.1");
  CHECK(sum == q("200m"));
  sum += q("1n");
  CHECK(sum.nanos().str() == "200000001");
  Quantity mem;
  CHECK(mem.is_zero());
  mem += q("64Mi");
  mem += q("64Mi");
  CHECK(mem == q("128Mi"));
  CHECK((q("1Gi") + q("1Gi")) == q("2Gi"));
  CHECK((q("1") + q("-1")).is_zero());
  CHECK(Quantity::from_units(3) == q("3"));
  CHECK(Quantity::from_nanos(Quantity::Int(1500)) == q("1.5u"));
}

TEST_CASE("§3 quantities: values past 128 bits stay exact, in comparisons and sums") {
  // 2^127 - 1 nano-units is the largest value held in 128 bits; 2e29 units (2e38 n) is beyond.
  const std::string max128 = "170141183460469231731687303715884105727";
  CHECK(nanos(max128 + "n") == max128);
  CHECK(nanos("2e29") == "2" + std::string(38, '0'));
  CHECK(nanos("-2e29") == "-2" + std::string(38, '0'));
  CHECK(nanos("1e29") == one_then_zeros(38));
  CHECK(nanos("200000000000000000000000000000") == "2" + std::string(38, '0'));  // slow path

  Quantity sum = q(max128 + "n");
  sum += q("1n");  // overflows 128 bits: carried on exactly
  CHECK(sum.nanos().str() == "170141183460469231731687303715884105728");
  CHECK(sum > q(max128 + "n"));
  CHECK(q(max128 + "n") < sum);
  CHECK_FALSE(sum.is_zero());
  CHECK_FALSE(sum.is_negative());
  CHECK_FALSE(sum.saturated());

  // The same value reached by parsing and by adding is equal, whatever form it was made in.
  CHECK(q("1e29") + q("1e29") == q("2e29"));
  CHECK(q("2e29") == q("1e29") + q("1e29"));
  CHECK(q("2e29") > q("1e29"));
  CHECK(q("-2e29") < q("-1e29"));
  CHECK(q("-2e29").is_negative());
  CHECK(q("2e29") + q("-2e29") == Quantity());
  CHECK((q("2e29") + q("-2e29")).is_zero());
  CHECK(q("2e29") + q("-1e29") == q("1e29"));
  CHECK(q("2e29").to_string() == "200000000000E");
  CHECK(q(q("3e29").to_string()) == q("3e29"));
  CHECK(q("-2e29") < q("0"));
  CHECK(q("2e29") > q("1Ei"));
}

TEST_CASE("§3 quantities: += saturates at the bound") {
  Quantity a = q("1e990");
  for (int i = 0; i < 9; ++i) a += q("1e990");
  CHECK(a.saturated());
  a += q("1e990");
  CHECK(a.nanos().str() == one_then_zeros(Quantity::kSaturationDigits));
}

TEST_CASE("§3 quantities: comparisons are exact, never floating point") {
  CHECK(q("1Gi") > q("1G"));
  CHECK(q("1000m") == q("1"));
  CHECK(q("999m") < q("1"));
  CHECK(q("1.000000001") > q("1"));
  CHECK(q("100Gi") < q("10000T"));
  CHECK(q("50m") < q("100m"));
  CHECK(q("0.3") == q("100m") + q("200m"));  // 0.1 + 0.2 == 0.3 exactly
  CHECK((q("1") <=> q("1000m")) == std::strong_ordering::equal);
  CHECK((q("1") <=> q("2")) == std::strong_ordering::less);
  CHECK((q("1Ki") <=> q("1k")) == std::strong_ordering::greater);
  CHECK(q("10000000000000000000001") > q("10000000000000000000000"));
}

TEST_CASE("§3 quantities: to_string gives short exact text") {
  CHECK(q("0").to_string() == "0");
  CHECK(q("0.5").to_string() == "500m");
  CHECK(q("64Mi").to_string() == "64Mi");
  CHECK(q("2").to_string() == "2");
  CHECK(q("1.500000001").to_string() == "1500000001n");
  CHECK(q("1.5Gi").to_string() == "1536Mi");
  CHECK(q("1Gi").to_string() == "1Gi");
  CHECK(q("16Gi").to_string() == "16Gi");
  CHECK(q("1024").to_string() == "1Ki");
  CHECK(q("1000").to_string() == "1k");
  CHECK(q("1500").to_string() == "1500");
  CHECK(q("2000").to_string() == "2k");
  CHECK(q("4Gi").to_string() == "4Gi");
  CHECK(q("1.5u").to_string() == "1500n");
  CHECK(q("2u").to_string() == "2u");
  CHECK(q("1n").to_string() == "1n");
  CHECK(q("10m").to_string() == "10m");
  CHECK(q("-500m").to_string() == "-500m");
  CHECK(q("-1Ki").to_string() == "-1Ki");
  // The shorter of the exact decimal and binary forms; never a binary suffix past 2^63-1.
  CHECK(q("3T").to_string() == "3T");
  CHECK(q("64Mi").to_string() == "64Mi");
  CHECK(q("1e100").to_string() == "1" + std::string(82, '0') + "E");
}

}  // namespace nodealloc

TEST_CASE("§9 quantities: the shortcut for \"<digits><suffix>\" agrees with the general parse") {
  std::vector<std::string> numbers;
  std::uint64_t seed = 12345;
  for (int length = 1; length <= 21; ++length) {
    numbers.push_back(std::string(static_cast<std::size_t>(length), '9'));
    numbers.push_back("1" + std::string(static_cast<std::size_t>(length - 1), '0'));
    numbers.push_back("0" + std::string(static_cast<std::size_t>(length), '7'));
    std::string random;
    for (int i = 0; i < length; ++i) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      random += static_cast<char>('0' + (seed >> 33) % 10);
    }
    numbers.push_back(random);
  }
  for (const char* n : {"9223372036854775807", "9223372036854775808", "8", "16", "8191", "8192"}) {
    numbers.emplace_back(n);
  }
  const char* const suffixes[] = {"",   "n",  "u",  "m",  "k",  "M",  "G", "T",  "P",  "E",
                                  "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "K", "mi", "ki", "KiB",
                                  "Z",  "i",  "e3", "E3", "e",  ".5", ".", " ",  "m ", "\t"};
  int compared = 0;
  for (const auto& number : numbers) {
    for (const char* suffix : suffixes) {
      for (const std::string& text :
           {number + suffix, "+" + number + suffix, " " + number + suffix}) {
        CAPTURE(text);
        const auto shortcut = nodealloc::parse_quantity(text);
        const auto general = nodealloc::detail::parse_general_for_test(text);
        REQUIRE(shortcut.has_value() == general.has_value());
        if (shortcut) CHECK(shortcut->nanos() == general->nanos());
        // And the same value without a Quantity, or nullopt where it is none or beyond 128 bits.
        const auto small = nodealloc::parse_small_nanos(text);
        CHECK((small == (general ? general->small_nanos() : std::nullopt)));
        ++compared;
      }
    }
  }
  CHECK(compared > 7000);
}

TEST_CASE("§9 quantities: parse_small_nanos is parse_quantity's value when it fits 128 bits") {
  using nodealloc::parse_quantity;
  using nodealloc::parse_small_nanos;
  // Every form parse_quantity reads, the shortcut's and the general parse's, and the values
  // around 2^127 nano-units (about 1.7e29 units), the most 128 bits hold.
  const char* const texts[] = {"100m",
                               "2Gi",
                               "1",
                               "0",
                               "-0",
                               "-1",
                               "+5",
                               " 3 ",
                               "1.5",
                               ".5",
                               "1.",
                               "0.1",
                               "1e3",
                               "1E-2",
                               "1.5n",
                               "0.0000000001",
                               "12E",
                               "8Ei",
                               "9223372036854775807Ki",
                               "170141183460469231731687303715",
                               "170141183460469231731687303716",
                               "170141183460469231731687303715884105727n",
                               "170141183460469231731687303715884105728n",
                               "-170141183460469231731687303715884105728n",
                               "170141183460E",
                               "200000000000E",
                               "1e40",
                               "-1e40",
                               "1e2000",
                               "",
                               "abc",
                               "1Q",
                               "--1",
                               "1 m"};
  for (const char* text : texts) {
    CAPTURE(text);
    const auto q = parse_quantity(text);
    const auto small = parse_small_nanos(text);
    CHECK((small == (q ? q->small_nanos() : std::nullopt)));
  }
  CHECK((parse_small_nanos("100m") == __int128{100'000'000}));
  CHECK((parse_small_nanos("-1") == __int128{-1'000'000'000}));
  CHECK((parse_small_nanos("170141183460469231731687303715884105727n") ==
         std::numeric_limits<__int128>::max()));
  // Valid, but beyond 128 bits.
  // 200000000000E: the shortcut's form, 2e38 nano-units, which only an unsigned 128 bits hold.
  for (const char* text : {"170141183460469231731687303716", "200000000000E", "1e40"}) {
    CAPTURE(text);
    CHECK(parse_quantity(text).has_value());
    CHECK_FALSE(parse_small_nanos(text));
  }
  CHECK_FALSE(parse_small_nanos("1Q"));
}
