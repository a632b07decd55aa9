// The seed notes' diagram (seeds/002), run under each preemption model:
// TaskA (SCHED_NORMAL) makes a long syscall; an interrupt at 2.5 ms wakes
// TaskB (SCHED_FIFO 50). When does TaskB get the CPU?
#include <cstdio>

#include "kpreempt/kpreempt.h"

namespace {

kp::nsec_t run_diagram(kp::preempt_mode model) {
    kp::sim m({.nr_cpus = 1, .model = model});
    kp::task_struct& b = m.spawn({.name = "TaskB", .policy = kp::sched_policy::fifo, .priority = 50,
                                  .start_stopped = true},
                                 [] { kp::burn(kp::msecs(2)); });
    m.spawn({.name = "TaskA"}, [] {
        kp::burn(kp::msecs(1));
        kp::syscall_section sys;
        for (int i = 0; i < 10; ++i) {
            kp::burn(kp::msecs(1));
            kp::might_sleep();
        }
    });
    m.request_irq(1, "dev", [&b] {
        kp::burn(kp::usecs(100));
        kp::wake_up_process(b);
    });
    m.raise_irq(kp::usecs(2500), 0, 1);
    m.run(kp::secs(1));
    return b.first_run;
}

}  // namespace

int main() {
    std::printf("TaskA: 1 ms user, then a syscall of 10 x (1 ms + might_sleep)\n");
    std::printf("IRQ at 2.500 ms, handler 0.1 ms, wakes TaskB (SCHED_FIFO 50)\n\n");
    for (kp::preempt_mode mode : {kp::preempt_mode::none, kp::preempt_mode::voluntary, kp::preempt_mode::full}) {
        const kp::nsec_t t = run_diagram(mode);
        std::printf("  %-10s TaskB first runs at %7.3f ms\n", std::string(kp::preempt_mode_name(mode)).c_str(),
                    static_cast<double>(t) / 1e6);
    }
    return 0;
}
