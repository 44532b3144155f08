// The floor of core_bench: a bare RapidJSON parse + serialize of a text, as any JSON webhook
// does at least.
#pragma once

#include <cstddef>
#include <string>

namespace nodealloc::bench {

// The serialized size; exits the program when the text does not parse.
std::size_t parse_and_serialize(const std::string& text);

}  // namespace nodealloc::bench
