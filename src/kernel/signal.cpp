#include "kernel/signal.h"

#include "kernel/preempt/preempt.h"
#include "kernel/sched/core.h"

namespace kp {

void send_sig(task_struct& p) {
    p.set_tif(TIF_SIGPENDING);
    // signal_wake_up: an interruptible sleeper wakes; a running task on
    // another CPU gets kicked so that it sees the signal soon.
    if (!try_to_wake_up(p, TASK_INTERRUPTIBLE, 0) && task_on_cpu(p) && p.cpu != smp_processor_id())
        p.k->arch().send_ipi(p.cpu, irq_vector::reschedule);
}

bool signal_pending(const task_struct& p) { return p.test_tif(TIF_SIGPENDING); }

void flush_signals(task_struct& p) { p.clear_tif(TIF_SIGPENDING); }

}  // namespace kp
