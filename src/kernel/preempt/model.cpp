#include "kernel/preempt/model.h"

#include "kernel/kernel.h"

namespace kp {

preempt_dynamic preempt_dynamic_for(preempt_mode mode) {
    // Linux first enables everything, then applies the mode's set; the result
    // is this table (spec 3.2).
    switch (mode) {
    case preempt_mode::none:
        return {mode, /*cond_resched*/ true, /*might_resched*/ false, /*preempt_schedule*/ false,
                /*irqentry*/ false};
    case preempt_mode::voluntary:
        return {mode, true, true, false, false};
    case preempt_mode::full:
        return {mode, false, false, true, true};
    }
    return {};
}

std::string_view preempt_mode_name(preempt_mode mode) {
    switch (mode) {
    case preempt_mode::none: return "none";
    case preempt_mode::voluntary: return "voluntary";
    case preempt_mode::full: return "full";
    }
    return "?";
}

std::optional<preempt_mode> parse_preempt_mode(std::string_view s) {
    if (s == "none") return preempt_mode::none;
    if (s == "voluntary") return preempt_mode::voluntary;
    if (s == "full") return preempt_mode::full;
    return std::nullopt;
}

}  // namespace kp

namespace kp {

void sched_dynamic_update(kernel& k, preempt_mode mode) {
    k.dyn = preempt_dynamic_for(mode);
    k.log.printk(k.arch().now(), -1, log_level::info, "Dynamic Preempt: " + std::string(preempt_mode_name(mode)));
}

std::string preempt_dynamic_show(const kernel& k) {
    std::string out;
    for (preempt_mode m : {preempt_mode::none, preempt_mode::voluntary, preempt_mode::full}) {
        const std::string name(preempt_mode_name(m));
        out += m == k.dyn.mode ? "(" + name + ")" : name;
        out += ' ';
    }
    return out;
}

}  // namespace kp
