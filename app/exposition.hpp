// Pieces of Prometheus's text exposition format shared by every page we serve: numbers, the
// HELP/TYPE header of a family, label values.
#pragma once

#include <string>
#include <string_view>

namespace tcpretry::app::exposition {

// A sample value: "%.9g", so 0.000123 and 1.7e+09 as Prometheus parses them.
std::string number(double v);

// "# HELP name help\n# TYPE name type\n".
void family(std::string& out, std::string_view name, std::string_view type, std::string_view help);

// One sample line: name{labels} value\n (labels already escaped, may be empty).
void sample(std::string& out, std::string_view name, std::string_view labels, double value);

} // namespace tcpretry::app::exposition
