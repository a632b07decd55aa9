// What both machines' API classes do the same way (kpreempt.h).
#include <stdexcept>

#include "kpreempt/kpreempt.h"

namespace kp {

task_struct& spawn_task(kernel& k, const task_spec& spec, std::function<void()> body) {
    task_params params;
    params.name = spec.name;
    params.policy = spec.policy;
    params.nice = spec.nice;
    params.rt_priority = spec.priority;
    params.kthread = spec.kthread;
    params.cpu = spec.cpu;
    params.counts_as_live = !spec.background;
    for (int c : spec.cpus) params.affinity.set(static_cast<std::size_t>(c));
    task_struct& p = kernel_clone(k, params, std::move(body));
    if (spec.start_stopped) leave_stopped(p);
    else wake_up_new_task(p);
    return p;
}

void request_device_irq(kernel& k, int irq, std::string name, std::function<void()> handler) {
    const int err = kp::request_irq(k, irq, std::move(name), [h = std::move(handler)](int) {
        h();
        return irqreturn::handled;
    });
    if (err) throw std::invalid_argument("request_irq " + std::to_string(irq) + ": error " + std::to_string(err));
}

}  // namespace kp
