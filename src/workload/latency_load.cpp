#include "workload/latency_load.h"

#include "kernel/irq/softirq.h"

namespace kp::workload {

namespace {

event timed(ev type, const char* key, nsec_t ns) {
    event e;
    e.type = type;
    e.key = key;
    e.path = "--load kernel-hog";
    e.ns = ns;
    return e;
}

task_def kernel_hog_on(int cpu) {
    event syscall = timed(ev::kp_syscall, "kp_syscall", 0);
    syscall.loop = 20;
    syscall.body = {timed(ev::run, "run", usecs(1000)), timed(ev::kp_might_sleep, "kp_might_sleep", 0)};
    phase ph;
    ph.name = "phase0";
    ph.events = {std::move(syscall), timed(ev::run, "run", usecs(50))};
    task_def t;
    t.name = "kernel_hog/" + std::to_string(cpu);
    t.path = "--load kernel-hog";
    t.loop = -1;
    t.a.policy = sched_policy::normal;
    t.a.priority = 0;  // nice 0
    t.a.cpus = std::vector<int>{cpu};
    t.phases.push_back(std::move(ph));
    return t;
}

}  // namespace

workload kernel_hog_load(const std::vector<int>& cpus) {
    workload w;
    w.file = "kernel-hog";
    for (int cpu : cpus) w.tasks.push_back(kernel_hog_on(cpu));
    return w;
}

workload softirq_storm_load(const std::vector<int>& cpus) {
    workload w;
    w.file = "softirq-storm";
    for (std::size_t i = 0; i < cpus.size(); ++i) {
        irq_source_def nic;
        nic.name = "eth" + std::to_string(i);
        nic.path = "--load softirq-storm: " + nic.name;
        nic.affinity = {cpus[i]};
        nic.arrivals.period = usecs(50);
        nic.handler = usecs(2);
        nic.softirq = NET_RX_SOFTIRQ;
        nic.softirq_cost = usecs(60);
        w.global.irqs.push_back(std::move(nic));
    }
    return w;
}

void add_load(workload& into, workload&& more, const std::string& what) {
    for (task_def& t : more.tasks) {
        for (const task_def& have : into.tasks)
            if (have.name == t.name)
                throw workload_error(what + ": a second task named '" + t.name + "' (from " + into.file + ")");
        into.tasks.push_back(std::move(t));
    }
    for (irq_source_def& d : more.global.irqs) into.global.irqs.push_back(std::move(d));
    for (timer_def& t : more.global.timers) into.global.timers.push_back(std::move(t));
    for (std::string& warning : more.warnings) into.warnings.push_back(std::move(warning));
    into.file = into.file.empty() ? more.file : into.file + "+" + more.file;
}

}  // namespace kp::workload
