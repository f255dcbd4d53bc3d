#include "app/env.hpp"

#include <algorithm>
#include <cstddef>

namespace tcpretry::app {

namespace {

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equal_nocase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

// Edits (insert, delete, replace, swap of neighbours) from a to b.
std::size_t distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i)
        d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j)
        d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

// The known name nearest to `name`, when it is near enough to be a slip: at most 2 edits (1
// for short names) in the part after TCPRETRY_, or the same words in another case.
std::optional<std::string> closest(std::string_view name, const std::vector<std::string>& known) {
    std::optional<std::string> best;
    std::size_t best_distance = 0;
    std::string_view tail = name.substr(k_env_prefix.size());
    for (const std::string& k : known) {
        std::string_view k_tail = std::string_view(k).substr(k_env_prefix.size());
        std::size_t limit = std::min<std::size_t>(2, k_tail.size() / 4);
        std::size_t d = equal_nocase(tail, k_tail) ? 0 : distance(tail, k_tail);
        if (d <= limit && (!best || d < best_distance)) {
            best = k;
            best_distance = d;
        }
    }
    return best;
}

} // namespace

Environment read_environment(const char* const* envp) {
    Environment env;
    for (; envp && *envp; ++envp) {
        std::string_view entry = *envp;
        auto eq = entry.find('=');
        if (entry.rfind(k_env_prefix, 0) != 0 || eq == std::string_view::npos)
            continue;
        env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
    }
    return env;
}

std::string env_name(std::string_view flag) {
    std::string name(k_env_prefix);
    std::string_view word = flag.substr(std::min(flag.find_first_not_of('-'), flag.size()));
    if (flag.size() == 2 && (word == "4" || word == "6"))
        name += "IPV";
    for (char c : word)
        name += c == '-' ? '_' : c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    return name;
}

std::optional<bool> parse_switch(std::string_view text) {
    for (std::string_view yes : {"1", "true", "yes"})
        if (equal_nocase(text, yes))
            return true;
    for (std::string_view no : {"0", "false", "no"})
        if (equal_nocase(text, no))
            return false;
    return std::nullopt;
}

std::vector<std::string> split_targets(std::string_view text) {
    std::vector<std::string> words;
    constexpr std::string_view k_separators = " \t,\r\n";
    for (std::size_t start = text.find_first_not_of(k_separators);
         start != std::string_view::npos;) {
        std::size_t end = text.find_first_of(k_separators, start);
        words.emplace_back(text.substr(start, end - start));
        start = text.find_first_not_of(k_separators, end);
    }
    return words;
}

bool is_reserved(std::string_view name) {
    // The scripts and tests read TCPRETRY_PACKAGE_* (scripts/package.sh, test_package.py) and
    // TCPRETRY_STATIC_* (scripts/build-static.sh); TCPRETRY_TEST_* is kept for tests; the rest
    // are the build's CMake options, which a build environment may export. No option's
    // variable starts like these (a unit test checks).
    for (std::string_view prefix :
         {"TCPRETRY_PACKAGE_", "TCPRETRY_STATIC_", "TCPRETRY_BUILD_", "TCPRETRY_TEST_"})
        if (name.rfind(prefix, 0) == 0)
            return true;
    for (std::string_view option :
         {"TCPRETRY_STATIC", "TCPRETRY_WERROR", "TCPRETRY_SANITIZE", "TCPRETRY_FUZZ"})
        if (name == option)
            return true;
    return false;
}

std::vector<std::string> unknown_variable_warnings(const Environment& env,
                                                   const std::vector<std::string>& known,
                                                   const Environment& excluded) {
    std::vector<std::string> warnings;
    for (const auto& [name, value] : env) {
        if (std::find(known.begin(), known.end(), name) != known.end() || is_reserved(name))
            continue;
        if (auto flag = excluded.find(name); flag != excluded.end()) {
            warnings.push_back(name + " is ignored: " + flag->second +
                               " cannot come from the environment");
            continue;
        }
        std::string w = name + " is not a tcpretry variable; ignored";
        if (auto near = closest(name, known))
            w += " (did you mean " + *near + "?)";
        warnings.push_back(w);
    }
    return warnings;
}

} // namespace tcpretry::app
