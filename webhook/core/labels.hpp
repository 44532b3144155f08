// Kubernetes name grammars (apimachinery validation): label keys and values, resource names.
#pragma once

#include <string_view>

namespace nodealloc {

// A DNS-1123 label: at most 63 of [a-z0-9-], alphanumeric at both ends.
bool is_dns_label(std::string_view s);
// A qualified name: an optional DNS-1123 subdomain prefix and '/', then a name of at most 63
// of [A-Za-z0-9-_.], alphanumeric at both ends. Label keys, resource names, toleration keys.
bool is_qualified_name(std::string_view s);
// A label value: empty, or at most 63 of [A-Za-z0-9-_.], alphanumeric at both ends.
bool is_label_value(std::string_view s);

}  // namespace nodealloc
