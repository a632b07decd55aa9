// Helpers shared by the scenario tests.
#pragma once

#include <string>
#include <vector>

#include "kpreempt/kpreempt.h"
#include "kpreempt/observer.h"

namespace kp {

// Records every context switch (copying the names) for later assertions.
struct switch_record {
    nsec_t time;
    int cpu;
    int prev_pid;
    std::string prev_comm;
    unsigned prev_state;
    int next_pid;
    std::string next_comm;
    bool preempt;
    preempt_point point;
};

class switch_recorder : public sched_observer {
public:
    void on_switch(const sched_switch_event& e) override {
        switches.push_back({e.time, e.cpu, e.prev_pid, std::string(e.prev_comm), e.prev_state, e.next_pid,
                            std::string(e.next_comm), e.preempt, e.point});
    }
    void on_wakeup(const sched_wakeup_event& e) override { wakeups.push_back(e); }

    const switch_record* first_switch_to(int pid) const {
        for (const auto& s : switches)
            if (s.next_pid == pid) return &s;
        return nullptr;
    }

    std::vector<switch_record> switches;
    std::vector<sched_wakeup_event> wakeups;
};

// The seed notes' diagram (seeds/002) on machine `m` (1 CPU): TaskA burns
// 1 ms in user mode, then a syscall of 10 x (1 ms + might_sleep()); a device
// interrupt at 2.5 ms runs a 0.1 ms handler that wakes TaskB (SCHED_FIFO 50,
// stopped until then), which burns 2 ms.
struct seed_diagram {
    task_struct& a;
    task_struct& b;
};

inline seed_diagram spawn_seed_diagram(sim& m) {
    task_struct& b = m.spawn({.name = "TaskB", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true},
                             [] { burn(msecs(2)); });
    task_struct& a = m.spawn({.name = "TaskA"}, [] {
        burn(msecs(1));
        syscall_section sys;
        for (int i = 0; i < 10; ++i) {
            burn(msecs(1));
            might_sleep();
        }
    });
    m.request_irq(1, "dev", [&b] {
        burn(usecs(100));
        wake_up_process(b);
    });
    m.raise_irq(usecs(2500), 0, 1);
    return {a, b};
}

}  // namespace kp
