// The irqsoff, preemptoff and preemptirqsoff tracers
// (kernel/trace/trace_irqsoff.c): the longest stretch a CPU spent with
// hardirqs disabled, with preemption disabled, or with either.
//
// They are driven by the preemptirq tracepoints, with Linux's rules
// (tracer_hardirqs_off/on, tracer_preempt_off/on):
//   irq_disable:     start, unless the tracer also times preemption and the
//                    count is not 0 (then a preempt-off window is open)
//   irq_enable:      stop, on the same condition
//   preempt_disable: start, unless the tracer also times irqs and they are
//                    off (then an irqs-off window is open)
//   preempt_enable:  stop, on the same condition
// "The count" is the whole preempt_count, hardirq and softirq bits
// included, and a start while a window is open does nothing. So
// preemptoff alone ignores interrupt masking, and preemptirqsoff's window
// runs from when either is disabled until both are enabled again.
//
// Every interrupt opens an irqs-off window: the machine masks interrupts
// on delivery and handle_arch_irq traces irq_disable/irq_enable around the
// handling, as irqentry does.
//
// Linux offers preemptoff only with CONFIG_PREEMPTION. Under our none and
// voluntary models preempt_count still counts (spinlocks, the scheduler,
// the idle task), so the tracer measures there too.
#pragma once

#include <vector>

#include "kernel/trace/latency_tracer.h"

namespace kp {

class irqsoff_tracer final : public latency_tracer {
public:
    // trace_type: what the tracer times.
    enum : unsigned { irqs_off = 1u << 1, preempt_off = 1u << 2 };

    explicit irqsoff_tracer(unsigned trace_type, std::uint64_t window_events = TRACE_ALL_EVENTS,
                            std::size_t window_capacity = default_window_capacity);

    void on_entry(percpu& pc, const trace_entry& e) override;
    void on_critical_timings(percpu& pc, critical_timings what, std::int64_t ip) override;

private:
    // trace_array_cpu's timing fields, and tracing_cpu.
    struct cpu_state {
        explicit cpu_state(std::size_t capacity) : window(capacity) {}
        bool tracing = false;             // tracing_cpu: a window is open
        nsec_t start = 0;                 // preempt_timestamp
        std::int64_t critical_start = 0;  // where it opened (parent_ip ?: ip)
        latency_window window;
    };

    std::uint64_t needed_events() const override;
    void reset(int nr_cpus) override;
    bool preempt_trace(const percpu& pc) const;
    bool irq_trace(const percpu& pc) const;
    void start_critical_timing(percpu& pc, const latency_entry& x, std::int64_t ip);
    void stop_critical_timing(percpu& pc, const latency_entry& x, std::int64_t ip);

    unsigned trace_type_;
    std::vector<cpu_state> cpus_;
};

// Around the idle loop's wait for an interrupt (default_idle_call): close
// the window open on this CPU, and reopen one afterwards if preemption or
// interrupts are still disabled. Cheap when no tracer watches.
void stop_critical_timings();
void start_critical_timings();

}  // namespace kp
