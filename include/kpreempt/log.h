// The kernel's message log (printk / dmesg). BUG and WARNING reports are
// collected here with the kernel's texts; they never crash the process.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kpreempt/time.h"

namespace kp {

enum class log_level { emerg, alert, crit, err, warning, notice, info, debug };

struct log_entry {
    nsec_t time;
    int cpu;
    log_level level;
    std::string text;  // one line, no trailing newline
};

class kernel_log {
public:
    void printk(nsec_t time, int cpu, log_level level, std::string text);
    // Read once the machine has stopped.
    const std::vector<log_entry>& entries() const { return entries_; }
    // Lines containing `needle`.
    std::size_t count(std::string_view needle) const;
    // dmesg's format: "[    2.500000] text".
    std::string dmesg() const;

private:
    // printk may come from every vCPU thread of a host machine at once.
    mutable std::mutex lock_;
    std::vector<log_entry> entries_;
};

}  // namespace kp
