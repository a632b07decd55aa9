#include "arch/sim/sim_events.h"

#include <algorithm>
#include <cassert>

#include "kernel/sched/task.h"  // NR_CPUS

namespace kp {

sim_events::sim_events(int nr_cpus) : cpus_(static_cast<std::size_t>(nr_cpus)) {
    while (leaves_ < static_cast<std::size_t>(nr_cpus)) leaves_ *= 2;
    keys_.assign(static_cast<std::size_t>(nr_cpus) + 1, none);
    tree_.assign(2 * leaves_, nr_cpus);
    for (int cpu = 0; cpu < nr_cpus; ++cpu) tree_[leaves_ + static_cast<std::size_t>(cpu)] = cpu;
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
    assert(c.ipi_head == c.ipis.size() || c.ipis.back().k.time <= time);
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
    keys_[static_cast<std::size_t>(cpu)] = best;
    // Replay this CPU's matches on the way up.
    for (std::size_t i = (leaves_ + static_cast<std::size_t>(cpu)) / 2; i >= 1; i /= 2) {
        const int a = tree_[2 * i];
        const int b = tree_[2 * i + 1];
        tree_[i] = keys_[static_cast<std::size_t>(b)] < keys_[static_cast<std::size_t>(a)] ? b : a;
    }
}

void sim_events::refresh_dirty() {
    for (const int cpu : dirty_) refresh(cpu);
    dirty_.clear();
}

sim_events::event sim_events::pop() {
    flush();
    const int cpu = tree_[1];
    cpu_events& c = cpus_[static_cast<std::size_t>(cpu)];
    event ev{time_of(keys_[static_cast<std::size_t>(cpu)]), cpu, c.first, 0};
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
