// The simulated machine's pending events, kept per CPU.
//
// A CPU has at most one pending resume (the end of its current burn or a
// wake from a spin) and at most one clockevent, so those are two slots that
// a new post overwrites; IPIs arrive in posting order (a fixed latency after
// a non-decreasing clock), so they are a FIFO; device interrupts, rare and
// posted for any time, are a short sorted list. Each CPU's earliest event
// is then the key of a tournament tree over the CPUs, so taking the next
// event costs one walk up the tree instead of a heap of every event posted,
// and a superseded or cancelled event is simply gone instead of lingering
// as a stale heap entry.
//
// The order is the one documented in sim_machine.h: time, then resumes
// before interrupts, then CPU number, then posting order. All of it but the
// time is one word, as the order key of the previous single heap.
#pragma once

#include <cstdint>
#include <vector>

#include "kpreempt/time.h"

namespace kp {

class sim_events {
public:
    enum class kind : std::uint8_t { none, resume, timer, ipi, device };

    struct event {
        nsec_t time = KTIME_MAX;
        int cpu = -1;
        kind what = kind::none;
        std::uint64_t arg = 0;  // ipi: the vector; device: the line
    };

    explicit sim_events(int nr_cpus);

    // The resume slot: a new resume replaces a pending one.
    void post_resume(int cpu, nsec_t time);
    void cancel_resume(int cpu);
    // The clockevent slot; KTIME_MAX disarms it.
    void set_timer(int cpu, nsec_t time);
    void post_ipi(int cpu, nsec_t time, std::uint64_t vector);
    void post_device(int cpu, nsec_t time, std::uint64_t line);

    // The earliest pending event (what == kind::none when there is none).
    nsec_t next_time() {
        flush();
        const int cpu = earliest_cpu();
        return cpu < 0 ? KTIME_MAX : time_of(cpus_[static_cast<std::size_t>(cpu)].best);
    }
    bool empty() {
        flush();
        return tree_[1] == tree_none;
    }
    // Remove and return the earliest pending event.
    event pop();

    // The latest time of any event that was superseded or cancelled while
    // pending: the single heap this replaces kept such entries until their
    // time, which run() still honours when nothing else is left.
    nsec_t latest_dropped() const { return latest_dropped_; }

private:
    // The time (sign bit flipped, so unsigned order is signed order) in the
    // high half, the order word in the low half: one 128-bit compare.
    __extension__ typedef unsigned __int128 key;
    static constexpr key none = ~key{0};  // nothing pending
    static key make(nsec_t time, std::uint64_t order) {
        return key{static_cast<std::uint64_t>(time) ^ (1ull << 63)} << 64 | order;
    }
    static nsec_t time_of(key k) { return static_cast<nsec_t>(static_cast<std::uint64_t>(k >> 64) ^ (1ull << 63)); }
    struct queued {
        key k;
        std::uint64_t arg;
    };
    struct cpu_events {
        key resume = none;
        key timer = none;
        std::vector<queued> ipis;  // FIFO from ipi_head
        std::size_t ipi_head = 0;
        std::vector<queued> devices;  // sorted by key
        key best = none;              // the earliest of the above
        kind first = kind::none;      // which of them holds it
        bool dirty = false;
    };

    // The tree orders CPUs by their earliest keys. Between different CPUs
    // the posting sequence never decides, so a tree key is one word: time,
    // rank, cpu. Times from 2^54 ns (208 days) on share one value, and a
    // root holding it is resolved by a scan of the exact keys.
    using tree_key = std::uint64_t;
    static constexpr tree_key tree_none = ~tree_key{0};  // cpu 511: no CPU has it
    static constexpr std::uint64_t tree_time_limit = (1ull << 54) - 1;
    static tree_key tree_key_of(key k);
    int earliest_cpu() const {  // -1 when nothing is pending
        const tree_key root = tree_[1];
        if (root == tree_none) return -1;
        if (root >> 10 == tree_time_limit) [[unlikely]]
            return earliest_cpu_exact();
        return static_cast<int>(root & 511);
    }
    int earliest_cpu_exact() const;

    key make_key(nsec_t time, int cpu, bool resume);
    void drop(const key& k);
    void touch(int cpu);
    void refresh(int cpu);
    void flush() {
        if (!dirty_.empty()) refresh_dirty();
    }
    void refresh_dirty();

    std::vector<cpu_events> cpus_;
    // A tournament tree: leaf leaves_ + cpu holds tree_key_of that CPU's
    // earliest event (leaves past the last CPU hold tree_none), each inner
    // node the earlier of its children, tree_[1] the earliest of all. A key
    // names its CPU, so the nodes need nothing else and a replay reads one
    // sibling per level.
    std::vector<tree_key> tree_;
    std::vector<int> dirty_;      // CPUs whose events changed since the last flush
    std::size_t leaves_ = 1;
    std::uint64_t seq_ = 0;
    nsec_t latest_dropped_ = -1;
};

}  // namespace kp
