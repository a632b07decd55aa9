// A kernel's trace buffers as Chrome / Perfetto trace-event JSON, to open in
// ui.perfetto.dev or chrome://tracing (docs/tracing.md, "Perfetto JSON").
//
// Tracks:
//   process "CPUs": a thread per CPU, "CPU n". A slice per task run, named
//     by its comm, from sched_switch to sched_switch; irq handler ("irq N:
//     name") and softirq ("NET_RX") slices nested inside; instants for each
//     wakeup and each preemption taken; counters "CPU n nr_running" and
//     "CPU n preempt_depth".
//   process "Tasks": a thread per task (tid = pid), named by its comm, with
//     its runs ("Running on CPU n"), its waits ("Runnable (woken)",
//     "Runnable (preempted)") and its migrations.
//   Flow arrows from each sched_wakeup to the run it caused.
//
// Every slice is a complete event ("X"); there are no B/E pairs to balance.
// Times are µs with exactly three decimals, written from integer ns.
// "otherData" holds the model, CPUs, HZ and each ring's written and
// overwritten entry counts; an overwritten ring also gets a warning there
// and an instant on its CPU's track.
#pragma once

#include <string>

namespace kp {

class kernel;

std::string format_perfetto_json(kernel& k);

}  // namespace kp
