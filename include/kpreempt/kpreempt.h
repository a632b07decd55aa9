// kpreempt's C++ API: build a simulated machine, spawn tasks, run.
//
//   kp::sim m({.nr_cpus = 1, .model = kp::preempt_mode::voluntary});
//   m.spawn({.name = "worker"}, [] {
//       kp::burn(kp::msecs(1));              // user-mode CPU work
//       kp::syscall_section sys;             // now in the kernel
//       for (int i = 0; i < 10; ++i) { kp::burn(kp::msecs(1)); kp::might_sleep(); }
//   });
//   m.run(kp::secs(1));
//
// Inside a task body, the kernel's own functions work on the current task:
// preempt_disable/enable, spin_lock, mutex_lock, wait_event, complete,
// msleep, schedule_timeout, cond_resched, might_sleep, set_current_state...
#pragma once

#include <functional>
#include <source_location>
#include <string>
#include <vector>

#include "arch/host/host_machine.h"
#include "arch/sim/sim_machine.h"
#include "kernel/entry/entry.h"
#include "kernel/fork.h"
#include "kernel/irq/bottom_half.h"
#include "kernel/irq/irq.h"
#include "kernel/irq/nmi.h"
#include "kernel/irq/tasklet.h"
#include "kernel/locking/spinlock.h"
#include "kernel/locking/wait.h"
#include "kernel/preempt/preempt.h"
#include "kernel/sched/core.h"
#include "kernel/signal.h"
#include "kernel/time/timer.h"
#include "kpreempt/config.h"
#include "kpreempt/log.h"
#include "kpreempt/observer.h"
#include "kpreempt/time.h"

namespace kp {

struct task_spec {
    std::string name = "task";
    sched_policy policy = sched_policy::normal;
    int nice = 0;
    int priority = 0;          // rt priority 1..99 for fifo / rr
    std::vector<int> cpus;     // allowed CPUs; empty = all
    bool kthread = false;      // a kernel thread: always in kernel mode, no mm
    bool start_stopped = false;  // created blocked; runs when woken (wake_up_process)
    int cpu = 0;               // where it is first placed (if allowed)
    // A load beside what is measured: run() does not wait for it to exit.
    bool background = false;
};

// Create a task on machine `k` and make it runnable (or leave it stopped).
task_struct& spawn_task(kernel& k, const task_spec& spec, std::function<void()> body);
// A device line and its handler (hardirq context); throws on a taken line.
void request_device_irq(kernel& k, int irq, std::string name, std::function<void()> handler);

// A simulated machine with its kernel.
class sim {
public:
    explicit sim(const kernel_config& cfg = {});
    ~sim();
    sim(const sim&) = delete;
    sim& operator=(const sim&) = delete;

    task_struct& spawn(const task_spec& spec, std::function<void()> body);
    // A device interrupt line and its handler (runs in hardirq context).
    void request_irq(int irq, std::string name, std::function<void()> handler);
    void raise_irq(nsec_t at, int cpu, int irq);
    void raise_nmi(nsec_t at, int cpu);
    sim_machine::stop_reason run(nsec_t limit = secs(3600));

    nsec_t now() const { return machine_.now(); }
    kernel& kern() { return machine_.kern(); }
    sim_machine& machine() { return machine_; }
    const kernel_log& log() { return machine_.kern().log; }
    void set_observer(sched_observer* o) { machine_.kern().observer = o; }

private:
    sim_machine machine_;
};

// The same kernel on the host's CPUs: vCPU threads, real time, real CPU
// work (docs/host.md). Spawn the tasks, then run() once.
class host {
public:
    explicit host(const kernel_config& cfg = {}) : machine_(cfg) {}
    task_struct& spawn(const task_spec& spec, std::function<void()> body) {
        return spawn_task(kern(), spec, std::move(body));
    }
    void request_irq(int irq, std::string name, std::function<void()> handler) {
        request_device_irq(kern(), irq, std::move(name), std::move(handler));
    }
    // From any thread, or from a task: the line's interrupt, now.
    void raise_irq(int irq) { machine_.raise_irq(irq); }
    void set_observer(sched_observer* o) { machine_.kern().observer = o; }
    host_machine::stop_reason run(nsec_t limit = secs(3600)) { return machine_.run(limit); }
    nsec_t now() const { return machine_.now(); }
    kernel& kern() { return machine_.kern(); }
    host_machine& machine() { return machine_; }
    const kernel_log& log() { return machine_.kern().log; }

private:
    host_machine machine_;
};

// CPU work of the current task, in its current mode (user or kernel).
void burn(nsec_t ns);
// might_sleep(): the debug check, then the voluntary preemption point.
void might_sleep(std::source_location loc = std::source_location::current());

}  // namespace kp
