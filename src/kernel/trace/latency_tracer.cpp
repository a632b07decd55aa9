#include "kernel/trace/latency_tracer.h"

#include <array>
#include <cassert>

#include "kernel/kernel.h"
#include "kernel/trace/trace_irqsoff.h"
#include "kernel/trace/trace_sched_wakeup.h"
#include "tracing/latency_format.h"

namespace kp {

void latency_window::clear() {
    slots_.clear();
    written_ = 0;
}

void latency_window::add(const latency_entry& x) {
    if (capacity_ == 0) return;
    if (slots_.size() < capacity_) slots_.push_back(x);
    else slots_[static_cast<std::size_t>(written_ % capacity_)] = x;
    ++written_;
}

std::vector<latency_entry> latency_window::entries() const {
    if (slots_.size() < capacity_) return slots_;
    // Full: the oldest kept entry is the one the next add overwrites.
    const std::size_t head = static_cast<std::size_t>(written_ % capacity_);
    std::vector<latency_entry> out(slots_.begin() + static_cast<std::ptrdiff_t>(head), slots_.end());
    out.insert(out.end(), slots_.begin(), slots_.begin() + static_cast<std::ptrdiff_t>(head));
    return out;
}

latency_tracer::latency_tracer(std::string name, std::uint64_t window_events, std::size_t window_capacity)
    : name_(std::move(name)), window_events_(window_events & TRACE_ALL_EVENTS), window_capacity_(window_capacity) {}

latency_tracer::~latency_tracer() { detach(); }

void latency_tracer::attach(kernel& k) {
    detach();
    k_ = &k;
    max_latency_ = 0;
    snapshots_.clear();
    dropped_ = 0;
    reset(k.nr_cpus());
    k.trace.add_probe(k, this);
}

void latency_tracer::detach() {
    if (!k_) return;
    k_->trace.remove_probe(*k_, this);
    k_ = nullptr;
}

void latency_tracer::update_max_tr(latency_snapshot&& s) {
    const std::lock_guard<std::mutex> guard(max_lock_);
    if (!report_latency(s.latency)) return;  // another CPU got there first
    max_latency_ = s.latency;
    if (!thresh_) {
        snapshots_.assign(1, std::move(s));
        return;
    }
    if (snapshots_.size() < max_kept_snapshots) snapshots_.push_back(std::move(s));
    else ++dropped_;
}

std::string latency_tracer::report(kernel& k) const { return format_latency_report(k, *this); }

void snapshot_task(latency_snapshot& s, const task_struct& t) {
    s.comm = t.comm;
    s.pid = t.pid;
    s.nice = t.static_prio - 20 - MAX_RT_PRIO;  // as __update_max_tr, whatever the class
    s.policy = static_cast<long>(t.policy);
    s.rt_priority = t.rt_priority;
}

const std::vector<std::string_view>& latency_tracer_names() {
    static const std::vector<std::string_view> names = {"irqsoff", "preemptoff", "preemptirqsoff", "wakeup",
                                                        "wakeup_rt"};
    return names;
}

std::unique_ptr<latency_tracer> make_latency_tracer(std::string_view name) {
    if (name == "irqsoff") return std::make_unique<irqsoff_tracer>(irqsoff_tracer::irqs_off);
    if (name == "preemptoff") return std::make_unique<irqsoff_tracer>(irqsoff_tracer::preempt_off);
    if (name == "preemptirqsoff")
        return std::make_unique<irqsoff_tracer>(irqsoff_tracer::irqs_off | irqsoff_tracer::preempt_off);
    if (name == "wakeup") return std::make_unique<wakeup_tracer>(wakeup_tracer::wakees::any_class);
    if (name == "wakeup_rt") return std::make_unique<wakeup_tracer>(wakeup_tracer::wakees::rt_only);
    return nullptr;
}

}  // namespace kp
