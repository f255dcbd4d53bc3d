// Where reports go: one line at a time, flushed, and noticing when the reader has gone.
#pragma once

#include <cstdio>
#include <string_view>

namespace tcpretry::app {

class Output {
  public:
    explicit Output(std::FILE* file) : m_file(file) {}
    // Writes the line and a newline, then flushes; EPIPE marks the output broken.
    void write_line(std::string_view line);
    // Without a newline (a status line redrawn in place).
    void write_raw(std::string_view text);
    bool broken() const { return m_broken; }
    // The reader is known to be gone (without a write having failed yet).
    void mark_broken() { m_broken = true; }
    bool is_terminal() const;
    std::FILE* file() const { return m_file; }

  private:
    void write(std::string_view text, bool newline);
    std::FILE* m_file;
    bool m_broken = false;
};

} // namespace tcpretry::app
