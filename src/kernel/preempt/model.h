// Preemption models, shaped like PREEMPT_DYNAMIC (kernel/sched/core.c,
// __sched_dynamic_update): each model is a row of switches, one per
// preemption hook. Adding LAZY or RT is adding a row, and switching at run
// time is rewriting the row.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "kpreempt/config.h"

namespace kp {

// Which preemption points are live. Return to user, explicit schedule() and
// blocking are live in every model and have no switch.
struct preempt_dynamic {
    preempt_mode mode = preempt_mode::full;
    bool cond_resched = false;                // cond_resched() -> __cond_resched
    bool might_resched = false;               // might_sleep()/might_resched() -> __cond_resched
    bool preempt_schedule = true;             // outermost preempt_enable() -> preempt_schedule
    bool irqentry_exit_cond_resched = true;   // irq return to kernel -> preempt_schedule_irq
};

// The table row of a model.
preempt_dynamic preempt_dynamic_for(preempt_mode mode);

std::string_view preempt_mode_name(preempt_mode mode);

class kernel;
// sched_dynamic_update: switch the model at run time (debugfs
// /sys/kernel/debug/sched/preempt); logs "Dynamic Preempt: <mode>".
void sched_dynamic_update(kernel& k, preempt_mode mode);
// The debugfs read-back: "none voluntary (full) " (the active one in parentheses).
std::string preempt_dynamic_show(const kernel& k);
std::optional<preempt_mode> parse_preempt_mode(std::string_view s);

}  // namespace kp
