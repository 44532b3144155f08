#include "cli/commands.hpp"
namespace nodealloc::cli {
int review_main(std::span<char*>) { return 2; }
int mutate_main(std::span<char*>) { return 2; }
int check_policy_main(std::span<char*>) { return 2; }
}  // namespace nodealloc::cli
