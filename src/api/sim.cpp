#include "kpreempt/kpreempt.h"

#include <stdexcept>

#include "kernel/debug/debug.h"

namespace kp {

sim::sim(const kernel_config& cfg) : machine_(cfg) {}
sim::~sim() = default;

task_struct& sim::spawn(const task_spec& spec, std::function<void()> body) {
    task_params params;
    params.name = spec.name;
    params.policy = spec.policy;
    params.nice = spec.nice;
    params.rt_priority = spec.priority;
    params.kthread = spec.kthread;
    params.cpu = spec.cpu;
    params.counts_as_live = !spec.background;
    for (int c : spec.cpus) params.affinity.set(static_cast<std::size_t>(c));
    task_struct& p = kernel_clone(kern(), params, std::move(body));
    if (spec.start_stopped) leave_stopped(p);
    else wake_up_new_task(p);
    return p;
}

void sim::request_irq(int irq, std::string name, std::function<void()> handler) {
    const int err = kp::request_irq(kern(), irq, std::move(name), [h = std::move(handler)](int) {
        h();
        return irqreturn::handled;
    });
    if (err) throw std::invalid_argument("request_irq " + std::to_string(irq) + ": error " + std::to_string(err));
}

void sim::raise_irq(nsec_t at, int cpu, int irq) {
    if (irq < 0 || irq >= NR_IRQS) throw std::invalid_argument("irq " + std::to_string(irq) + " is not a line (0-63)");
    machine_.raise_irq(at, cpu, irq);
}

void sim::raise_nmi(nsec_t at, int cpu) { machine_.raise_nmi(at, cpu); }

sim_machine::stop_reason sim::run(nsec_t limit) { return machine_.run(limit); }

void burn(nsec_t ns) { this_kernel().arch().burn(ns); }

void might_sleep(std::source_location loc) {
    __might_sleep(loc);
    might_resched();
}

}  // namespace kp
