// The host machine: the kernel core on real CPUs. Each virtual CPU is a
// pthread (pinned to a host CPU where the host allows); tasks run on their
// own mmap'ed stacks, switched by the same routine as on the simulated
// machine. The clock is CLOCK_MONOTONIC; each vCPU's clockevent is a POSIX
// timer (timer_create with SIGEV_THREAD_ID) that signals that vCPU's
// thread; IPIs set the target's pending bits and signal it with tgkill; an
// idle vCPU sleeps on a futex.
//
// Interrupt masking costs no system call: local_irq_disable sets the CPU's
// soft flag (percpu::irqs_off), an interrupt that arrives meanwhile stays
// pending, and enabling replays it, as powerpc's lazy interrupt disabling
// does. The signal handler itself only marks interrupts pending.
//
// Where interrupts are taken (docs/host.md): at the points where the
// simulated machine takes them, polled by the vCPU (burn(), enabling
// interrupts, idle, lock spins), and, for a task's own code that never
// calls the kernel, asynchronously: the signal redirects the task into the
// kernel on its own stack (async_entry.h) at a safe point.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "arch/arch.h"
#include "arch/host/host_clock.h"
#include "kpreempt/arrivals.h"
#include "kpreempt/config.h"

namespace kp {

class kernel;

class host_machine final : public arch_machine {
public:
    explicit host_machine(const kernel_config& cfg);
    ~host_machine() override;
    host_machine(const host_machine&) = delete;
    host_machine& operator=(const host_machine&) = delete;

    kernel& kern() { return *kernel_; }

    enum class stop_reason { all_exited, time_limit };
    // Start the vCPU threads and run until every task created by
    // kernel_clone has exited or `limit` of real time has passed since the
    // machine was made; then stop the vCPUs (tasks still running are left
    // where they are, as the simulated machine leaves them) and join them.
    stop_reason run(nsec_t limit);
    // A device interrupt on line `irq`, from any thread: delivered to the
    // line's CPU (irq_chip_set_affinity), or latched while the line is masked.
    void raise_irq(int irq);
    // A device on line `irq` that fires on its own (before run()): the
    // machine's device thread raises it at each arrival, in real time.
    void attach_device(int irq, const irq_arrivals& arrivals);

    // arch_machine
    nsec_t now() const override;
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

    struct vcpu;  // host_machine.cpp
    // Take the calling vCPU's pending interrupts (the asynchronous entry).
    void take_pending_irqs();
    // The machine is stopping: the calling vCPU leaves its task for good.
    bool stopping() const { return stopping_.load(std::memory_order_relaxed); }
    void poll_stop();

private:
    void vcpu_main(int cpu);
    void device_main();
    // at_user_point: where a task's own code ran (percpu::irq_at_user_point).
    void deliver_pending(bool at_user_point);
    bool deliverable() const;
    void kick(int cpu);
    void mark_line_pending(int cpu, int irq);

    // The interrupt controller's view of a device line.
    struct line {
        int cpu = 0;
        bool masked = false;
        bool latched = false;  // arrived while masked
    };

    std::unique_ptr<kernel> kernel_;
    std::vector<std::unique_ptr<vcpu>> vcpus_;
    struct device {
        int irq;
        arrival_stream arrivals;
    };
    std::vector<device> devices_;
    std::thread device_thread_;
    std::mutex lines_lock_;
    std::vector<line> lines_;
    host_clock clock_;  // now() counts from the machine's construction
    std::atomic<bool> booted_{false};
    std::atomic<bool> stopping_{false};
};

}  // namespace kp
