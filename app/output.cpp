#include "app/output.hpp"

#include <cerrno>
#include <unistd.h>

namespace tcpretry::app {

void Output::write_line(std::string_view line) {
    write(line, true);
}

void Output::write_raw(std::string_view text) {
    write(text, false);
}

void Output::write(std::string_view text, bool newline) {
    if (m_broken)
        return;
    errno = 0;
    bool ok = std::fwrite(text.data(), 1, text.size(), m_file) == text.size() &&
              (!newline || std::fputc('\n', m_file) != EOF) && std::fflush(m_file) == 0;
    if (!ok) {
        // The reader went away (`| head -1`): stop quietly. Other errors (a closed or full
        // output) lose the line but must not stop a wait that a script depends on.
        if (errno == EPIPE)
            m_broken = true;
        std::clearerr(m_file);
    }
}

bool Output::is_terminal() const {
    return isatty(fileno(m_file)) != 0;
}

} // namespace tcpretry::app
