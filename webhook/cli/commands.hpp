// The offline subcommands (spec §7). Each takes the arguments after its name.
#pragma once

#include <span>

namespace nodealloc::cli {

int review_main(std::span<char*> args);
int mutate_main(std::span<char*> args);
int check_policy_main(std::span<char*> args);

}  // namespace nodealloc::cli
