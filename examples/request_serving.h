// A request-serving loop with heavy-tailed service times, the classic
// result of Shinjuku-style systems (docs/examples.md): when requests are
// served in kernel mode, a long one blocks the short ones queued behind it
// on its CPU until it returns to user mode (NONE); a preemptive kernel with
// a short slice (FULL, EEVDF's base_slice of tens of microseconds, a fast
// tick) cuts in and lets the short ones through.
//
// The same workload runs on either machine, kp::sim (virtual time, exact
// and deterministic) or kp::host (vCPU threads, real time):
//
//   - one "NIC" receive queue per vCPU (RSS), a device line with Poisson
//     arrivals routed to that vCPU. Its handler (hardirq) takes every
//     request that has arrived by now, stamped with its arrival instant as
//     a NIC's receive timestamp, queues them and wakes that many workers;
//   - workers_per_cpu SCHED_NORMAL worker tasks pinned to each vCPU. Each
//     request is one system call: wait for a request, take it, serve it
//     (burn, in kernel mode), done; then back to user mode to record it;
//   - latency = the end of service - the arrival instant.
//
// A request's service time is a function of (seed, queue, sequence
// number), so every model and both machines serve the same requests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kpreempt/arrivals.h"
#include "kpreempt/kpreempt.h"

namespace kp::examples {

struct serving_config {
    int cpus = 2;  // vCPUs, each with its own receive queue and workers
    int workers_per_cpu = 8;  // a preempted request holds its worker: enough for the short ones
    int hz = 10000;
    preempt_mode model = preempt_mode::full;
    nsec_t base_slice = 0;          // EEVDF's base slice; 0: Linux's default
    double rate_hz = 160000;        // arrivals per second, over all vCPUs (60% load on 2)
    nsec_t duration = msecs(1000);  // arrivals from `start` to start + duration
    nsec_t start = msecs(10);       // the first arrival (the host's vCPUs boot meanwhile)
    nsec_t short_service = usecs(5);
    nsec_t long_service = usecs(500);
    double long_fraction = 0.005;
    std::uint64_t seed = 1;
    std::size_t queue_capacity = 1 << 16;  // per receive queue; arrivals beyond it are dropped
};

// Mean service time: 7.5 us for 99.5% x 5 us + 0.5% x 500 us.
inline double mean_service_ns(const serving_config& c) {
    return (1 - c.long_fraction) * static_cast<double>(c.short_service) +
           c.long_fraction * static_cast<double>(c.long_service);
}

// The offered load per vCPU: arrivals x mean service / CPUs.
inline double offered_utilization(const serving_config& c) {
    return c.rate_hz / c.cpus * mean_service_ns(c) / 1e9;
}

struct latency_summary {
    std::size_t count = 0;
    nsec_t p50 = 0, p99 = 0, p999 = 0, max = 0;
};

struct serving_result {
    latency_summary short_requests;
    latency_summary long_requests;
    std::uint64_t dropped = 0;  // arrivals that found their queue full
    bool completed = false;     // every worker exited before the time limit
};

namespace detail {

// splitmix64: a request's service draw from (seed, queue, sequence).
inline std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

inline nsec_t service_of(const serving_config& c, int queue, std::uint64_t seq) {
    const std::uint64_t h = mix(c.seed ^ mix((static_cast<std::uint64_t>(queue) << 40) + seq));
    const double u = static_cast<double>(h >> 11) * 0x1.0p-53;  // uniform in [0, 1)
    return u < c.long_fraction ? c.long_service : c.short_service;
}

// The line's arrivals, as attached to the machine; each queue steps its own
// copy to know which requests have arrived by now.
inline irq_arrivals arrivals_of(const serving_config& c, int queue) {
    return {.start = c.start,
            .rate_hz = c.rate_hz / c.cpus,
            .stop = c.start + c.duration,
            .seed = mix(c.seed + static_cast<std::uint64_t>(queue) + 1)};
}

struct request {
    nsec_t arrival = 0;
    nsec_t service = 0;
};

struct record {
    nsec_t service = 0;
    nsec_t latency = 0;
};

// One vCPU's receive queue: a ring filled by the line's handler (hardirq on
// that vCPU) and drained by that vCPU's workers, under `lock` with
// interrupts off.
struct rx_queue {
    rx_queue(const serving_config& c, int index)
        : cfg(c), queue(index), arrivals(arrivals_of(c, index), 0), ring(c.queue_capacity) {}

    const serving_config& cfg;
    const int queue;
    spinlock_t lock;
    wait_queue_head workers;
    arrival_stream arrivals;
    std::vector<request> ring;
    std::size_t head = 0, tail = 0;  // taken, filled (counts; mod ring.size())
    std::uint64_t seq = 0;           // arrivals so far
    std::uint64_t dropped = 0;
    bool finished = false;  // the last arrival is queued

    // The handler: queue what has arrived by now, wake a worker for each.
    void receive() {
        const nsec_t now = this_kernel().arch().now();
        int arrived = 0;
        {
            spin_guard g{lock};  // hardirq: interrupts are already off
            for (; arrivals.next() <= now; arrivals.advance(), ++seq) {
                if (tail - head == ring.size()) {
                    ++dropped;
                    continue;
                }
                ring[tail++ % ring.size()] = {arrivals.next(), service_of(cfg, queue, seq)};
                ++arrived;
            }
            finished = arrivals.next() == KTIME_MAX;
        }
        if (finished) wake_up_all(workers);
        else if (arrived > 0) __wake_up(workers, TASK_NORMAL, arrived);
    }

    // In a worker's system call: the next request, or false once the last
    // one is taken. The condition takes the request under the lock, so that
    // no other worker of this vCPU can take it between the wakeup and here.
    bool take(request& r) {
        bool got = false;
        wait_event(
            workers,
            [&] {
                spin_irqsave_guard g{lock};
                if (head != tail) {
                    r = ring[head++ % ring.size()];
                    got = true;
                }
                return got || finished;
            },
            TASK_INTERRUPTIBLE, true);
        return got;
    }
};

// A worker: one system call per request (receive, serve, reply), then the
// record in user mode.
inline void worker_loop(rx_queue& q, std::vector<record>& out) {
    for (;;) {
        request r;
        nsec_t done = 0;
        {
            syscall_section sys;
            if (!q.take(r)) return;
            burn(r.service);
            done = this_kernel().arch().now();
        }
        out.push_back({r.service, done - r.arrival});
    }
}

// Nearest-rank percentiles of sorted latencies.
inline latency_summary summarize(std::vector<nsec_t>& v) {
    latency_summary s;
    s.count = v.size();
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    auto rank = [&v](double p) {  // the ceil(p * n)-th smallest
        const auto r = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
        return v[std::clamp<std::size_t>(r, 1, v.size()) - 1];
    };
    s.p50 = rank(0.50);
    s.p99 = rank(0.99);
    s.p999 = rank(0.999);
    s.max = v.back();
    return s;
}

}  // namespace detail

// Run the workload on a fresh machine of type Machine (kp::sim or kp::host).
template <class Machine>
serving_result run_serving(const serving_config& c) {
    kernel_config kc;
    kc.nr_cpus = c.cpus;
    kc.hz = c.hz;
    kc.model = c.model;
    kc.base_slice = c.base_slice;
    Machine m(kc);

    std::vector<std::unique_ptr<detail::rx_queue>> queues;
    std::vector<std::vector<detail::record>> records(static_cast<std::size_t>(c.cpus * c.workers_per_cpu));
    const auto expected = static_cast<std::size_t>(c.rate_hz * static_cast<double>(c.duration) / 1e9);
    for (int cpu = 0; cpu < c.cpus; ++cpu) {
        queues.push_back(std::make_unique<detail::rx_queue>(c, cpu));
        detail::rx_queue& q = *queues.back();
        const int irq = cpu;  // line n is vCPU n's receive queue
        m.request_irq(irq, "nic-rx" + std::to_string(cpu), [&q] { q.receive(); });
        cpumask on;
        on.set(static_cast<std::size_t>(cpu));
        irq_set_affinity(m.kern(), irq, on);
        m.machine().attach_device(irq, detail::arrivals_of(c, cpu));
        for (int w = 0; w < c.workers_per_cpu; ++w) {
            auto& out = records[static_cast<std::size_t>(cpu * c.workers_per_cpu + w)];
            out.reserve(2 * expected / records.size() + 64);
            m.spawn({.name = "worker" + std::to_string(cpu) + "." + std::to_string(w), .cpus = {cpu}, .cpu = cpu},
                    [&q, &out] { detail::worker_loop(q, out); });
        }
    }

    serving_result res;
    const auto why = m.run(c.start + c.duration + secs(10));
    res.completed = why == decltype(why)::all_exited;
    std::vector<nsec_t> short_lat, long_lat;
    for (const auto& per_worker : records)
        for (const detail::record& r : per_worker)
            (r.service == c.long_service ? long_lat : short_lat).push_back(r.latency);
    res.short_requests = detail::summarize(short_lat);
    res.long_requests = detail::summarize(long_lat);
    for (const auto& q : queues) res.dropped += q->dropped;
    return res;
}

}  // namespace kp::examples
