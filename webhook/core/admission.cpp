#include "core/admission.hpp"

namespace nodealloc {
Result<Answer> review(std::string_view, const Policy&) { return Error{"not implemented"}; }
Result<Answer> place(std::string_view, const Policy&) { return Error{"not implemented"}; }
}  // namespace nodealloc
