#include "kpreempt/kpreempt.h"

#include <stdexcept>

#include "kernel/debug/debug.h"

namespace kp {

sim::sim(const kernel_config& cfg) : machine_(cfg) {}
sim::~sim() = default;

task_struct& sim::spawn(const task_spec& spec, std::function<void()> body) {
    return spawn_task(kern(), spec, std::move(body));
}

void sim::request_irq(int irq, std::string name, std::function<void()> handler) {
    request_device_irq(kern(), irq, std::move(name), std::move(handler));
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
