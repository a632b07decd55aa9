// The workload syntax for devices (global.kpreempt.irqs / timers /
// threadirqs / ksoftirqd_defer): what it reads, what it refuses, and what
// each arrival does on the machine, with exact virtual times; and the
// softirq-storm example of examples/.
#include <gtest/gtest.h>

#include <algorithm>

#include "kernel/irq/softirq.h"
#include "workload/runner.h"
#include "workload/workload.h"

namespace kp::workload {
namespace {

std::string error_of(const std::string& text) {
    try {
        parse_workload(text, "w.json");
    } catch (const workload_error& e) {
        return e.what();
    }
    return "no error";
}

run_result run_text(const std::string& text, run_options opt = {}) {
    return run_workload(parse_workload(text, "w.json"), opt);
}

const task_result& task(const run_result& r, const std::string& name) {
    auto it = std::find_if(r.tasks.begin(), r.tasks.end(), [&](const task_result& t) { return t.name == name; });
    if (it == r.tasks.end()) throw std::runtime_error("no task " + name);
    return *it;
}

TEST(WorkloadDevices, ReadsEveryKey) {
    const workload w = parse_workload(R"({
        "global": {"kpreempt": {"threadirqs": true, "ksoftirqd_defer": true,
            "irqs": {
                "nic": {"affinity": [1, 0], "rate": 20000, "stop": 5000, "handler": 2, "thread": 10,
                        "softirq": "NET_RX", "softirq_cost": 3, "no_thread": false},
                "disk": {"cpu": 0, "period": 1000, "tasklet": 4, "tasklet_hi": true, "work": 20, "work_delay": 3000},
                "watchdog": {"cpu": 1, "period": 100000, "handler": 5, "nmi": true}},
            "timers": {"poll": {"cpu": 1, "start": 100, "period": 4000, "cost": 50}}}},
        "tasks": {"t": {"run": 1}}})",
                                      "w.json");
    const global_def& g = w.global;
    EXPECT_TRUE(g.threadirqs);
    EXPECT_TRUE(g.ksoftirqd_defer);
    ASSERT_EQ(g.irqs.size(), 3u);
    EXPECT_EQ(g.irqs[0].affinity, (std::vector<int>{1, 0}));
    EXPECT_EQ(g.irqs[0].cpu(), 1);
    EXPECT_EQ(g.irqs[0].arrivals.stop, msecs(5));
    EXPECT_EQ(*g.irqs[0].thread, usecs(10));
    EXPECT_EQ(g.irqs[0].softirq, static_cast<int>(NET_RX_SOFTIRQ));
    EXPECT_EQ(*g.irqs[1].tasklet, usecs(4));
    EXPECT_TRUE(g.irqs[1].tasklet_hi);
    EXPECT_EQ(g.irqs[1].work_delay, msecs(3));
    EXPECT_TRUE(g.irqs[2].nmi);
    ASSERT_EQ(g.timers.size(), 1u);
    EXPECT_EQ(g.timers[0].period, msecs(4));
}

TEST(WorkloadDevices, RefusesWhatItCannotDo) {
    auto irq = [](const std::string& body) {
        return error_of(R"({"global": {"kpreempt": {"irqs": {"x": {)" + body + R"(}}}}, "tasks": {"t": {"run": 1}}})");
    };
    EXPECT_EQ(irq(R"("period": 10, "softirq": "TIMER")"),
              "w.json:1:66: $.global.kpreempt.irqs.x.softirq: TIMER runs the kernel's timers: use \"timers\" for "
              "timer work");
    EXPECT_EQ(irq(R"("period": 10, "softirq": "NET")"),
              "w.json:1:66: $.global.kpreempt.irqs.x.softirq: unknown softirq 'NET' (NET_TX, NET_RX, BLOCK, "
              "IRQ_POLL, SCHED, HRTIMER, RCU)");
    EXPECT_EQ(irq(R"("period": 10, "softirq_cost": 3)"),
              "w.json:1:40: $.global.kpreempt.irqs.x: \"softirq_cost\" needs \"softirq\" (a vector name)");
    EXPECT_EQ(irq(R"("period": 10, "nmi": true, "thread": 3)"),
              "w.json:1:40: $.global.kpreempt.irqs.x: an NMI source has only cpu, arrivals and handler (an NMI "
              "handler cannot wake or defer work)");
    EXPECT_EQ(irq(R"("period": 10, "cpu": 0, "affinity": [1])"),
              "w.json:1:77: $.global.kpreempt.irqs.x.affinity: give \"cpu\" or \"affinity\", once");
    EXPECT_EQ(irq(R"("period": 10, "threaded": 3)"),
              "w.json:1:67: $.global.kpreempt.irqs.x.threaded: unknown key (cpu, affinity, start, stop, period, "
              "rate, burst, burst_gap, handler, thread, no_thread, softirq, softirq_cost, tasklet, tasklet_hi, "
              "work, work_delay, nmi, wakes)");
    EXPECT_EQ(error_of(R"({"global": {"kpreempt": {"timers": {"t": {"cost": 3}}}}, "tasks": {"t": {"run": 1}}})"),
              "w.json:1:42: $.global.kpreempt.timers.t: a timer needs \"period\" (µs, above 0)");
}

// One arrival at 1 ms, each deferral in turn: 10 us of hardirq, then 100 us
// in the given place (softirq, tasklet, irq thread, kworker). The only task
// runs 2 ms of work from 0, so the run ends at 2.11 ms whichever context did
// the 110 us on its CPU before it finished.
nsec_t runtime_end(const std::string& deferral) {
    const run_result r = run_text(R"({"global": {"kpreempt": {"irqs": {"dev": {"cpu": 0, "start": 1000, "stop": 1000,
        "period": 1000, "handler": 10, )" + deferral + R"(}}}}, "tasks": {"t": {"loop": 1, "run": 2000}}})");
    return r.duration;
}

TEST(WorkloadDevices, EachDeferralDoesItsWork) {
    EXPECT_EQ(runtime_end(R"("softirq": "BLOCK", "softirq_cost": 100)"), usecs(2110));
    EXPECT_EQ(runtime_end(R"("tasklet": 100)"), usecs(2110));
    EXPECT_EQ(runtime_end(R"("tasklet": 100, "tasklet_hi": true)"), usecs(2110));
    EXPECT_EQ(runtime_end(R"("thread": 100)"), usecs(2110));
    EXPECT_EQ(runtime_end(R"("work": 100)"), usecs(2110));
    EXPECT_EQ(runtime_end(R"("work": 100, "work_delay": 5000)"), usecs(2010));  // after t's end
}

// An NMI source every 1 ms from 0 (10 us each) and a 4 ms jiffies timer
// (100 us in the TIMER softirq) on the task's CPU.
TEST(WorkloadDevices, NmiSourceAndTimer) {
    const run_result nmi = run_text(R"({"global": {"kpreempt": {"irqs": {"wd": {"cpu": 0, "period": 1000,
        "handler": 10, "nmi": true}}}}, "tasks": {"t": {"loop": 1, "run": 2000}}})");
    EXPECT_EQ(nmi.duration, usecs(2030));  // NMIs at 0, 1 and 2 ms
    const run_result timer = run_text(R"({"global": {"kpreempt": {"timers": {"poll": {"period": 4000,
        "cost": 100}}}}, "tasks": {"t": {"loop": 1, "run": 10000}}})");
    EXPECT_EQ(timer.duration, usecs(10200));  // fired at 4 and 8 ms
}

// The example: during the storm the apps starve under 6.12's rules, and
// with ksoftirqd_defer (Linux 4.9-6.4) ksoftirqd takes a fair share only.
TEST(WorkloadDevices, SoftirqStormExample) {
    const workload w = load_workload(std::string(KP_SOURCE_DIR) + "/examples/softirq-storm.json");
    run_options defer;
    defer.ksoftirqd_defer = true;
    const run_result linux612 = run_workload(w, {});
    const run_result linux49 = run_workload(w, defer);
    const nsec_t apps612 = task(linux612, "app-0").runtime + task(linux612, "app-1").runtime;
    const nsec_t apps49 = task(linux49, "app-0").runtime + task(linux49, "app-1").runtime;
    // Outside the storm (500 ms, and the backlog's drain) the apps have the
    // CPU; inside it, 6.12 leaves them almost nothing.
    EXPECT_EQ(apps612, 439998000);
    EXPECT_EQ(apps49, 757638000);
    EXPECT_EQ(linux612.cpu[0].softirq, msecs(540));
    EXPECT_LT(linux49.cpu[0].softirq, msecs(230));
}

}  // namespace
}  // namespace kp::workload
