// A workload's devices on either machine: interrupt lines with what each
// arrival does (hardirq work, an irq thread, a softirq, a tasklet, a work
// item, a wakeup), NMI sources and periodic jiffies timers.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kpreempt/kpreempt.h"
#include "workload/workload.h"

namespace kp::workload {

// Where a machine's device model takes a source that fires on its own:
// a line (irq, arrivals) and, where the machine has them, an NMI source
// (cpu, arrivals). Both before the machine runs.
struct device_ports {
    std::function<void(int irq, const irq_arrivals&)> line;
    std::function<void(int cpu, const irq_arrivals&)> nmi;  // empty: the machine has none
};

class device_set {
public:
    // wake(name, from_task): the "wakes" of a line (a resume).
    using wake_fn = std::function<void(const std::string&, bool from_task)>;
    // Throws workload_error for an NMI source when `ports` has none.
    device_set(kernel& k, const device_ports& ports, const workload& w, std::uint64_t seed, nsec_t limit,
               wake_fn wake);
    ~device_set();
    device_set(const device_set&) = delete;
    device_set& operator=(const device_set&) = delete;
    // What the run lost on purpose (items over a backlog), for the report.
    std::vector<std::string> warnings() const;

private:
    struct line;
    struct timer;
    void install_line(kernel& k, const device_ports& ports, const irq_source_def& d, int irq,
                      const irq_arrivals& a);
    void defer(line& l, bool in_thread);
    void serve_vector(unsigned nr);

    wake_fn wake_;
    std::vector<std::unique_ptr<line>> lines_;
    std::vector<std::unique_ptr<timer>> timers_;
    // Per CPU and vector: the cost of each item a handler queued for that
    // vector's softirq (packets for NET_RX, requests for BLOCK...).
    std::vector<std::array<std::deque<nsec_t>, NR_SOFTIRQS>> items_;
};

}  // namespace kp::workload
