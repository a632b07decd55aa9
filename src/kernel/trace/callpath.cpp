#include "kernel/trace/callpath.h"

#include <algorithm>
#include <cstring>

namespace kp {

// Kept in step with the shadow_frame marks in src/kernel (a test
// checks that each one is in the sources).
const std::vector<std::string_view>& callpath_functions() {
    static const std::vector<std::string_view> names = {
        "__cond_resched", "__local_bh_enable_ip", "__schedule", "__wake_up", "common_interrupt", "complete",
        "do_exit", "do_idle", "do_softirq", "do_task_dead", "exit_to_user_mode_prepare", "handle_softirqs",
        "hrtimer_interrupt", "irq_exit_rcu", "irqentry_exit", "msleep", "preempt_schedule",
        "preempt_schedule_common", "preempt_schedule_irq", "resched_curr", "ret_from_fork", "run_ksoftirqd",
        "sched_tick", "schedule", "schedule_timeout", "scheduler_ipi", "syscall_exit_to_user_mode",
        "sysvec_apic_timer_interrupt", "sysvec_call_function", "sysvec_call_function_single",
        "sysvec_reschedule_ipi", "tick_nohz_handler", "try_to_wake_up", "ttwu_do_activate", "wake_up_new_task",
        "wakeup_preempt",
    };
    return names;
}

callpath_counter::callpath_counter(std::vector<std::string> functions) : functions_(std::move(functions)) {}

callpath_counter::~callpath_counter() {
    if (attached_) detach(*attached_);
}

void callpath_counter::attach(kernel& k) {
    if (attached_) detach(*attached_);
    if (counts_.size() < static_cast<std::size_t>(k.nr_cpus())) counts_.resize(static_cast<std::size_t>(k.nr_cpus()));
    for (int c = 0; c < k.nr_cpus(); ++c) k.cpu(c).callpath = this;
    attached_ = &k;
    static_key_slow_inc(callpath_key);
}

void callpath_counter::detach(kernel& k) {
    if (attached_ != &k) return;
    for (int c = 0; c < k.nr_cpus(); ++c) k.cpu(c).callpath = nullptr;
    attached_ = nullptr;
    static_key_slow_dec(callpath_key);
}

void callpath_counter::on_enter(int cpu, const shadow_stack& s, const char* fn) {
    if (std::none_of(functions_.begin(), functions_.end(), [fn](const std::string& f) { return f == fn; })) return;
    const int kept = std::min(s.depth, shadow_stack::max_depth);
    std::vector<const char*> key(s.frames.rbegin() + (shadow_stack::max_depth - kept), s.frames.rend());
    ++counts_[static_cast<std::size_t>(cpu)][key];
}

callpath_counter::stack_counts callpath_counter::merged() const {
    stack_counts all;
    for (const stack_counts& cpu : counts_)
        for (const auto& [stack, count] : cpu) all[stack] += count;
    return all;
}

std::uint64_t callpath_counter::total() const {
    std::uint64_t n = 0;
    for (const auto& [stack, count] : merged()) n += count;
    return n;
}

std::string callpath_counter::format() const {
    std::vector<std::pair<std::uint64_t, std::string>> rows;
    for (const auto& [stack, count] : merged()) {
        std::string text = "@[\n";
        for (const char* f : stack) text += std::string(8, ' ') + f + "\n";
        rows.emplace_back(count, text + "]: " + std::to_string(count) + "\n");
    }
    std::sort(rows.begin(), rows.end());  // ascending count, then text
    std::string out;
    for (const auto& row : rows) out += row.second;
    return out;
}

// The stack is the current task's (the task may have moved to another CPU
// since the frame was entered: this_cpu_ptr is where it runs now); entering
// a probed function counts it with the function itself innermost.
void shadow_push_slow(const char* fn) {
    percpu* pc = this_cpu_ptr;
    if (!pc || !pc->callpath) return;
    task_struct& t = *pc->current_task;
    if (!t.kstack) t.kstack = std::make_unique<shadow_stack>();
    shadow_stack& s = *t.kstack;
    if (s.depth < shadow_stack::max_depth) s.frames[static_cast<std::size_t>(s.depth)] = fn;
    ++s.depth;
    pc->callpath->on_enter(pc->cpu, s, fn);
}

// Only if this function is on top: one entered before the counter was
// attached was never pushed.
void shadow_pop_slow(const char* fn) {
    percpu* pc = this_cpu_ptr;
    if (!pc || !pc->callpath) return;
    task_struct& t = *pc->current_task;
    if (!t.kstack || t.kstack->depth == 0) return;
    shadow_stack& s = *t.kstack;
    const int top = s.depth - 1;
    if (top >= shadow_stack::max_depth || s.frames[static_cast<std::size_t>(top)] == fn) --s.depth;
}

}  // namespace kp
