#include "kernel/time/hrtimer.h"
#include "kernel/trace/callpath.h"
#include "kernel/trace/tracepoint.h"

#include <algorithm>
#include <cassert>

#include "kernel/preempt/preempt.h"

namespace kp {

namespace {

// Program the clockevent for the earliest timer (base lock held).
void hrtimer_reprogram(percpu& pc) {
    hrtimer_cpu_base& base = pc.hrtimers;
    const nsec_t next = base.active.empty() ? KTIME_MAX : std::get<0>(*base.active.begin());
    if (next == base.programmed) return;
    base.programmed = next;
    pc.k->arch().set_next_event(pc.cpu, next);
}

void enqueue_locked(percpu& pc, hrtimer& t, nsec_t expires) {
    t.expires = expires;
    t.cpu = pc.cpu;
    t.seq = pc.hrtimers.next_seq++;
    auto& active = pc.hrtimers.active;
    const std::tuple<nsec_t, std::uint64_t, hrtimer*> entry{t.expires, t.seq, &t};
    active.insert(std::upper_bound(active.begin(), active.end(), entry), entry);
}

bool remove_locked(hrtimer_cpu_base& base, hrtimer& t) {
    if (t.cpu < 0) return false;
    const std::tuple<nsec_t, std::uint64_t, hrtimer*> entry{t.expires, t.seq, &t};
    auto it = std::lower_bound(base.active.begin(), base.active.end(), entry);
    if (it != base.active.end() && *it == entry) base.active.erase(it);
    t.cpu = -1;
    return true;
}

}  // namespace

void hrtimer_start_on(percpu& pc, hrtimer& t, nsec_t expires) {
    kernel& k = *pc.k;
    if (t.cpu >= 0) hrtimer_cancel(t);
    const bool on_cpu = this_cpu_ptr != nullptr;
    irqflags_t flags = on_cpu ? local_irq_save() : 0;
    pc.hrtimers.lock.lock(k.arch());
    enqueue_locked(pc, t, expires);
    hrtimer_reprogram(pc);
    pc.hrtimers.lock.unlock(k.arch());
    // HRTIMER_MODE_ABS (0) or ABS_PINNED (2) when started for another CPU.
    trace_point(k, trace_event::hrtimer_start, reinterpret_cast<std::intptr_t>(&t),
                reinterpret_cast<std::intptr_t>(t.name), expires, expires, &pc == this_cpu_ptr ? 0 : 2);
    if (on_cpu) local_irq_restore(flags);
}

void hrtimer_start(hrtimer& t, nsec_t expires) { hrtimer_start_on(this_cpu(), t, expires); }

bool hrtimer_cancel(hrtimer& t) {
    if (t.cpu < 0) return false;
    percpu& pc = this_kernel().cpu(t.cpu);
    irq_guard irqs_off;
    pc.hrtimers.lock.lock(pc.k->arch());
    const bool was = remove_locked(pc.hrtimers, t);
    hrtimer_reprogram(pc);
    pc.hrtimers.lock.unlock(pc.k->arch());
    if (was) trace_point(*pc.k, trace_event::hrtimer_cancel, reinterpret_cast<std::intptr_t>(&t));
    return was;
}

bool hrtimer_active(const hrtimer& t) { return t.cpu >= 0; }

void hrtimer_forward_now(hrtimer& t, nsec_t interval) {
    const nsec_t now = this_kernel().arch().now();
    if (t.expires > now) return;
    const nsec_t missed = (now - t.expires) / interval + 1;
    t.expires += missed * interval;
}

// Runs in hardirq context, irqs off. Callbacks run without the base lock.
void hrtimer_interrupt(percpu& pc) {
    shadow_frame<"hrtimer_interrupt"> frame;
    hrtimer_cpu_base& base = pc.hrtimers;
    arch_machine& arch = pc.k->arch();
    base.lock.lock(arch);
    base.programmed = KTIME_MAX;  // the one-shot event has fired
    for (;;) {
        const nsec_t now = arch.now();
        if (base.active.empty() || std::get<0>(*base.active.begin()) > now) break;
        hrtimer* t = std::get<2>(*base.active.begin());
        remove_locked(base, *t);
        base.lock.unlock(arch);
        trace_point(trace_event::hrtimer_expire_entry, reinterpret_cast<std::intptr_t>(t),
                    reinterpret_cast<std::intptr_t>(t->name), now);
        const hrtimer_restart r = t->function(*t);
        trace_point(trace_event::hrtimer_expire_exit, reinterpret_cast<std::intptr_t>(t));
        base.lock.lock(arch);
        if (r == hrtimer_restart::restart && t->cpu < 0) enqueue_locked(pc, *t, t->expires);
    }
    hrtimer_reprogram(pc);
    base.lock.unlock(arch);
}

}  // namespace kp
