// --targets-file text (app::parse_targets_file): never crash; every target it returns is what
// parse_target makes of that line; an error names the file and a line that exists.
#include "app/options.hpp"
#include "fuzz_support.hpp"

#include <algorithm>
#include <string>

using namespace tcpretry;
using tcpretry::fuzz::require;

namespace {

constexpr std::string_view k_name = "fleet.txt";

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view text = fuzz::as_text(data, size);
    auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;

    auto parsed = app::parse_targets_file(text, k_name);
    if (auto* e = std::get_if<app::UsageError>(&parsed)) {
        const std::string& m = e->message;
        require(m.starts_with(std::string(k_name) + ":"), "a targets-file error names the file");
        std::size_t line_no = 0;
        std::size_t at = k_name.size() + 1;
        require(at < m.size() && m[at] >= '1' && m[at] <= '9', "the error has a line number");
        while (at < m.size() && m[at] >= '0' && m[at] <= '9')
            line_no = line_no * 10 + static_cast<std::size_t>(m[at++] - '0');
        require(line_no >= 1 && line_no <= lines, "the error's line number exists");
        require(fuzz::has_no_control(m), "a targets-file error is one clean line");
        return 0;
    }
    const auto& targets = std::get<std::vector<core::Target>>(parsed);
    require(targets.size() <= lines, "at most one target a line");
    for (const auto& t : targets) {
        require(!t.text.empty() && t.text.find('#') == std::string::npos,
                "comments are not part of a target");
        require(t.text.front() != ' ' && t.text.back() != ' ' && t.text.back() != '\r',
                "a target is trimmed");
        auto alone = core::parse_target(t.text);
        require(std::holds_alternative<core::Target>(alone) &&
                    std::get<core::Target>(alone).port == t.port &&
                    std::get<core::Target>(alone).host == t.host,
                "a file's target parses the same on the command line");
    }
    return 0;
}
