#include <cstdio>

#include "kpreempt/log.h"
#include "kpreempt/observer.h"

namespace kp {

void kernel_log::printk(nsec_t time, int cpu, log_level level, std::string text) {
    const std::lock_guard hold(lock_);
    entries_.push_back({time, cpu, level, std::move(text)});
}

std::size_t kernel_log::count(std::string_view needle) const {
    const std::lock_guard hold(lock_);
    std::size_t n = 0;
    for (const auto& e : entries_)
        if (e.text.find(needle) != std::string::npos) ++n;
    return n;
}

std::string kernel_log::dmesg() const {
    const std::lock_guard hold(lock_);
    std::string out;
    char stamp[32];
    for (const auto& e : entries_) {
        std::snprintf(stamp, sizeof stamp, "[%5lld.%06lld] ", static_cast<long long>(e.time / NSEC_PER_SEC),
                      static_cast<long long>((e.time % NSEC_PER_SEC) / NSEC_PER_USEC));
        out += stamp;
        out += e.text;
        out += '\n';
    }
    return out;
}

std::string_view preempt_point_name(preempt_point p) {
    switch (p) {
    case preempt_point::none: return "schedule";
    case preempt_point::return_to_user: return "return_to_user";
    case preempt_point::irq_exit: return "irq_exit";
    case preempt_point::preempt_enable: return "preempt_enable";
    case preempt_point::cond_resched: return "cond_resched";
    case preempt_point::might_resched: return "might_resched";
    case preempt_point::idle: return "idle";
    case preempt_point::exit: return "exit";
    }
    return "?";
}

}  // namespace kp
