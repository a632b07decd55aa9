// The latency tracers' common part (kernel/trace/trace.c: tracing_thresh,
// tracing_max_latency, update_max_tr; trace_irqsoff.c report_latency).
//
// A latency tracer is a trace_probe: it watches tracepoints, times a
// window (an interrupts-off section, a wakeup until the switch-in), and
// when a window beats the maximum keeps a snapshot of it: the entries
// recorded on its CPU between its start and its end, which report() prints
// in the kernel's latency format (tracing/latency_format.h).
//
// Linux snapshots by swapping the whole ring buffer into max_buffer; ours
// keeps its own small buffer of the current window per CPU, so a window's
// trace exists whether or not the trace_array records anything.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/trace/trace.h"
#include "kpreempt/config.h"
#include "kpreempt/time.h"

namespace kp {

class kernel;
struct task_struct;

// A line of a latency trace: a trace event, or one of the tracers' own
// entries (Linux's TRACE_FN, TRACE_WAKE and TRACE_CTX).
enum class latency_entry_kind : std::uint8_t {
    event,           // `e` is the tracepoint's entry
    function,        // "ip <-parent": e.arg[0] ip, e.arg[1] parent (code addresses)
    wakeup,          // ctx_switch_entry "  +": who woke whom
    context_switch,  // ctx_switch_entry "==>": prev switched out for next
};

// ctx_switch_entry: the wakeup tracers' record of a wakeup or a switch.
struct ctxwake_fields {
    int prev_pid = 0, prev_prio = 0;
    char prev_state = 'R';  // task_index_to_char: "RSDTtXZPI"
    int next_cpu = 0;
    int next_pid = 0, next_prio = 0;
    char next_state = 'R';
};

struct latency_entry {
    latency_entry_kind kind = latency_entry_kind::event;
    trace_entry e;      // context (time, cpu, pid, flags, depth); for an event, its fields
    ctxwake_fields cw;  // wakeup, context_switch
};

// One window's entries, oldest first. Only its CPU writes it. Overwrites its
// oldest entries once full, as the ring buffer does, and counts them.
class latency_window {
public:
    explicit latency_window(std::size_t capacity) : capacity_(capacity) {}
    void clear();
    void add(const latency_entry& x);
    std::vector<latency_entry> entries() const;
    std::uint64_t written() const { return written_; }

private:
    std::size_t capacity_;
    std::vector<latency_entry> slots_;  // grows to capacity_, then wraps
    std::uint64_t written_ = 0;
};

// A window that beat the maximum (or the threshold): max_buffer with its
// trace_array_cpu fields (saved_latency, critical_start/end, the task).
struct latency_snapshot {
    nsec_t latency = 0;     // saved_latency
    nsec_t time_start = 0;  // max_buffer.time_start: the window's start
    int cpu = 0;
    std::int64_t critical_start = 0;  // code addresses; 0 for the wakeup tracers,
    std::int64_t critical_end = 0;    // which print no started/ended lines
    preempt_mode model = preempt_mode::full;
    // The task that saw the latency: current at the end for the irqsoff
    // family, the wakee for the wakeup tracers.
    std::string comm;
    int pid = 0;
    long nice = 0, policy = 0, rt_priority = 0;
    std::vector<latency_entry> entries;
    std::uint64_t written = 0;  // entries the window saw (more than kept if it overflowed)
};

class latency_tracer : public trace_probe {
public:
    static constexpr std::size_t default_window_capacity = 4096;
    static constexpr std::size_t max_kept_snapshots = 256;  // threshold mode

    ~latency_tracer() override;
    latency_tracer(const latency_tracer&) = delete;
    latency_tracer& operator=(const latency_tracer&) = delete;

    const std::string& name() const { return name_; }
    // Start watching `k` (and reset every measurement); detach before `k` goes.
    void attach(kernel& k);
    void detach();

    // tracing_thresh, in ns (the file is in us). 0: keep only a new maximum;
    // else record every window of at least this much.
    void set_tracing_thresh(nsec_t ns) { thresh_ = ns; }
    nsec_t tracing_thresh() const { return thresh_; }
    // tracing_max_latency. As in Linux, in threshold mode it is the latest
    // window recorded, not necessarily the longest.
    nsec_t tracing_max_latency() const { return max_latency_; }
    // What was recorded, oldest first: the maximum's snapshot (at most one),
    // or each window above the threshold (the first max_kept_snapshots).
    const std::vector<latency_snapshot>& snapshots() const { return snapshots_; }
    std::uint64_t snapshots_dropped() const { return dropped_; }

    // The report: each snapshot in the latency format with its header, as
    // tracefs's `trace` file prints the max buffer.
    std::string report(kernel& k) const;

    std::uint64_t events() const override { return needed_events() | window_events_; }

protected:
    latency_tracer(std::string name, std::uint64_t window_events, std::size_t window_capacity);
    // The events the tracer's logic needs, whatever the window keeps.
    virtual std::uint64_t needed_events() const = 0;
    // Forget every window in progress; `nr_cpus` CPUs from now on.
    virtual void reset(int nr_cpus) = 0;

    kernel* kern() const { return k_; }
    bool keeps(const trace_entry& e) const { return window_events_ & trace_bit(e.type); }
    std::size_t window_capacity() const { return window_capacity_; }
    // report_latency(): does a window of `delta` count?
    bool report_latency(nsec_t delta) const { return thresh_ ? delta >= thresh_ : delta > max_latency_; }
    // Under the max lock: re-check (another CPU may have beaten it), then
    // take `s` as the new maximum (or record it, in threshold mode).
    void update_max_tr(latency_snapshot&& s);

private:
    std::string name_;
    std::uint64_t window_events_;
    std::size_t window_capacity_;
    kernel* k_ = nullptr;
    nsec_t thresh_ = 0;
    nsec_t max_latency_ = 0;
    std::vector<latency_snapshot> snapshots_;
    std::uint64_t dropped_ = 0;
    std::mutex max_lock_;  // max_trace_lock: CPUs may end windows at once
};

// The tracers by name: irqsoff, preemptoff, preemptirqsoff, wakeup,
// wakeup_rt. Null for another name.
std::unique_ptr<latency_tracer> make_latency_tracer(std::string_view name);
const std::vector<std::string_view>& latency_tracer_names();

// The task fields of a snapshot (nice, policy, rt_priority as Linux's max_data).
void snapshot_task(latency_snapshot& s, const task_struct& t);

}  // namespace kp
