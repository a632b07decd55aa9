// Runqueue bookkeeping shared by every class: clock, enqueue/dequeue, the
// two-runqueue lock.
#include <cassert>

#include "kernel/sched/core.h"
#include "kernel/trace/callpath.h"
#include "kernel/trace/tracepoint.h"
#include "kernel/sched/cputime.h"
#include "kernel/sched/rq_lock.h"

namespace kp {

void arch_spinlock::lock_slow(arch_machine& arch) {
    do {
        while (is_locked()) arch.cpu_wait_event();
    } while (!try_lock());
}

void arch_spinlock::unlock(arch_machine& arch) {
    locked_.store(false, std::memory_order_release);
    arch.cpu_send_event();
}

void update_rq_clock(rq& rq) {
    percpu& pc = rq_percpu(rq);
    const nsec_t now = rq.k->arch().now();
    if (now > rq.clock) rq.clock = now;
    // Tasks are not charged for interrupts (IRQ_TIME_ACCOUNTING).
    const nsec_t task_clock = rq.clock - irq_time_now(pc, rq.clock);
    if (task_clock > rq.clock_task) rq.clock_task = task_clock;
}

void double_rq_lock(rq& a, rq& b) {
    assert(irqs_disabled());
    if (&a == &b) {
        raw_spin_lock(a.lock);
        return;
    }
    rq& first = a.cpu < b.cpu ? a : b;
    rq& second = a.cpu < b.cpu ? b : a;
    raw_spin_lock(first.lock);
    raw_spin_lock(second.lock);
}

rq& __task_rq_lock(task_struct& p) {
    assert(irqs_disabled());
    for (;;) {
        rq& rq = cpu_rq(*p.k, p.cpu);
        raw_spin_lock(rq.lock);
        if (p.cpu == rq.cpu) return rq;
        raw_spin_unlock_no_resched(rq.lock);
    }
}

void double_rq_unlock(rq& a, rq& b) {
    if (&a != &b) raw_spin_unlock_no_resched(b.lock);
    raw_spin_unlock_no_resched(a.lock);
}

void update_idle_cpu(rq& rq) {
    const bool idle = rq.curr == rq.idle && rq.nr_running == 0 && rq_percpu(rq).online;
    std::atomic<std::uint64_t>& word = rq.k->idle_cpus[rq.cpu / 64];
    const std::uint64_t bit = std::uint64_t{1} << (rq.cpu % 64);
    // Read first: the bit rarely changes, and a read is cheaper than a locked RMW.
    if (((word.load(std::memory_order_relaxed) & bit) != 0) == idle) return;
    if (idle) word.fetch_or(bit, std::memory_order_relaxed);
    else word.fetch_and(~bit, std::memory_order_relaxed);
}

namespace {

// The lowest CPU in [lo, hi) of allowed & idle, or -1. The idle bits are
// walked in order and each tested in allowed: the first idle CPU is nearly
// always allowed, and std::bitset has no cheap word access (shifting the
// whole mask out costs more than the tests).
int first_idle_in(kernel& k, const cpumask& allowed, int lo, int hi) {
    for (int w = lo / 64; w * 64 < hi; ++w) {
        std::uint64_t bits = k.idle_cpus[w].load(std::memory_order_relaxed);
        if (w == lo / 64) bits &= ~std::uint64_t{0} << (lo % 64);
        for (; bits != 0; bits &= bits - 1) {
            const int cpu = w * 64 + __builtin_ctzll(bits);
            if (cpu >= hi) return -1;
            if (allowed[static_cast<std::size_t>(cpu)]) return cpu;
        }
    }
    return -1;
}

}  // namespace

int find_idle_cpu(kernel& k, const cpumask& allowed, int from) {
    const int n = k.nr_cpus();
    from = from >= 0 && from < n ? from : 0;
    const int cpu = first_idle_in(k, allowed, from, n);
    return cpu >= 0 ? cpu : first_idle_in(k, allowed, 0, from);
}

void activate_task(rq& rq, task_struct& p, int flags) {
    p.sched_class->enqueue_task(rq, p, flags);
    p.on_rq = 1;
    ++rq.nr_running;
    trace_point(*rq.k, trace_event::kpreempt_nr_running, rq.cpu, rq.nr_running);
    update_idle_cpu(rq);
}

void deactivate_task(rq& rq, task_struct& p, int flags) {
    assert(p.on_rq);
    p.on_rq = 0;
    p.sched_class->dequeue_task(rq, p, flags);
    --rq.nr_running;
    trace_point(*rq.k, trace_event::kpreempt_nr_running, rq.cpu, rq.nr_running);
    update_idle_cpu(rq);
}

void set_task_cpu(task_struct& p, int cpu) {
    if (p.cpu != cpu) trace_point(*p.k, trace_event::sched_migrate_task, p.pid, p.prio, p.cpu, cpu);
    if (p.cpu != cpu && p.k->observer) p.k->observer->on_migrate(p.k->arch().now(), p.pid, p.cpu, cpu);
    p.cpu = cpu;
}

void wakeup_preempt(rq& rq, task_struct& p, int wake_flags) {
    shadow_frame<"wakeup_preempt"> frame;
    task_struct& curr = *rq.curr;
    if (p.sched_class == curr.sched_class) p.sched_class->wakeup_preempt(rq, p, wake_flags);
    else if (p.sched_class->rank < curr.sched_class->rank) resched_curr(rq);
}

}  // namespace kp
