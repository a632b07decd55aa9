// Each event's printed fields: the TP_printk formats of Linux 6.12's
// include/trace/events/{sched,irq,ipi,preemptirq,timer}.h, filled from the
// recorded arguments (trace.h lists each event's layout), with names looked
// up now. The two kpreempt_* events are ours (docs/tracing.md).
#include <cstdarg>
#include <cstdio>

#include "arch/arch.h"
#include "kernel/kernel.h"
#include "kpreempt/observer.h"
#include "tracing/ftrace_text.h"

namespace kp {

namespace {

[[gnu::format(printf, 1, 2)]] std::string fmt(const char* f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    const int n = std::vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    if (n < 0) return {};
    if (static_cast<std::size_t>(n) < sizeof buf) return std::string(buf, static_cast<std::size_t>(n));
    std::string big(static_cast<std::size_t>(n) + 1, '\0');
    va_start(ap, f);
    std::vsnprintf(big.data(), big.size(), f, ap);
    va_end(ap);
    big.pop_back();
    return big;
}

int i32(std::int64_t v) { return static_cast<int>(v); }
unsigned long long u64(std::int64_t v) { return static_cast<unsigned long long>(v); }

// A comm inside the fields: the task's own comm, so pid 0 is the CPU's
// idle task "swapper/N" (the line's prefix says "<idle>" instead).
std::string field_comm(kernel& k, int pid, int cpu) {
    if (pid != 0) return task_comm(k, pid);
    if (cpu >= 0 && cpu < k.nr_cpus() && k.cpu(cpu).idle) return k.cpu(cpu).idle->comm;
    return "swapper/" + std::to_string(cpu);
}

// __trace_sched_switch_state and sched_switch's TP_printk: "R+" for a
// preemption, else the state's letter (task_state_char; a dead task prints
// X, autoreaped).
std::string switch_state(std::int64_t raw) {
    if (raw == TRACE_STATE_PREEMPTED) return "R+";
    return std::string(1, task_state_char(raw));
}

std::string sched_switch_fields(kernel& k, const trace_entry& e) {
    const std::string prev = field_comm(k, i32(e.arg[0]), e.cpu), next = field_comm(k, i32(e.arg[3]), e.cpu);
    return fmt("prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s ==> next_comm=%s next_pid=%d next_prio=%d",
               prev.c_str(), i32(e.arg[0]), i32(e.arg[1]), switch_state(e.arg[2]).c_str(), next.c_str(), i32(e.arg[3]),
               i32(e.arg[4]));
}

std::string wakeup_fields(kernel& k, const trace_entry& e) {
    return fmt("comm=%s pid=%d prio=%d target_cpu=%03d", field_comm(k, i32(e.arg[0]), i32(e.arg[2])).c_str(),
               i32(e.arg[0]), i32(e.arg[1]), i32(e.arg[2]));
}

std::string softirq_fields(const trace_entry& e) {
    const auto vec = static_cast<unsigned>(e.arg[0]);
    return fmt("vec=%u [action=%s]", vec, vec < NR_SOFTIRQS ? softirq_to_name[vec] : "UNKNOWN");
}

std::string irq_name(kernel& k, std::int64_t irq) {
    if (irq < 0 || static_cast<std::size_t>(irq) >= k.irq_descs.size()) return "";
    return k.irq_descs[static_cast<std::size_t>(irq)].name;
}

// ipi_send_cpu's callsite is the caller's code address in Linux; we have
// no kernel symbols, so it is the function that sends each vector.
const char* ipi_callsite(std::int64_t vector) {
    switch (static_cast<irq_vector>(vector)) {
    case irq_vector::reschedule: return "resched_curr";
    case irq_vector::call_function_single: return "generic_exec_single";
    case irq_vector::call_function: return "smp_call_function_many_cond";
    case irq_vector::local_timer: return "tick_broadcast";
    }
    return "0x0";
}

// decode_hrtimer_mode: ABS 0, REL 1, PINNED 2, SOFT 4, HARD 8.
std::string hrtimer_mode(std::int64_t mode) {
    if (mode < 0 || mode > 0xb || (mode & 0xc) == 0xc) return fmt("0x%llx", u64(mode));
    std::string s = mode & 1 ? "REL" : "ABS";
    if (mode & 2) s += "|PINNED";
    if (mode & 4) s += "|SOFT";
    if (mode & 8) s += "|HARD";
    return s;
}

// %ps of an hrtimer's function: the recorded name (a string literal).
const char* function_name(std::int64_t p) {
    const char* name = reinterpret_cast<const char*>(static_cast<std::intptr_t>(p));
    return name ? name : "0x0";
}

std::string pointer(std::int64_t p, trace_pointer_ids* ids) {
    return ids ? ids->format(p) : fmt("%016llx", u64(p));
}

std::string hrtimer_fields(const trace_entry& e, trace_pointer_ids* ids) {
    const std::string timer = pointer(e.arg[0], ids);
    switch (e.type) {
    case trace_event::hrtimer_start:
        return fmt("hrtimer=%s function=%s expires=%llu softexpires=%llu mode=%s", timer.c_str(),
                   function_name(e.arg[1]), u64(e.arg[2]), u64(e.arg[3]), hrtimer_mode(e.arg[4]).c_str());
    case trace_event::hrtimer_expire_entry:
        return fmt("hrtimer=%s function=%s now=%llu", timer.c_str(), function_name(e.arg[1]), u64(e.arg[2]));
    default:
        return "hrtimer=" + timer;
    }
}

std::string kpreempt_preempt_fields(const trace_entry& e) {
    const std::int64_t point = e.arg[0], mode = e.arg[1];
    const std::string point_name = point >= 0 && point <= static_cast<int>(preempt_point::exit)
                                       ? std::string(preempt_point_name(static_cast<preempt_point>(point)))
                                       : std::to_string(point);
    const std::string mode_name = mode >= 0 && mode <= static_cast<int>(preempt_mode::full)
                                      ? std::string(preempt_mode_name(static_cast<preempt_mode>(mode)))
                                      : std::to_string(mode);
    return fmt("point=%s model=%s prev_pid=%d next_pid=%d", point_name.c_str(), mode_name.c_str(), i32(e.arg[2]),
               i32(e.arg[3]));
}

}  // namespace

std::string trace_pointer_ids::format(std::int64_t ptr) {
    const auto [it, fresh] = ids_.try_emplace(ptr, ids_.size() + 1);
    return fmt("%016llx", static_cast<unsigned long long>(it->second));
}

std::string format_event_fields(kernel& k, const trace_entry& e, trace_pointer_ids* ids) {
    using ev = trace_event;
    switch (e.type) {
    case ev::sched_switch: return sched_switch_fields(k, e);
    case ev::sched_waking:
    case ev::sched_wakeup:
    case ev::sched_wakeup_new: return wakeup_fields(k, e);
    case ev::sched_migrate_task:
        return fmt("comm=%s pid=%d prio=%d orig_cpu=%d dest_cpu=%d", task_comm(k, i32(e.arg[0])).c_str(),
                   i32(e.arg[0]), i32(e.arg[1]), i32(e.arg[2]), i32(e.arg[3]));
    case ev::sched_process_exit:  // 6.12: no group_dead yet
        return fmt("comm=%s pid=%d prio=%d", task_comm(k, i32(e.arg[0])).c_str(), i32(e.arg[0]), i32(e.arg[1]));
    case ev::sched_stat_runtime:  // 6.12: no vruntime any more
        return fmt("comm=%s pid=%d runtime=%llu [ns]", field_comm(k, i32(e.arg[0]), e.cpu).c_str(), i32(e.arg[0]),
                   u64(e.arg[1]));
    case ev::irq_handler_entry: return fmt("irq=%d name=%s", i32(e.arg[0]), irq_name(k, e.arg[0]).c_str());
    case ev::irq_handler_exit: return fmt("irq=%d ret=%s", i32(e.arg[0]), e.arg[1] ? "handled" : "unhandled");
    case ev::softirq_raise:
    case ev::softirq_entry:
    case ev::softirq_exit: return softirq_fields(e);
    case ev::ipi_send_cpu:
        return fmt("cpu=%u callsite=%s callback=0x0", static_cast<unsigned>(e.arg[0]), ipi_callsite(e.arg[1]));
    case ev::preempt_disable:
    case ev::preempt_enable:
    case ev::irq_disable:
    case ev::irq_enable:
        return "caller=" + format_code_address(static_cast<std::uintptr_t>(e.arg[0])) +
               " parent=" + format_code_address(static_cast<std::uintptr_t>(e.arg[1]));
    case ev::hrtimer_start:
    case ev::hrtimer_expire_entry:
    case ev::hrtimer_expire_exit:
    case ev::hrtimer_cancel: return hrtimer_fields(e, ids);
    case ev::kpreempt_preempt: return kpreempt_preempt_fields(e);
    case ev::kpreempt_nr_running: return fmt("cpu=%d nr_running=%d", i32(e.arg[0]), i32(e.arg[1]));
    case ev::nr_events: break;
    }
    return "";
}

}  // namespace kp
