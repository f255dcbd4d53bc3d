// The program: parse, wire the core to reporters, run the loop, map the outcome to a status.
#pragma once

#include "app/outcome.hpp"

namespace tcpretry::app {

int run(int argc, char** argv);

} // namespace tcpretry::app
