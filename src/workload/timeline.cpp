// An ASCII timeline per CPU, like the seed notes' diagram (seeds/002):
// a letter per task, '#' for an interrupt handler, '.' for idle, and a '^'
// under the instant where a task was preempted, with the point named below.
#include <algorithm>
#include <cstdio>
#include <map>

#include "workload/report.h"

namespace kp::workload {

namespace {

char letter_for(std::size_t i) {
    static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    return i < sizeof letters - 1 ? letters[i] : '*';
}

}  // namespace

std::string format_timeline(const run_result& r, int width) {
    const int prefix = 6;  // "cpu0 |"
    const int cols = std::max(20, width - prefix - 1);
    const nsec_t end = std::max<nsec_t>(r.duration, 1);
    const double step = static_cast<double>(end) / cols;
    std::map<int, char> letter;
    for (std::size_t i = 0; i < r.tasks.size(); ++i) letter[r.tasks[i].pid] = letter_for(i);

    std::string out;
    char buf[160];
    std::vector<std::string> notes;
    for (int cpu = 0; cpu < r.cpus; ++cpu) {
        std::string row(static_cast<std::size_t>(cols), '.');
        std::string marks(static_cast<std::size_t>(cols), ' ');
        // Tasks first, interrupt handlers drawn over them.
        for (int pass = 0; pass < 2; ++pass) {
            for (const timeline_slice& s : r.timeline) {
                if (s.cpu != cpu || (pass == 0) != (s.pid >= 0)) continue;
                auto c0 = static_cast<int>(static_cast<double>(s.start) / step);
                auto c1 = static_cast<int>(static_cast<double>(s.end) / step);
                c1 = std::max(c1, c0 + 1);
                const char ch = s.pid < 0 ? '#' : (letter.count(s.pid) ? letter[s.pid] : '?');
                for (int c = std::max(0, c0); c < std::min(cols, c1); ++c) row[static_cast<std::size_t>(c)] = ch;
                if (pass == 0 && !s.point.empty() && c1 - 1 < cols) {
                    marks[static_cast<std::size_t>(std::min(cols - 1, std::max(0, c1 - 1)))] = '^';
                    std::snprintf(buf, sizeof buf, "  ^ cpu%d %.3f ms: %s preempted at %s", cpu,
                                  static_cast<double>(s.end) / 1e6, s.label.c_str(), s.point.c_str());
                    notes.emplace_back(buf);
                }
            }
        }
        std::snprintf(buf, sizeof buf, "cpu%-2d|", cpu);
        out += buf + row + "|\n";
        if (marks.find('^') != std::string::npos) out += std::string(static_cast<std::size_t>(prefix), ' ') + marks + "\n";
    }
    std::snprintf(buf, sizeof buf, "%*s0%*s%.3f ms\n", prefix, "", cols - 8, "", static_cast<double>(end) / 1e6);
    out += buf;
    out += "  ";
    for (std::size_t i = 0; i < r.tasks.size(); ++i) out += std::string(1, letter_for(i)) + "=" + r.tasks[i].name + " ";
    out += " #=irq handler  .=idle\n";
    // The first preemptions are the story; the rest would drown it.
    constexpr std::size_t max_notes = 12;
    for (std::size_t i = 0; i < notes.size() && i < max_notes; ++i) out += notes[i] + "\n";
    if (notes.size() > max_notes) out += "  ... and " + std::to_string(notes.size() - max_notes) + " more preemptions\n";
    return out;
}

}  // namespace kp::workload
