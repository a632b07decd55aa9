// Runs a workload on the simulated machine and collects what the reports
// need. Each task instance becomes a kernel task whose body walks the
// phases and events in file order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "workload/workload.h"

namespace kp::workload {

// Command-line overrides (they win over the file).
struct run_options {
    std::optional<preempt_mode> model;
    std::optional<int> cpus;
    std::optional<int> hz;
    std::optional<std::uint64_t> seed;
    std::optional<nsec_t> duration;
};

struct latency_stats {
    std::uint64_t count = 0;
    nsec_t min = 0, max = 0, p99 = 0;
    double mean = 0;
};

struct task_result {
    std::string name;
    int pid = 0;
    std::string policy;
    int priority = 0;
    std::optional<nsec_t> first_run;
    std::uint64_t runs = 0;  // times switched in
    latency_stats wakeup_latency;
    nsec_t runtime = 0;
    std::uint64_t nvcsw = 0, nivcsw = 0;
    bool exited = false;
};

struct cpu_result {
    nsec_t user = 0, system = 0, irq = 0, softirq = 0, idle = 0;
};

// One bar of the timeline: a task (or an irq) on a CPU over [start, end).
struct timeline_slice {
    int cpu;
    nsec_t start, end;
    int pid;          // -1: an interrupt handler
    std::string label;
    std::string point;  // the preemption point that ended the slice, if any
};

struct run_result {
    std::string file;
    preempt_mode model = preempt_mode::full;
    int cpus = 1;
    int hz = 1000;
    std::uint64_t seed = 0;
    nsec_t duration = 0;
    std::vector<task_result> tasks;
    std::vector<cpu_result> cpu;
    std::vector<timeline_slice> timeline;
    std::vector<std::string> warnings;
    std::vector<std::string> kernel_log;  // dmesg lines
};

// Throws workload_error for problems found while setting up.
run_result run_workload(const workload& w, const run_options& opt);

}  // namespace kp::workload
