#include "arch/sim/sim_machine.h"

#include <algorithm>
#include <cassert>

#include "kernel/irq/irq.h"
#include "kernel/kernel.h"

namespace kp {

void tick_setup_sched_timer(percpu& pc);

namespace {

// Bits of sim_cpu::pending_vectors, highest delivery priority first (x86
// delivers the highest vector first).
constexpr irq_vector vector_order[] = {irq_vector::reschedule, irq_vector::call_function,
                                       irq_vector::call_function_single, irq_vector::local_timer};

std::uint32_t vector_bit(irq_vector v) {
    for (std::uint32_t i = 0; i < 4; ++i)
        if (vector_order[i] == v) return 1u << i;
    return 0;
}

}  // namespace

sim_machine::sim_machine(const kernel_config& cfg)
    : events_queue_(cfg.nr_cpus), ipi_latency_(cfg.costs.ipi_latency) {
    kernel_ = std::make_unique<kernel>(cfg, *this);
    cpus_.resize(static_cast<std::size_t>(cfg.nr_cpus));
    stack_context_of_this_thread(loop_ctx_);
}

sim_machine::~sim_machine() = default;

void sim_machine::raise_irq(nsec_t at, int cpu, int irq) {
    assert(cpu >= 0 && cpu < kernel_->nr_cpus() && at >= now_);
    events_queue_.post_device(cpu, at, static_cast<std::uint64_t>(irq));
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
        const int line = static_cast<int>(ev.arg);
        auto it = std::lower_bound(c.pending_lines.begin(), c.pending_lines.end(), line);
        if (it == c.pending_lines.end() || *it != line) c.pending_lines.insert(it, line);
        break;
    }
    }
    try_deliver(ev.cpu);
}

// An interrupt is taken now if the CPU waits idle, or works or spins with
// interrupts on. Otherwise it stays pending until they are enabled.
void sim_machine::try_deliver(int cpu) {
    sim_cpu& c = cpus_[static_cast<std::size_t>(cpu)];
    const bool masked = kernel_->cpu(cpu).irqs_off.load(std::memory_order_relaxed);
    const bool takes = c.state == cpu_state::idle ||
                       ((c.state == cpu_state::burning || c.state == cpu_state::spinning) && !masked);
    if (!takes) return;
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

bool sim_machine::has_pending(const sim_cpu& c) const { return c.pending_vectors != 0 || !c.pending_lines.empty(); }

// Take pending interrupts one at a time while interrupts are on. A handler
// may switch away (preemption at irq exit); when this task comes back it may
// be on another CPU, so the CPU is looked up afresh each time.
void sim_machine::deliver_pending() {
    while (!this_cpu_ptr->irqs_off.load(std::memory_order_relaxed) && has_pending(here())) {
        sim_cpu& c = here();
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
        this_cpu_ptr->irqs_off.store(true, std::memory_order_relaxed);  // the CPU masks on entry
        handle_arch_irq(src);
        this_cpu_ptr->irqs_off.store(false, std::memory_order_relaxed);  // iret restores IF
    }
}

void sim_machine::burn(nsec_t ns) {
    nsec_t remaining = ns;
    while (remaining > 0) {
        if (!this_cpu_ptr->irqs_off.load(std::memory_order_relaxed) && has_pending(here())) {
            deliver_pending();
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
    deliver_pending();
}

void sim_machine::replay_masked_irqs() {
    if (this_cpu_ptr && has_pending(here())) deliver_pending();
}

void sim_machine::cpu_wait_event() {
    // Park until another CPU releases something (sev) or an interrupt comes.
    park(cpu_state::spinning);
    deliver_pending();
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
