// boost::container::small_vector for the core and the server, included in one place: GCC 12 at
// -O3 sees a memcpy of its inline storage as reading past it (a false positive of the family of
// GCC bug 105651, fixed in 13).
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif
#include <boost/container/small_vector.hpp>
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic pop
#endif
