// Resident memory of many blocked tasks on the host machine
// (docs/performance.md): `count` tasks with `stack_kib` stacks each run
// once, enter the kernel and block on one completion; the last to arrive
// reads VmRSS with all the others blocked, then releases them all.
#include <atomic>
#include <cstdio>
#include <string>

#include "benches.h"
#include "common.h"
#include "kpreempt/kpreempt.h"

namespace kpbench {

void bench_tasks(const tasks_options& o) {
    const long rss_start = proc_status_kib("VmRSS");
    kp::kernel_config cfg;
    cfg.nr_cpus = 1;
    cfg.model = kp::preempt_mode::full;
    cfg.stack_size = static_cast<std::size_t>(o.stack_kib) * 1024;
    long rss_blocked = -1;
    {
        kp::host m(cfg);
        kp::completion all_blocked;
        kp::init_completion(all_blocked);
        std::atomic<long> arrived{0};
        for (long i = 0; i < o.count; ++i) {
            char name[24];
            std::snprintf(name, sizeof name, "t%ld", i);
            m.spawn({.name = name}, [&] {
                kp::syscall_section sys;
                if (arrived.fetch_add(1) + 1 == o.count) {
                    rss_blocked = proc_status_kib("VmRSS");
                    kp::complete_all(all_blocked);
                } else {
                    kp::wait_for_completion(all_blocked);
                }
            });
        }
        const long rss_spawned = proc_status_kib("VmRSS");
        const std::int64_t t0 = monotonic_ns();
        const bool done = m.run(kp::secs(600)) == kp::host_machine::stop_reason::all_exited;
        result("tasks.count", static_cast<double>(o.count));
        result("tasks.stack_kib", static_cast<double>(o.stack_kib));
        result("tasks.all_exited", done ? 1 : 0);
        result("tasks.run_s", static_cast<double>(monotonic_ns() - t0) * 1e-9);
        result("tasks.rss_spawned_kib", static_cast<double>(rss_spawned));
    }
    result("tasks.rss_start_kib", static_cast<double>(rss_start));
    result("tasks.rss_all_blocked_kib", static_cast<double>(rss_blocked));
    result("tasks.vm_hwm_kib", static_cast<double>(proc_status_kib("VmHWM")));
    result("tasks.per_task_kib", static_cast<double>(rss_blocked - rss_start) / static_cast<double>(o.count));
}

}  // namespace kpbench
