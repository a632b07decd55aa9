#include "arch/sim/sim_machine.h"

#include <algorithm>
#include <cassert>

#include "kernel/irq/irq.h"
#include "kernel/irq/nmi.h"
#include "kernel/kernel.h"

namespace kp {

void tick_setup_sched_timer(percpu& pc);

namespace {

// What a device event carries: the tag in the top byte, then a line
// number or a source index.
enum device_tag : std::uint64_t { tag_line = 0, tag_source = 1, tag_nmi = 2 };
std::uint64_t device_arg(device_tag tag, std::size_t index) { return std::uint64_t{tag} << 56 | index; }

}  // namespace

sim_machine::sim_machine(const kernel_config& cfg)
    : events_queue_(cfg.nr_cpus), ipi_latency_(cfg.costs.ipi_latency) {
    kernel_ = std::make_unique<kernel>(cfg, *this);
    cpus_.resize(static_cast<std::size_t>(cfg.nr_cpus));
    lines_.resize(NR_IRQS);
    stack_context_of_this_thread(loop_ctx_);
}

sim_machine::~sim_machine() = default;

void sim_machine::raise_irq(nsec_t at, int cpu, int irq) {
    assert(cpu >= 0 && cpu < kernel_->nr_cpus() && at >= now_ && irq >= 0 && irq < NR_IRQS);
    events_queue_.post_device(cpu, at, device_arg(tag_line, static_cast<std::size_t>(irq)));
}

void sim_machine::raise_nmi(nsec_t at, int cpu) {
    assert(cpu >= 0 && cpu < kernel_->nr_cpus() && at >= now_);
    events_queue_.post_device(cpu, at, device_arg(tag_nmi, 0));
}

void sim_machine::attach_device(int irq, const irq_arrivals& arrivals) {
    assert(irq >= 0 && irq < NR_IRQS);
    sources_.push_back({arrival_stream(arrivals, now_), irq, 0});
    post_source(sources_.size() - 1);
}

void sim_machine::attach_nmi_source(int cpu, const irq_arrivals& arrivals) {
    assert(cpu >= 0 && cpu < kernel_->nr_cpus());
    sources_.push_back({arrival_stream(arrivals, now_), -1, cpu});
    post_source(sources_.size() - 1);
}

// Post a source's next arrival (one at a time: a device firing at 20 kHz
// for minutes costs one queued event, not millions).
void sim_machine::post_source(std::size_t index) {
    const sim_source& s = sources_[index];
    const nsec_t at = s.arrivals.next();
    if (at == KTIME_MAX) return;
    const int cpu = s.irq >= 0 ? lines_[static_cast<std::size_t>(s.irq)].cpu : s.cpu;
    events_queue_.post_device(cpu, at, device_arg(tag_source, index));
}

// The source fired: deliver, then step to its next arrival.
void sim_machine::source_fired(std::size_t index) {
    sim_source& s = sources_[index];
    s.arrivals.advance();
    const int irq = s.irq;
    const int nmi_cpu = s.cpu;
    post_source(index);
    if (irq >= 0) line_arrival(lines_[static_cast<std::size_t>(irq)].cpu, irq);
    else {
        cpus_[static_cast<std::size_t>(nmi_cpu)].nmi_pending = true;
        try_deliver(nmi_cpu);
    }
}

// The controller: a masked line latches the arrival for its unmask.
void sim_machine::line_arrival(int cpu, int irq) {
    sim_line& l = lines_[static_cast<std::size_t>(irq)];
    if (l.masked) {
        l.latched = true;
        return;
    }
    mark_line_pending(cpu, irq);
    try_deliver(cpu);
}

void sim_machine::mark_line_pending(int cpu, int irq) {
    std::vector<int>& p = cpus_[static_cast<std::size_t>(cpu)].pending_lines;
    auto it = std::lower_bound(p.begin(), p.end(), irq);
    if (it == p.end() || *it != irq) p.insert(it, irq);
}

void sim_machine::irq_chip_set_affinity(int irq, int cpu) { lines_[static_cast<std::size_t>(irq)].cpu = cpu; }

void sim_machine::irq_chip_mask(int irq) { lines_[static_cast<std::size_t>(irq)].masked = true; }

// A latched arrival is delivered now: on this CPU, pending for the next
// moment interrupts are on; on another, as an event at this instant.
void sim_machine::irq_chip_unmask(int irq) {
    sim_line& l = lines_[static_cast<std::size_t>(irq)];
    l.masked = false;
    if (!l.latched) return;
    l.latched = false;
    if (this_cpu_ptr && this_cpu_ptr->cpu == l.cpu) mark_line_pending(l.cpu, irq);
    else events_queue_.post_device(l.cpu, now_, device_arg(tag_line, static_cast<std::size_t>(irq)));
}

void sim_machine::set_next_event(int cpu, nsec_t expires) {
    events_queue_.set_timer(cpu, expires == KTIME_MAX ? KTIME_MAX : std::max(expires, now_));
}

void sim_machine::send_ipi(int cpu, irq_vector v) {
    // Before boot no CPU runs; each one looks for work when it starts.
    if (!booted_) return;
    events_queue_.post_ipi(cpu, now_ + ipi_latency_, static_cast<std::uint64_t>(v));
}

void sim_machine::boot() {
    booted_ = true;
    for (int cpu = 0; cpu < kernel_->nr_cpus(); ++cpu) {
        tick_setup_sched_timer(kernel_->cpu(cpu));
        events_queue_.post_resume(cpu, now_);
    }
}

sim_machine::stop_reason sim_machine::run(nsec_t limit) {
    const stop_reason why = run_events(limit);
    kernel_->sync_accounting();
    return why;
}

sim_machine::stop_reason sim_machine::run_events(nsec_t limit) {
    if (!booted_) boot();
    while (!events_queue_.empty()) {
        if (kernel_->nr_live_tasks() == 0) return stop_reason::all_exited;
        if (events_queue_.next_time() > limit) {
            now_ = std::max(now_, limit);
            return stop_reason::time_limit;
        }
        const sim_events::event ev = events_queue_.pop();
        now_ = ev.time;
        ++events_;
        handle(ev);
    }
    if (kernel_->nr_live_tasks() == 0) return stop_reason::all_exited;
    // Nothing is pending. Superseded events used to stay queued until their
    // time, moving the clock on when nothing else was left: keep doing so.
    const nsec_t dropped = events_queue_.latest_dropped();
    if (dropped > now_) {
        if (dropped > limit) {
            now_ = std::max(now_, limit);
            return stop_reason::time_limit;
        }
        now_ = dropped;
    }
    return stop_reason::no_events;
}

void sim_machine::handle(const sim_events::event& ev) {
    sim_cpu& c = cpus_[static_cast<std::size_t>(ev.cpu)];
    switch (ev.what) {
    case sim_events::kind::none:
        return;
    case sim_events::kind::resume:
        enter_cpu(ev.cpu);
        return;
    case sim_events::kind::timer:
        c.pending_vectors |= vector_bit(irq_vector::local_timer);
        break;
    case sim_events::kind::ipi:
        c.pending_vectors |= vector_bit(static_cast<irq_vector>(ev.arg));
        break;
    case sim_events::kind::device: {
        const std::size_t index = ev.arg & ((std::uint64_t{1} << 56) - 1);
        switch (static_cast<device_tag>(ev.arg >> 56)) {
        case tag_line: line_arrival(ev.cpu, static_cast<int>(index)); return;
        case tag_source: source_fired(index); return;
        case tag_nmi: c.nmi_pending = true; break;
        }
        break;
    }
    }
    try_deliver(ev.cpu);
}

// An interrupt is taken now if the CPU waits idle, or works or spins with
// interrupts on (an NMI: whatever the flag, outside another NMI). Otherwise
// it stays pending until they are enabled.
void sim_machine::try_deliver(int cpu) {
    sim_cpu& c = cpus_[static_cast<std::size_t>(cpu)];
    const bool parked = c.state != cpu_state::running;
    if (!parked || !(c.state == cpu_state::idle || deliverable(c, cpu))) return;
    events_queue_.cancel_resume(cpu);  // of the interrupted work
    enter_cpu(cpu);
}

void sim_machine::enter_cpu(int cpu) {
    percpu& pc = kernel_->cpu(cpu);
    this_cpu_ptr = &pc;
    sim_cpu& c = cpus_[static_cast<std::size_t>(cpu)];
    if (c.state == cpu_state::spinning) --spinning_;
    c.state = cpu_state::running;
    stack_switch(loop_ctx_, pc.current_task->ctx);
    this_cpu_ptr = nullptr;
}

void sim_machine::park(cpu_state state) {
    percpu& pc = *this_cpu_ptr;
    cpus_[static_cast<std::size_t>(pc.cpu)].state = state;
    if (state == cpu_state::spinning) ++spinning_;
    stack_switch(pc.current_task->ctx, loop_ctx_);
    // The loop re-entered this CPU (this_cpu_ptr is set again).
}

sim_machine::sim_cpu& sim_machine::here() { return cpus_[static_cast<std::size_t>(this_cpu_ptr->cpu)]; }

bool sim_machine::has_pending(const sim_cpu& c) const {
    return c.pending_vectors != 0 || !c.pending_lines.empty() || c.nmi_pending;
}

// An NMI is taken whatever the interrupt flag, unless an NMI runs; the
// others only with interrupts on.
bool sim_machine::deliverable(const sim_cpu& c, int cpu) const {
    if (c.nmi_pending && !c.in_nmi) return true;
    return (c.pending_vectors != 0 || !c.pending_lines.empty()) &&
           !kernel_->cpu(cpu).irqs_off.load(std::memory_order_relaxed);
}

// Take pending interrupts one at a time while interrupts are on. A handler
// may switch away (preemption at irq exit); when this task comes back it may
// be on another CPU, so the CPU is looked up afresh each time.
void sim_machine::deliver_pending(bool at_user_point) {
    while (deliverable(here(), this_cpu_ptr->cpu)) {
        sim_cpu& c = here();
        if (c.nmi_pending && !c.in_nmi) {
            // The NMI gate clears IF; NMIs stay blocked until its iret.
            c.nmi_pending = false;
            c.in_nmi = true;
            ++irqs_.nmi;
            const bool was_off = this_cpu_ptr->irqs_off.exchange(true, std::memory_order_relaxed);
            exc_nmi();
            this_cpu_ptr->irqs_off.store(was_off, std::memory_order_relaxed);
            here().in_nmi = false;
            continue;
        }
        irq_source src;
        if (c.pending_vectors) {
            for (std::uint32_t i = 0; i < 4; ++i) {
                if (c.pending_vectors & (1u << i)) {
                    c.pending_vectors &= ~(1u << i);
                    src.vector = vector_order[i];
                    break;
                }
            }
        } else {
            src.irq = c.pending_lines.front();
            c.pending_lines.erase(c.pending_lines.begin());
        }
        if (src.irq >= 0) ++irqs_.device;
        else if (src.vector == irq_vector::local_timer) ++irqs_.timer;
        else ++irqs_.ipi;
        cpu_take_interrupt(src, at_user_point);
    }
}

void sim_machine::burn(nsec_t ns) {
    nsec_t remaining = ns;
    while (remaining > 0) {
        if (deliverable(here(), this_cpu_ptr->cpu)) {
            deliver_pending(true);
            continue;
        }
        const nsec_t start = now_;
        events_queue_.post_resume(this_cpu_ptr->cpu, start + remaining);
        park(cpu_state::burning);
        remaining -= now_ - start;
    }
}

void sim_machine::cpu_idle() {
    this_cpu_ptr->irqs_off.store(false, std::memory_order_relaxed);
    if (!has_pending(here())) park(cpu_state::idle);
    deliver_pending(false);
}

void sim_machine::replay_masked_irqs() {
    if (this_cpu_ptr && deliverable(here(), this_cpu_ptr->cpu)) deliver_pending(false);
}

void sim_machine::cpu_wait_event() {
    // Park until another CPU releases something (sev) or an interrupt comes.
    park(cpu_state::spinning);
    deliver_pending(false);
}

void sim_machine::cpu_send_event() {
    if (spinning_ == 0) return;
    for (int cpu = 0; cpu < static_cast<int>(cpus_.size()); ++cpu) {
        sim_cpu& c = cpus_[static_cast<std::size_t>(cpu)];
        if (c.state == cpu_state::spinning) events_queue_.post_resume(cpu, now_);
    }
}

void sim_machine::switch_to(task_struct& prev, task_struct& next, bool prev_dies) {
    stack_switch(prev.ctx, next.ctx, prev_dies ? switch_kind::from_dies : switch_kind::keep_from);
}

}  // namespace kp
