#include "arch/sim/sim_events.h"

#include <algorithm>
#include <cassert>

#include "kernel/sched/task.h"  // NR_CPUS

namespace kp {

sim_events::sim_events(int nr_cpus) : cpus_(static_cast<std::size_t>(nr_cpus)) {
    while (leaves_ < static_cast<std::size_t>(nr_cpus)) leaves_ *= 2;
    tree_.assign(2 * leaves_, tree_none);
}

// The clock starts at 0 and nothing is posted before now: times are not
// negative.
sim_events::tree_key sim_events::tree_key_of(key k) {
    static_assert(NR_CPUS <= 511, "cpu 511 is tree_none's");
    if (k == none) return tree_none;
    const nsec_t time = time_of(k);
    assert(time >= 0);
    const auto order = static_cast<std::uint64_t>(k);  // rank (bit 63), cpu (bits 54-62)
    const std::uint64_t t = std::min(static_cast<std::uint64_t>(time), tree_time_limit);
    return t << 10 | (order >> 63) << 9 | (order >> 54 & 511);
}

// Only for events 208 days or more ahead: the exact keys, CPU by CPU.
int sim_events::earliest_cpu_exact() const {
    int cpu = -1;
    for (std::size_t i = 0; i < cpus_.size(); ++i)
        if (cpus_[i].best != none && (cpu < 0 || cpus_[i].best < cpus_[static_cast<std::size_t>(cpu)].best))
            cpu = static_cast<int>(i);
    return cpu;
}

// Time first; the rest of the tie-break in one word, compared at once:
// rank (bit 63; 0: resume, 1: interrupt), cpu (bits 54-62), then the
// posting sequence number (bits 0-53).
sim_events::key sim_events::make_key(nsec_t time, int cpu, bool resume) {
    static_assert(NR_CPUS <= 512, "the cpu field of the order key has 9 bits");
    const std::uint64_t rank = resume ? 0 : 1;
    return make(time, rank << 63 | static_cast<std::uint64_t>(cpu) << 54 | (seq_++ & ((1ull << 54) - 1)));
}

void sim_events::drop(const key& k) {
    if (k != none) latest_dropped_ = std::max(latest_dropped_, time_of(k));
}

void sim_events::touch(int cpu) {
    cpu_events& c = cpus_[static_cast<std::size_t>(cpu)];
    if (c.dirty) return;
    c.dirty = true;
    dirty_.push_back(cpu);
}

void sim_events::post_resume(int cpu, nsec_t time) {
    cpu_events& c = cpus_[static_cast<std::size_t>(cpu)];
    drop(c.resume);
    c.resume = make_key(time, cpu, true);
    touch(cpu);
}

void sim_events::cancel_resume(int cpu) {
    cpu_events& c = cpus_[static_cast<std::size_t>(cpu)];
    drop(c.resume);
    c.resume = none;
    touch(cpu);
}

void sim_events::set_timer(int cpu, nsec_t time) {
    cpu_events& c = cpus_[static_cast<std::size_t>(cpu)];
    drop(c.timer);
    c.timer = time == KTIME_MAX ? none : make_key(time, cpu, false);
    touch(cpu);
}

void sim_events::post_ipi(int cpu, nsec_t time, std::uint64_t vector) {
    cpu_events& c = cpus_[static_cast<std::size_t>(cpu)];
    // A fixed latency after a clock that never goes back: posting order is
    // time order, so a FIFO is enough.
    assert(c.ipi_head == c.ipis.size() || time_of(c.ipis.back().k) <= time);
    c.ipis.push_back({make_key(time, cpu, false), vector});
    touch(cpu);
}

void sim_events::post_device(int cpu, nsec_t time, std::uint64_t line) {
    cpu_events& c = cpus_[static_cast<std::size_t>(cpu)];
    const queued q{make_key(time, cpu, false), line};
    auto at = std::upper_bound(c.devices.begin(), c.devices.end(), q,
                               [](const queued& a, const queued& b) { return a.k < b.k; });
    c.devices.insert(at, q);
    touch(cpu);
}

// Recompute a CPU's earliest event and replay its matches up the tree.
void sim_events::refresh(int cpu) {
    cpu_events& c = cpus_[static_cast<std::size_t>(cpu)];
    c.dirty = false;
    key best = c.resume;
    c.first = best == none ? kind::none : kind::resume;
    if (c.timer < best) best = c.timer, c.first = kind::timer;
    if (c.ipi_head < c.ipis.size() && c.ipis[c.ipi_head].k < best) best = c.ipis[c.ipi_head].k, c.first = kind::ipi;
    if (!c.devices.empty() && c.devices.front().k < best) best = c.devices.front().k, c.first = kind::device;
    c.best = best;
    // Replay this CPU's matches on the way up.
    std::size_t i = leaves_ + static_cast<std::size_t>(cpu);
    tree_key t = tree_key_of(best);
    tree_[i] = t;
    for (; i > 1; i /= 2) {
        const tree_key sibling = tree_[i ^ 1];
        if (sibling < t) t = sibling;
        tree_[i / 2] = t;
    }
}

void sim_events::refresh_dirty() {
    for (const int cpu : dirty_) refresh(cpu);
    dirty_.clear();
}

sim_events::event sim_events::pop() {
    flush();
    const int cpu = earliest_cpu();
    assert(cpu >= 0 && "pop from an empty sim_events");
    cpu_events& c = cpus_[static_cast<std::size_t>(cpu)];
    event ev{time_of(c.best), cpu, c.first, 0};
    switch (c.first) {
    case kind::none:
        assert(false && "pop from an empty sim_events");
        break;
    case kind::resume:
        c.resume = none;
        break;
    case kind::timer:
        c.timer = none;
        break;
    case kind::ipi:
        ev.arg = c.ipis[c.ipi_head++].arg;
        if (c.ipi_head == c.ipis.size()) c.ipis.clear(), c.ipi_head = 0;
        break;
    case kind::device:
        ev.arg = c.devices.front().arg;
        c.devices.erase(c.devices.begin());
        break;
    }
    touch(cpu);
    return ev;
}

}  // namespace kp
