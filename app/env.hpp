// Configuration from the environment: the pieces of TCPRETRY_<NAME> that know nothing of any
// one option. Which option a variable sets, and how its value is checked, is the option
// table's business (app/options.cpp): a variable's value goes through the flag's validator.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tcpretry::app {

// The process's TCPRETRY_* variables, name -> value.
using Environment = std::map<std::string, std::string, std::less<>>;

inline constexpr std::string_view k_env_prefix = "TCPRETRY_";
inline constexpr std::string_view k_env_targets = "TCPRETRY_TARGETS";

// The TCPRETRY_* entries of an environ-style array (nullptr ends it; nullptr: none).
Environment read_environment(const char* const* envp);

// The variable of a flag: "--connect-timeout" -> "TCPRETRY_CONNECT_TIMEOUT" (upper case,
// '-' as '_'). A flag with no long name is given its word: "-4" with "ipv4".
std::string env_name(std::string_view flag);

// A switch's value, any case: 1, true, yes -> true; 0, false, no -> false; else nothing.
std::optional<bool> parse_switch(std::string_view text);

// TCPRETRY_TARGETS: words separated by spaces, tabs, commas and newlines (CR too); runs of
// separators and separators at either end make no empty words.
std::vector<std::string> split_targets(std::string_view text);

// Variables the project's own build, test and packaging scripts read: never warned about.
bool is_reserved(std::string_view name);

// One warning for each TCPRETRY_* variable in `env` that is neither in `known` nor reserved,
// with the closest known name when one is near ("did you mean TCPRETRY_TIMEOUT?").
// `excluded` maps the variables of options that cannot come from the environment
// (TCPRETRY_HELP) to their flag, for a plainer warning.
std::vector<std::string> unknown_variable_warnings(const Environment& env,
                                                   const std::vector<std::string>& known,
                                                   const Environment& excluded);

} // namespace tcpretry::app
