#include "kernel/debug/debug.h"

#include <cstdio>
#include <cstring>
#include <string>

#include "kernel/preempt/preempt.h"
#include "kernel/time/timer.h"

namespace kp {

namespace {

std::string vformat(const char* fmt, va_list ap) {
    char buf[512];
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    return buf;
}

void emit(log_level level, std::string text) {
    kernel& k = this_kernel();
    k.log.printk(k.arch().now(), smp_processor_id(), level, std::move(text));
}

std::string preempt_model_str(const kernel& k) {
    return "PREEMPT(" + std::string(preempt_mode_name(k.dyn.mode)) + ")";  // preempt_model_str()
}

// dump_stack()'s header line.
void dump_stack_header() {
    const task_struct& t = current();
    printk(log_level::warning, "CPU: %d PID: %d Comm: %s %s", smp_processor_id(), t.pid, t.comm.c_str(),
           preempt_model_str(this_kernel()).c_str());
}

}  // namespace

const char* kbasename_path(const char* file) {
#ifdef KP_SOURCE_DIR
    const std::size_t n = std::strlen(KP_SOURCE_DIR);
    if (std::strncmp(file, KP_SOURCE_DIR, n) == 0 && file[n] == '/') return file + n + 1;
#endif
    return file;
}

void printk(log_level level, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::string s = vformat(fmt, ap);
    va_end(ap);
    emit(level, std::move(s));
}

void kernel_warn(const char* where, const char* fmt, ...) {
    const task_struct& t = current();
    printk(log_level::warning, "WARNING: CPU: %d PID: %d at %s", smp_processor_id(), t.pid, where);
    va_list ap;
    va_start(ap, fmt);
    emit(log_level::warning, vformat(fmt, ap));
    va_end(ap);
    dump_stack_header();
}

void __schedule_bug(const task_struct& prev) {
    printk(log_level::err, "BUG: scheduling while atomic: %s/%d/0x%08x", prev.comm.c_str(), prev.pid,
           preempt_count());
    dump_stack_header();
}

void __might_resched(const std::source_location& loc, unsigned offsets) {
    kernel& k = this_kernel();
    const task_struct& t = current();
    const unsigned expected = offsets & 0xff;  // MIGHT_RESCHED_PREEMPT_MASK
    if (preempt_count() == expected && !irqs_disabled() && !t.is_idle() && t.non_block_count == 0) return;
    // At most once a second (HZ jiffies), machine-wide.
    const auto now = static_cast<nsec_t>(get_jiffies());
    if (k.last_might_resched_report >= 0 && now < k.last_might_resched_report + k.config().hz) return;
    k.last_might_resched_report = now;
    printk(log_level::err, "BUG: sleeping function called from invalid context at %s:%u",
           kbasename_path(loc.file_name()), static_cast<unsigned>(loc.line()));
    printk(log_level::err, "in_atomic(): %d, irqs_disabled(): %d, non_block: %d, pid: %d, name: %s",
           in_atomic() ? 1 : 0, irqs_disabled() ? 1 : 0, t.non_block_count, t.pid, t.comm.c_str());
    printk(log_level::err, "preempt_count: %x, expected: %x", preempt_count(), expected);
    printk(log_level::err, "RCU nest depth: %d, expected: %u", 0, offsets >> 8);
    dump_stack_header();
}

void __might_sleep(const std::source_location& loc) {
    const task_struct& t = current();
    if (t.state() != TASK_RUNNING && !t.warned_blocking_state) {
        const_cast<task_struct&>(t).warned_blocking_state = true;  // WARN_ONCE per task
        kernel_warn("kernel/sched/core.c __might_sleep",
                    "do not call blocking ops when !TASK_RUNNING; state=%x set at [<%016x>] %s", t.state(), 0u,
                    "set_current_state");
    }
    __might_resched(loc, 0);
}

}  // namespace kp
