// The simulated machine: N virtual CPUs on one host thread, a virtual
// nanosecond clock and one event queue (sim_events.h: per-CPU slots).
//
// Tasks are user-level threads with real stacks. Exactly one CPU runs at a
// time; it runs until its current task does CPU work (burn), waits idle or
// spins, which parks the CPU and returns to the event loop. The loop then
// takes the earliest event: a CPU whose work is done resumes; an interrupt
// is delivered at its exact instant inside the interrupted burn, on the
// interrupted stack, and the rest of the work continues afterwards (or later,
// if the task was preempted).
//
// Deterministic tie-break, for events at the same instant:
//   1. a CPU finishing work (or resuming from a spin) before any interrupt,
//   2. then lower CPU number first,
//   3. then the order in which events were posted.
// Nothing else decides the order: no wall clock, no hashing, no threads.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "arch/arch.h"
#include "arch/sim/sim_events.h"
#include "arch/stack.h"
#include "kpreempt/arrivals.h"
#include "kpreempt/config.h"

namespace kp {

class kernel;

class sim_machine final : public arch_machine {
public:
    explicit sim_machine(const kernel_config& cfg);
    ~sim_machine() override;
    sim_machine(const sim_machine&) = delete;
    sim_machine& operator=(const sim_machine&) = delete;

    kernel& kern() { return *kernel_; }

    // Post a device interrupt message for line `irq` to `cpu` at virtual
    // time `at` (an arrival on a masked line waits for the unmask).
    void raise_irq(nsec_t at, int cpu, int irq);
    // A device on line `irq`: it fires on its own (arrivals), each arrival
    // routed to the line's CPU (irq_chip_set_affinity) at that instant.
    void attach_device(int irq, const irq_arrivals& arrivals);
    // NMIs on `cpu`: one at `at`, or a source such as a perf NMI watchdog.
    void raise_nmi(nsec_t at, int cpu);
    void attach_nmi_source(int cpu, const irq_arrivals& arrivals);

    enum class stop_reason { all_exited, time_limit, no_events };
    // Run until every task created by kernel_clone has exited, or the clock
    // would pass `limit`.
    stop_reason run(nsec_t limit);
    // Events taken by the loop (superseded resumes and clockevents are
    // dropped when superseded, not counted).
    std::uint64_t events_processed() const { return events_; }
    // Interrupts taken by the CPUs (not merely posted), by kind.
    struct irq_counts {
        std::uint64_t timer = 0;   // local timer (the tick and every hrtimer)
        std::uint64_t ipi = 0;     // reschedule and call-function IPIs
        std::uint64_t device = 0;  // device lines
        std::uint64_t nmi = 0;
    };
    irq_counts interrupts_delivered() const { return irqs_; }

    // arch_machine
    nsec_t now() const override { return now_; }
    void set_next_event(int cpu, nsec_t expires) override;
    void send_ipi(int cpu, irq_vector v) override;
    void burn(nsec_t ns) override;
    void cpu_idle() override;
    void replay_masked_irqs() override;
    void irq_chip_set_affinity(int irq, int cpu) override;
    void irq_chip_mask(int irq) override;
    void irq_chip_unmask(int irq) override;
    void cpu_wait_event() override;
    void cpu_send_event() override;
    void switch_to(task_struct& prev, task_struct& next, bool prev_dies) override;

private:
    enum class cpu_state : std::uint8_t { running, burning, idle, spinning };

    struct sim_cpu {
        cpu_state state = cpu_state::running;
        std::uint32_t pending_vectors = 0;  // system vectors, bit per irq_vector slot
        std::vector<int> pending_lines;     // device lines, sorted
        bool nmi_pending = false;
        bool in_nmi = false;  // NMIs blocked until the NMI handler returns
    };

    // The interrupt controller's view of a device line.
    struct sim_line {
        int cpu = 0;           // where it is delivered
        bool masked = false;
        bool latched = false;  // arrived while masked
    };

    // An arrival process: a device line, or NMIs on one CPU.
    struct sim_source {
        arrival_stream arrivals;
        int irq = -1;  // -1: NMIs
        int cpu = 0;   // NMIs: their CPU
    };

    stop_reason run_events(nsec_t limit);
    void boot();
    void handle(const sim_events::event& ev);
    void try_deliver(int cpu);
    void enter_cpu(int cpu);
    void park(cpu_state state);
    bool has_pending(const sim_cpu& c) const;
    // at_user_point: where a task's own code ran (percpu::irq_at_user_point).
    void deliver_pending(bool at_user_point);
    bool deliverable(const sim_cpu& c, int cpu) const;
    void mark_line_pending(int cpu, int irq);
    void line_arrival(int cpu, int irq);
    void source_fired(std::size_t index);
    void post_source(std::size_t index);
    sim_cpu& here();

    std::unique_ptr<kernel> kernel_;
    std::vector<sim_cpu> cpus_;
    std::vector<sim_line> lines_;
    std::vector<sim_source> sources_;
    sim_events events_queue_;
    std::uint64_t events_ = 0;
    irq_counts irqs_;
    nsec_t now_ = 0;
    nsec_t ipi_latency_ = 0;
    int spinning_ = 0;
    bool booted_ = false;
    stack_context loop_ctx_;
};

}  // namespace kp
