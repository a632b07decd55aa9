// The host machine: the kernel core on vCPU threads in real time. These
// tests assert properties (who ran first, that a task was preempted, that
// everything finished), never durations.
#include <gtest/gtest.h>

#include <atomic>

#include "kernel/irq/softirq.h"
#include "kpreempt/kpreempt.h"
#include "stack_where.h"
#include "test_util.h"

namespace kp {
namespace {

kernel_config host_config(int cpus, preempt_mode model) {
    kernel_config cfg;
    cfg.nr_cpus = cpus;
    cfg.model = model;
    return cfg;
}

TEST(Host, TwoUserModeBurnersShareOneVcpuByTickPreemption) {
    host m(host_config(1, preempt_mode::none));
    std::atomic<bool> a_done{false};
    std::atomic<int> a_done_when_b_started{-1};
    task_struct& a = m.spawn({.name = "a"}, [&] {
        burn(msecs(20));
        a_done.store(true);
    });
    task_struct& b = m.spawn({.name = "b"}, [&] {
        a_done_when_b_started.store(a_done.load() ? 1 : 0);
        burn(msecs(20));
    });
    EXPECT_EQ(m.run(secs(20)), host_machine::stop_reason::all_exited);
    // User mode is preemptible under every model: a tick's return to user
    // handed the CPU to b before a's 20 ms were done (EEVDF's slice is 3 ms).
    EXPECT_EQ(a_done_when_b_started.load(), 0);
    EXPECT_GT(a.nivcsw, 0u);
    EXPECT_GE(b.first_run, 0);
}

// Task A spends 30 ms of CPU inside a syscall section; B is runnable beside
// it on the same vCPU. Under NONE, B runs only once A has left the kernel;
// under FULL, the tick preempts A inside the section.
nsec_t b_first_run_after_section_end(preempt_mode model) {
    host m(host_config(1, model));
    std::atomic<nsec_t> section_end{-1};
    m.spawn({.name = "a"}, [&] {
        {
            syscall_section sys;
            burn(msecs(30));
            section_end.store(this_kernel().arch().now());
        }
    });
    task_struct& b = m.spawn({.name = "b"}, [] { burn(msecs(1)); });
    EXPECT_EQ(m.run(secs(20)), host_machine::stop_reason::all_exited);
    return b.first_run - section_end.load();
}

TEST(Host, KernelModeIsNotPreemptedUnderNoneButIsUnderFull) {
    EXPECT_GE(b_first_run_after_section_end(preempt_mode::none), 0);
    EXPECT_LT(b_first_run_after_section_end(preempt_mode::full), 0);
}

TEST(Host, SleepsWakeOnTheTimerAndTasksSpreadOverVcpus) {
    host m(host_config(2, preempt_mode::full));
    std::atomic<int> done{0};
    for (int i = 0; i < 4; ++i) {
        m.spawn({.name = "s" + std::to_string(i), .cpu = i % 2}, [&] {
            for (int j = 0; j < 5; ++j) {
                burn(usecs(200));
                syscall_section sys;
                msleep(2);
            }
            done.fetch_add(1);
        });
    }
    EXPECT_EQ(m.run(secs(20)), host_machine::stop_reason::all_exited);
    EXPECT_EQ(done.load(), 4);
}

// Tasks that take a kernel mutex from user mode, contended, on one and on
// two vCPUs. An interrupt that arrives meanwhile is taken when the mutex
// code enables interrupts again: that is kernel code, so it must not be
// treated as an interrupt from user mode (which would schedule there with
// preemption disabled: "BUG: scheduling while atomic"). The kernel log
// stays empty.
TEST(Host, MutexContentionFromUserModeLeavesTheKernelLogEmpty) {
    for (int cpus : {1, 2}) {
        host m(host_config(cpus, preempt_mode::none));
        static mutex mx;
        for (int i = 0; i < 8; ++i) {
            m.spawn({.name = "w" + std::to_string(i), .cpu = i % cpus}, [] {
                for (;;) {
                    burn(usecs(200));
                    mutex_lock(mx);
                    burn(usecs(100));
                    mutex_unlock(mx);
                    syscall_section sys;
                    hrtimer_sleep(usecs(500));
                }
            });
        }
        EXPECT_EQ(m.run(msecs(500)), host_machine::stop_reason::time_limit);
        EXPECT_EQ(m.log().dmesg(), "") << cpus << " vCPUs";
    }
}

// Tasks on two vCPUs create tasks while the machine runs (kernel_clone
// from a task); the machine waits for the children too.
TEST(Host, TasksSpawnedWhileRunningRunAndAreWaitedFor) {
    host m(host_config(2, preempt_mode::full));
    std::atomic<int> children_done{0};
    for (int parent = 0; parent < 2; ++parent) {
        m.spawn({.name = "parent" + std::to_string(parent), .cpu = parent}, [&, parent] {
            for (int i = 0; i < 50; ++i) {
                spawn_task(this_kernel(), {.name = "child", .cpu = (parent + i) % 2}, [&] {
                    burn(usecs(50));
                    children_done.fetch_add(1);
                });
                burn(usecs(20));
            }
        });
    }
    EXPECT_EQ(m.run(secs(20)), host_machine::stop_reason::all_exited);
    EXPECT_EQ(children_done.load(), 100);
    EXPECT_EQ(m.log().dmesg(), "");
}

TEST(Host, TimeLimitStopsTasksThatNeverEnd) {
    host m(host_config(2, preempt_mode::full));
    m.spawn({.name = "forever"}, [] {
        for (;;) burn(msecs(1));
    });
    EXPECT_EQ(m.run(msecs(50)), host_machine::stop_reason::time_limit);
}

TEST(Host, AttachedDeviceFiresInRealTimeAndStopsAtItsStop) {
    host m(host_config(1, preempt_mode::full));
    std::atomic<int> handled{0};
    m.request_irq(3, "tick-dev", [&] { handled.fetch_add(1); });
    m.machine().attach_device(3, {.start = msecs(1), .period = msecs(1), .stop = usecs(10500)});
    m.spawn({.name = "busy"}, [] { burn(msecs(20)); });
    EXPECT_EQ(m.run(secs(20)), host_machine::stop_reason::all_exited);
    // Ten arrivals; two that come while one is still pending merge into one
    // delivery, as on a real line.
    EXPECT_GE(handled.load(), 1);
    EXPECT_LE(handled.load(), 10);
}

// The per-vCPU irq stack, by the stack pointer: a line raised by the task
// itself is taken at its burn's next poll point, on the task's stack from
// user mode, on the irq stack from kernel mode, and the softirq served at
// that irq's exit stays where the handler was.
TEST(Host, HandlersFromKernelModeRunOnTheVcpusIrqStack) {
    host m(host_config(1, preempt_mode::full));
    std::atomic<int> step{0};  // 0: user mode, 1: kernel mode
    std::atomic<stack_where> handler[2] = {stack_where::elsewhere, stack_where::elsewhere};
    std::atomic<stack_where> net[2] = {stack_where::elsewhere, stack_where::elsewhere};
    m.request_irq(1, "dev", [&] {
        handler[step.load()].store(where_am_i());
        raise_softirq_irqoff(NET_RX_SOFTIRQ);
    });
    open_softirq(m.kern(), NET_RX_SOFTIRQ, [&] { net[step.load()].store(where_am_i()); });
    m.spawn({.name = "raiser"}, [&] {
        m.raise_irq(1);
        burn(msecs(1));
        step.store(1);
        syscall_section sys;
        m.raise_irq(1);
        burn(msecs(1));
    });
    EXPECT_EQ(m.run(secs(20)), host_machine::stop_reason::all_exited);
    EXPECT_EQ(handler[0].load(), stack_where::task);
    EXPECT_EQ(net[0].load(), stack_where::task);
    EXPECT_EQ(handler[1].load(), stack_where::irq);
    EXPECT_EQ(net[1].load(), stack_where::irq);
}

// The asynchronous entry (the signal on the sigaltstack, the redirect to
// the interrupted task's stack) ends on the irq stack too: a device firing
// while the only task burns in kernel mode, or while the vCPU idles, is
// handled there every time.
TEST(Host, AsynchronousDeviceInterruptsRunOnTheVcpusIrqStack) {
    host m(host_config(1, preempt_mode::full));
    std::atomic<int> on_irq{0}, off_irq{0};
    m.request_irq(3, "tick-dev", [&] { (where_am_i() == stack_where::irq ? on_irq : off_irq).fetch_add(1); });
    m.machine().attach_device(3, {.start = msecs(1), .period = msecs(1), .stop = usecs(10500)});
    m.spawn({.name = "kbusy"}, [] {
        syscall_section sys;
        burn(msecs(20));
    });
    EXPECT_EQ(m.run(secs(20)), host_machine::stop_reason::all_exited);
    EXPECT_GE(on_irq.load(), 1);
    EXPECT_EQ(off_irq.load(), 0);
}

// The seed notes' diagram on one real vCPU. The device interrupt is raised
// by TaskA itself in the middle of its third syscall chunk, so that where it
// lands does not depend on the host's timing: full takes TaskB at that irq's
// return, voluntary at the chunk's might_sleep(), none at the return to
// user after the last chunk. "When" TaskB first runs is measured in TaskA's
// own progress (half-chunks done), which real time's noise cannot reorder.
struct host_diagram {
    int a_progress_at_b;  // TaskA's half-chunks done when TaskB first ran
    preempt_point point;  // how TaskA lost the CPU to TaskB
};

host_diagram run_host_diagram(preempt_mode model) {
    host m(host_config(1, model));
    switch_recorder rec;  // one vCPU: one thread calls it
    m.set_observer(&rec);
    std::atomic<int> progress{0};
    std::atomic<int> progress_at_b{-1};
    task_struct& b = m.spawn({.name = "TaskB", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true},
                             [&] {
                                 progress_at_b.store(progress.load());
                                 burn(msecs(2));
                             });
    m.spawn({.name = "TaskA"}, [&] {
        burn(msecs(1));
        syscall_section sys;
        for (int i = 0; i < 10; ++i) {
            burn(usecs(500));
            progress.fetch_add(1);
            if (i == 2) m.raise_irq(1);
            burn(usecs(500));
            progress.fetch_add(1);
            might_sleep();
        }
    });
    m.request_irq(1, "dev", [&b] {
        burn(usecs(100));
        wake_up_process(b);
    });
    EXPECT_EQ(m.run(secs(20)), host_machine::stop_reason::all_exited);
    const switch_record* to_b = rec.first_switch_to(b.pid);
    EXPECT_NE(to_b, nullptr);
    return {progress_at_b.load(), to_b ? to_b->point : preempt_point::none};
}

TEST(Host, SeedDiagramTaskBRunsInTheModelsOrder) {
    const host_diagram full = run_host_diagram(preempt_mode::full);
    const host_diagram voluntary = run_host_diagram(preempt_mode::voluntary);
    const host_diagram none = run_host_diagram(preempt_mode::none);
    EXPECT_EQ(full.point, preempt_point::irq_exit);
    EXPECT_EQ(voluntary.point, preempt_point::might_resched);
    EXPECT_EQ(none.point, preempt_point::return_to_user);
    EXPECT_EQ(full.a_progress_at_b, 5);        // inside the third chunk
    EXPECT_EQ(voluntary.a_progress_at_b, 6);   // at its end
    EXPECT_EQ(none.a_progress_at_b, 20);       // after the syscall
}

}  // namespace
}  // namespace kp
