// Runs a workload on either machine (the simulated one, or the host's
// CPUs: docs/host.md) and collects what the reports need. Each task
// instance becomes a kernel task whose body walks the phases and events in
// file order.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "workload/workload.h"

namespace kp {
class kernel;
}

namespace kp::workload {

// Which machine runs the kernel: the simulated one (virtual time,
// deterministic) or the host's (vCPU threads, real time).
enum class backend_kind { sim, host };

// Command-line overrides (they win over the file).
struct run_options {
    backend_kind backend = backend_kind::sim;
    std::optional<preempt_mode> model;
    std::optional<int> cpus;
    std::optional<int> hz;
    std::optional<std::uint64_t> seed;
    std::optional<nsec_t> duration;
    std::optional<bool> threadirqs;
    std::optional<bool> ksoftirqd_defer;
    // Tasks a command puts beside the workload's (kpreempt latency's
    // measuring threads), created first. With them the workload is a
    // background load: the run ends when these have exited (or at the
    // duration), whether or not the workload's own tasks have. Called on
    // the machine's kernel before run(), on either backend.
    std::function<void(kernel&)> measure;
    // Tracing (docs/tracing.md): the events to record (a trace_bit() mask;
    // 0: none), the ring of each CPU in entries, and how to print the
    // buffers when the run ends (default: ftrace text).
    std::uint64_t trace_events = 0;
    std::size_t trace_buffer = std::size_t{1} << 18;
    std::function<std::string(kernel&)> trace_format;
    // A latency tracer watching the run (docs/tracing.md: irqsoff,
    // preemptoff, preemptirqsoff, wakeup, wakeup_rt; empty: none), and its
    // tracing_thresh (0: keep only the longest window).
    std::string latency_tracer;
    // Count the call paths into these functions (callpath_functions()).
    std::vector<std::string> callpaths;
    nsec_t tracing_thresh = 0;
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
    std::uint64_t nmi_count = 0;  // NMIs taken (/proc/interrupts "NMI")
    nsec_t nmi_time = 0;          // time in NMI handlers (inside the other buckets)
    nsec_t ksoftirqd = 0;         // the part of `softirq` served by ksoftirqd
    // Softirq processing that ended by waking ksoftirqd, by what ended it
    // (handle_softirqs: MAX_SOFTIRQ_RESTART rounds, MAX_SOFTIRQ_TIME, need_resched()).
    std::uint64_t softirq_restart_limit = 0, softirq_time_limit = 0, softirq_need_resched = 0;
};

// One device interrupt line, as a row of /proc/interrupts.
struct irq_line_result {
    int irq = 0;
    std::string name;
    std::vector<std::uint64_t> count;  // per CPU: handler runs
    std::vector<nsec_t> time;          // per CPU: hardirq time in the handler
};

// One softirq vector, as a row of /proc/softirqs.
struct softirq_result {
    int vector = 0;                    // HI = 0 ... RCU = 9
    std::string name;                  // "HI", "TIMER", ...
    std::vector<std::uint64_t> count;  // per CPU: handler runs
    std::vector<nsec_t> time;          // per CPU: softirq time in the handler
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
    backend_kind backend = backend_kind::sim;
    preempt_mode model = preempt_mode::full;
    int cpus = 1;
    int hz = 1000;
    std::uint64_t seed = 0;
    nsec_t duration = 0;  // virtual time, or real time on the host
    std::vector<task_result> tasks;
    std::vector<cpu_result> cpu;
    std::vector<irq_line_result> interrupts;  // requested (or counted) lines, by irq number
    std::vector<softirq_result> softirqs;     // all ten vectors, in Linux's order
    std::vector<timeline_slice> timeline;
    std::vector<std::string> warnings;
    std::vector<std::string> kernel_log;  // dmesg lines
    // The printed trace buffers (run_options::trace_events), and how many
    // entries were recorded and how many of them the rings overwrote.
    std::string trace;
    std::uint64_t trace_written = 0, trace_overwritten = 0;
    // The latency tracer's report in the kernel's latency format
    // (run_options::latency_tracer), and its tracing_max_latency.
    std::string latency_report;
    nsec_t tracing_max_latency = 0;
    // The call-path counts in bpftrace's printed form (run_options::callpaths).
    std::string callpaths;
};

// Throws workload_error for problems found while setting up, and for what
// the chosen machine cannot run (an NMI source on the host).
run_result run_workload(const workload& w, const run_options& opt);
// The CPU count a machine needs for every CPU the workload names (at least 1).
int cpus_named(const workload& w);

}  // namespace kp::workload
