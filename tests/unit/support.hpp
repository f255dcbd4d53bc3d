// Small helpers shared by the unit tests: an in-memory FILE* and argv building.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tcpretry::test {

// A FILE* whose contents can be read back (open_memstream), for capturing an Output.
class MemoryFile {
  public:
    MemoryFile() : m_file(open_memstream(&m_buffer, &m_size)) {
        if (!m_file)
            throw std::runtime_error("open_memstream failed");
    }
    ~MemoryFile() {
        std::fclose(m_file);
        std::free(m_buffer);
    }
    MemoryFile(const MemoryFile&) = delete;
    MemoryFile& operator=(const MemoryFile&) = delete;

    std::FILE* file() const { return m_file; }

    // Forgets what was written so far (the stream goes on).
    void clear() {
        std::fflush(m_file);
        std::rewind(m_file);
        std::fflush(m_file);
        m_size = 0;
    }

    std::string text() {
        std::fflush(m_file);
        return m_buffer ? std::string(m_buffer, m_size) : std::string();
    }

    // The text split at '\n'; a final newline does not add an empty line.
    std::vector<std::string> lines() {
        std::vector<std::string> out;
        std::string all = text();
        std::string_view rest = all;
        while (!rest.empty()) {
            auto nl = rest.find('\n');
            out.emplace_back(rest.substr(0, nl));
            if (nl == std::string_view::npos)
                break;
            rest.remove_prefix(nl + 1);
        }
        return out;
    }

  private:
    char* m_buffer = nullptr;
    std::size_t m_size = 0;
    std::FILE* m_file;
};

// argv for parse_options: "tcpretry" followed by `args`.
class Argv {
  public:
    explicit Argv(std::vector<std::string> args) : m_args(std::move(args)) {
        m_args.insert(m_args.begin(), "tcpretry");
        for (const auto& a : m_args)
            m_ptrs.push_back(a.c_str());
        m_ptrs.push_back(nullptr);
    }
    int argc() const { return static_cast<int>(m_args.size()); }
    const char* const* argv() const { return m_ptrs.data(); }

  private:
    std::vector<std::string> m_args;
    std::vector<const char*> m_ptrs;
};

} // namespace tcpretry::test
