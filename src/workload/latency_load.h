// The loads `kpreempt latency --load` names, built as workloads on the
// CPUs being measured, and the merge of several loads into one.
#pragma once

#include <string>
#include <vector>

#include "workload/workload.h"

namespace kp::workload {

// kernel-hog: on each CPU a SCHED_NORMAL task "kernel_hog/N" that loops over
// a 20 ms syscall of CPU work with a might_sleep() every 1 ms, then 50 us in
// user mode (examples/rt-vs-kernel-hog.json's kernel_hog, one per CPU).
workload kernel_hog_load(const std::vector<int>& cpus);

// softirq-storm: on each CPU a network card "ethN" (N counting from 0)
// interrupting every 50 us with a 2 us handler and 60 us of NET_RX work per
// packet (examples/softirq-storm.json's eth0), for the whole run.
workload softirq_storm_load(const std::vector<int>& cpus);

// Adds `more`'s tasks, device lines, timers and warnings to `into` (a task
// name used twice is a workload_error naming `what`). Global settings stay
// `into`'s: the built-in loads have none.
void add_load(workload& into, workload&& more, const std::string& what);

}  // namespace kp::workload
