// The command line (app::parse_options): argv split from the input at NUL bytes (an argument
// can hold any byte but NUL). It must never crash, throw or leak, and a usage error is one line.
#include "app/options.hpp"
#include "fuzz_support.hpp"

#include <string>
#include <vector>

using namespace tcpretry;
using tcpretry::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view text = fuzz::as_text(data, size);
    std::vector<std::string> args{"tcpretry"};
    while (true) {
        auto nul = text.find('\0');
        args.emplace_back(text.substr(0, nul));
        if (nul == std::string_view::npos)
            break;
        text.remove_prefix(nul + 1);
    }
    for (const auto& a : args) {
        // --targets-file reads a file or stdin: the targets_file fuzzer covers its parser.
        if (a.find("targets-file") != std::string::npos)
            return -1; // libFuzzer: keep this input out of the corpus
    }
    std::vector<const char*> argv;
    for (const auto& a : args)
        argv.push_back(a.c_str());

    app::ParseResult result;
    try {
        result = app::parse_options(static_cast<int>(argv.size()), argv.data());
    } catch (...) {
        fuzz::fail("parse_options never throws");
    }
    if (auto* e = std::get_if<app::UsageError>(&result)) {
        require(!e->message.empty(), "a usage error has a message");
        require(e->message.find('\n') == std::string::npos, "a usage error is one line");
    } else if (auto* o = std::get_if<app::Options>(&result)) {
        require(!o->targets.empty(), "parsed options have a target");
        require(o->needed >= 1 && o->needed <= o->targets.size(), "needed is 1..targets");
        require(o->parallel >= 1, "parallel is at least 1");
        require(o->backoff.initial <= o->backoff.max, "initial delay <= max delay");
    }
    return 0;
}
