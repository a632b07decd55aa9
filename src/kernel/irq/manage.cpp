// request_threaded_irq, free_irq, affinity, disable/enable and the irq
// thread (kernel/irq/manage.c, reduced to one action per line).
#include <cassert>
#include <cerrno>

#include "kernel/debug/debug.h"
#include "kernel/fork.h"
#include "kernel/irq/bottom_half.h"
#include "kernel/irq/irq.h"
#include "kernel/kernel.h"
#include "kernel/preempt/preempt.h"
#include "kernel/sched/core.h"

namespace kp {

namespace {

irq_desc* irq_to_desc(kernel& k, int irq) {
    if (irq < 0 || irq >= static_cast<int>(k.irq_descs.size())) return nullptr;
    return &k.irq_descs[static_cast<std::size_t>(irq)];
}

// The first online CPU of the mask (x86's vector allocation gives a line
// one target CPU; which one of the mask is its choice, the first here).
int effective_cpu(kernel& k, const cpumask& mask) {
    for (int cpu = 0; cpu < k.nr_cpus(); ++cpu)
        if (mask.none() || mask.test(static_cast<std::size_t>(cpu))) return cpu;
    return 0;
}

// irq_forced_thread_fn: the handler as if in hardirq context, with bottom
// halves and (non-RT) interrupts off; softirqs it raises run at the
// local_bh_enable() at its end.
irqreturn irq_forced_thread_fn(irq_desc& d) {
    bh_guard bh;
    irq_guard irqs_off;
    return d.forced_fn(d.irq);
}

// irq_thread_check_affinity: the thread follows the line's affinity.
void irq_thread_check_affinity(irq_desc& d) {
    if (!d.affinity_changed) return;
    d.affinity_changed = false;
    cpumask mask;
    mask.set(static_cast<std::size_t>(d.effective_cpu));
    set_cpus_allowed_ptr(current(), mask);
}

// irq_finalize_oneshot: unmask a ONESHOT line once its thread has run.
void irq_finalize_oneshot(irq_desc& d) {
    irq_guard irqs_off;
    if (!d.oneshot_masked) return;
    d.oneshot_masked = false;
    if (d.depth == 0) this_kernel().arch().irq_chip_unmask(d.irq);
}

// irq_thread: sleep until IRQTF_RUNTHREAD is claimed, run the thread
// function, finalize a oneshot line; until free_irq stops it.
void irq_thread(irq_desc& d) {
    for (;;) {
        set_current_state(TASK_INTERRUPTIBLE);
        if (d.stop_thread.load()) {
            __set_current_state(TASK_RUNNING);
            return;
        }
        if (!d.runthread.exchange(false)) {
            schedule();
            continue;
        }
        __set_current_state(TASK_RUNNING);
        irq_thread_check_affinity(d);
        ++d.thread_runs;
        irqreturn ret = d.forced_fn ? irq_forced_thread_fn(d) : d.thread_fn(d.irq);
        // A forced line that also had a thread function: Linux wakes a
        // secondary thread "irq/N-s-name"; here the same thread runs it.
        if (d.forced_fn && ret == irqreturn::wake_thread && d.thread_fn) ret = d.thread_fn(d.irq);
        if (ret == irqreturn::none) ++d.unhandled;
        irq_finalize_oneshot(d);
        if (--d.threads_active == 0 && d.sync_waiter) wake_up_process(*d.sync_waiter);
    }
}

// setup_irq_thread: "irq/N-name", SCHED_FIFO 50 (sched_set_fifo), created
// blocked; it takes the line's affinity at its first run.
void setup_irq_thread(kernel& k, irq_desc& d) {
    task_params params;
    params.name = "irq/" + std::to_string(d.irq) + "-" + d.name;
    params.kthread = true;
    params.counts_as_live = false;
    params.policy = sched_policy::fifo;
    params.rt_priority = MAX_RT_PRIO / 2;
    params.cpu = d.effective_cpu;
    d.stop_thread = false;
    d.runthread = false;
    d.affinity_changed = true;
    task_struct& t = kernel_clone(k, params, [&d] { irq_thread(d); });
    leave_stopped(t);
    d.thread = &t;
}

irqreturn irq_default_primary_handler(int) { return irqreturn::wake_thread; }

// Lines are usually requested while setting a machine up, before any CPU
// runs: log without the CPU then (the WARN's stack header needs one).
void irq_complain(kernel& k, log_level level, const std::string& where, const std::string& text) {
    if (this_cpu_ptr && level == log_level::warning) kernel_warn(where.c_str(), "%s", text.c_str());
    else k.log.printk(k.arch().now(), smp_processor_id(), level, text);
}

// irq_setup_forced_threading: with threadirqs, a plain handler becomes the
// thread function of a ONESHOT line whose primary only wakes the thread.
void setup_forced_threading(kernel& k, irq_desc& d) {
    if (!k.force_irqthreads() || (d.flags & (IRQF_NO_THREAD | IRQF_ONESHOT)) || !d.handler) return;
    d.forced_fn = std::move(d.handler);
    d.handler = irq_default_primary_handler;
    d.flags |= IRQF_ONESHOT;
}

}  // namespace

// __irq_wake_thread: claim RUNTHREAD (already set: the thread has not run
// yet and will see this interrupt too) and wake the thread.
void irq_wake_thread(irq_desc& d) {
    if (d.stop_thread.load() || d.runthread.exchange(true)) return;
    ++d.threads_active;
    wake_up_process(*d.thread);
}

int request_threaded_irq(kernel& k, int irq, irq_handler_t handler, irq_handler_t thread_fn, unsigned flags,
                         std::string name) {
    irq_desc* d = irq_to_desc(k, irq);
    if (!d || (!handler && !thread_fn)) return -EINVAL;
    if (d->requested()) return -EBUSY;  // no shared lines
    if (!handler && !(flags & IRQF_ONESHOT)) {
        irq_complain(k, log_level::err, "",
                     "Threaded irq requested with handler=NULL and !ONESHOT for " + name + " (irq " +
                         std::to_string(irq) + ")");
        return -EINVAL;
    }
    d->irq = irq;
    d->name = std::move(name);
    d->flags = flags;
    d->thread_fn = std::move(thread_fn);
    d->handler = std::move(handler);
    d->forced_fn = {};
    d->count_per_cpu.assign(static_cast<std::size_t>(k.nr_cpus()), 0);
    d->time_per_cpu.assign(static_cast<std::size_t>(k.nr_cpus()), 0);
    setup_forced_threading(k, *d);
    if (!d->handler) d->handler = irq_default_primary_handler;
    d->effective_cpu = effective_cpu(k, d->affinity);
    k.arch().irq_chip_set_affinity(irq, d->effective_cpu);
    if (d->thread_fn || d->forced_fn) setup_irq_thread(k, *d);
    return 0;
}

int request_irq(kernel& k, int irq, std::string name, irq_handler_t handler, unsigned flags) {
    return request_threaded_irq(k, irq, std::move(handler), {}, flags, std::move(name));
}

// The thread is told to stop and exits at its next run (kthread_stop
// without waiting for it); the line is masked and forgotten.
void free_irq(kernel& k, int irq) {
    irq_desc* d = irq_to_desc(k, irq);
    if (!d || !d->requested()) {
        irq_complain(k, log_level::warning, "kernel/irq/manage.c __free_irq",
                     "Trying to free already-free IRQ " + std::to_string(irq));
        return;
    }
    k.arch().irq_chip_mask(irq);
    if (d->thread) {
        d->stop_thread = true;
        wake_up_process(*d->thread);
        d->thread = nullptr;
    }
    d->handler = {};
    d->thread_fn = {};
    d->forced_fn = {};
    d->depth = 0;
    d->oneshot_masked = false;
}

int irq_set_affinity(kernel& k, int irq, const cpumask& mask) {
    irq_desc* d = irq_to_desc(k, irq);
    if (!d) return -EINVAL;
    d->affinity = mask;
    d->effective_cpu = effective_cpu(k, mask);
    d->affinity_changed = true;
    k.arch().irq_chip_set_affinity(irq, d->effective_cpu);
    return 0;
}

void disable_irq_nosync(kernel& k, int irq) {
    irq_desc* d = irq_to_desc(k, irq);
    if (!d) return;
    irq_guard irqs_off;
    if (d->depth++ == 0) k.arch().irq_chip_mask(irq);
}

// synchronize_irq: wait until the line's thread has handled every
// interrupt it was woken for. (A hardirq handler still running on another
// CPU is not waited for: one action per line, delivered to one CPU.)
void synchronize_irq(kernel& k, int irq) {
    irq_desc* d = irq_to_desc(k, irq);
    if (!d || !d->thread) return;
    __might_sleep(std::source_location::current());
    assert(!d->sync_waiter);  // one waiter at a time
    d->sync_waiter = &current();
    for (;;) {
        set_current_state(TASK_UNINTERRUPTIBLE);
        if (d->threads_active.load() == 0) break;
        schedule();
    }
    __set_current_state(TASK_RUNNING);
    d->sync_waiter = nullptr;
}

void disable_irq(kernel& k, int irq) {
    disable_irq_nosync(k, irq);
    synchronize_irq(k, irq);
}

void enable_irq(kernel& k, int irq) {
    irq_desc* d = irq_to_desc(k, irq);
    if (!d) return;
    irq_guard irqs_off;
    if (d->depth == 0) {
        irq_complain(k, log_level::warning, "kernel/irq/manage.c __enable_irq",
                     "Unbalanced enable for IRQ " + std::to_string(irq));
        return;
    }
    if (--d->depth == 0 && !d->oneshot_masked) k.arch().irq_chip_unmask(irq);
}

}  // namespace kp
