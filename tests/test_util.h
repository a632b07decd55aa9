// Helpers shared by the scenario tests.
#pragma once

#include <string>
#include <vector>

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

}  // namespace kp
