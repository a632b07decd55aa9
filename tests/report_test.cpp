// The interrupt accounting of the reports (/proc/interrupts and
// /proc/softirqs style): collect_results reads it from the kernel after a
// run, format_summary prints it, format_json writes it.
//
// Machines here run kernel code directly through the API (jiffies timers,
// softirq handlers), which workload files cannot express; the command-line
// side is in kpreempt_cli_test.cpp. HZ 1000, zero costs: every figure is
// exact.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kpreempt/kpreempt.h"
#include "workload/json.h"
#include "workload/report.h"
#include "workload/stats.h"

namespace kp::workload {
namespace {

// A machine whose run is collected as the runner collects a workload's.
struct reported_sim {
    explicit reported_sim(const kernel_config& cfg) : m(cfg) { m.set_observer(&stats); }

    task_struct& spawn(const task_spec& spec, std::function<void()> body) {
        task_struct& t = m.spawn(spec, std::move(body));
        tasks.push_back(&t);
        return t;
    }

    run_result run(nsec_t limit) {
        m.run(limit);
        stats.finish(m.now());
        run_result r;
        r.file = "api";
        r.cpus = m.kern().nr_cpus();
        r.duration = m.now();
        collect_results(m.kern(), tasks, stats, r);
        return r;
    }

    stats_collector stats;  // before the machine: it is the machine's observer
    sim m;
    std::vector<task_struct*> tasks;
};

// The line of `text` that starts with `prefix` (without its newline), or "".
std::string line_starting(const std::string& text, const std::string& prefix) {
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t end = text.find('\n', at);
        const std::string line = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
        if (line.rfind(prefix, 0) == 0) return line;
        if (end == std::string::npos) break;
        at = end + 1;
    }
    return {};
}

// The whitespace-separated words of a line.
std::vector<std::string> words(const std::string& line) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while ((at = line.find_first_not_of(' ', at)) != std::string::npos) {
        const std::size_t end = line.find(' ', at);
        out.push_back(line.substr(at, end - at));
        at = end;
    }
    return out;
}

std::vector<std::int64_t> ints(const json::value& array) {
    std::vector<std::int64_t> out;
    for (const auto& v : array.items) out.push_back(v.integer);
    return out;
}

// A kernel thread on CPU 1 arms a jiffies timer whose callback burns 40 us,
// then msleeps 5 ms (a second jiffies timer, expiring at a later tick:
// bucket j+2 for the first, j+7 for the sleep), three times. Each due timer
// makes its tick raise TIMER_SOFTIRQ once: 6 runs on CPU 1, none on CPU 0,
// 120 us of TIMER softirq time (the wakeups cost nothing).
TEST(ReportAccounting, TimerSoftirqPerCpuCountAndTime) {
    reported_sim s({.nr_cpus = 2});
    timer_list t;
    t.function = [](timer_list&) { burn(usecs(40)); };
    s.spawn({.name = "armer", .cpus = {1}, .kthread = true, .cpu = 1}, [&t] {
        for (int i = 0; i < 3; ++i) {
            t.expires = get_jiffies() + 1;
            add_timer(t);
            msleep(5);
        }
    });
    const run_result r = s.run(secs(1));

    ASSERT_EQ(r.softirqs.size(), 10u);
    const char* names[] = {"HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"};
    for (std::size_t v = 0; v < 10; ++v) {
        EXPECT_EQ(r.softirqs[v].vector, static_cast<int>(v));
        EXPECT_EQ(r.softirqs[v].name, names[v]);
        if (v != TIMER_SOFTIRQ) {
            EXPECT_EQ(r.softirqs[v].count, (std::vector<std::uint64_t>{0, 0})) << names[v];
        }
    }
    EXPECT_EQ(r.softirqs[TIMER_SOFTIRQ].count, (std::vector<std::uint64_t>{0, 6}));
    EXPECT_EQ(r.softirqs[TIMER_SOFTIRQ].time, (std::vector<nsec_t>{0, usecs(120)}));
    EXPECT_EQ(r.cpu.at(1).softirq, usecs(120));  // the vector's time is the CPU's softirq time
    EXPECT_TRUE(r.interrupts.empty());

    const json::value doc = json::parse(format_json(r));
    const auto& timer = doc.find("softirqs")->items.at(1);
    EXPECT_EQ(timer.find("name")->str, "TIMER");
    EXPECT_EQ(ints(*timer.find("count_per_cpu")), (std::vector<std::int64_t>{0, 6}));
    EXPECT_EQ(ints(*timer.find("time_ns_per_cpu")), (std::vector<std::int64_t>{0, 120000}));

    const std::string out = format_summary(r);
    EXPECT_EQ(out.find("INTERRUPTS"), std::string::npos) << out;  // no line and no NMI: no table
    ASSERT_NE(out.find("\nSOFTIRQS\n"), std::string::npos) << out;
    EXPECT_EQ(words(line_starting(out, "   TIMER:")), (std::vector<std::string>{"TIMER:", "0", "6", "0.120"})) << out;
    EXPECT_EQ(words(line_starting(out, "      HI:")), (std::vector<std::string>{"HI:", "0", "0", "0.000"})) << out;
    EXPECT_NE(line_starting(out, "     RCU:"), "") << out;  // all ten vectors, as /proc/softirqs
    EXPECT_EQ(out.find("KSOFTIRQD"), std::string::npos) << out;  // nothing was handed to ksoftirqd
}

// A device line raising NET_RX whose handler re-raises itself, 15 runs of
// 10 us (as Softirq.TenRestartsThenKsoftirqd): the irq exit serves 10 rounds
// and the restart limit hands the other 5 (50 us) to ksoftirqd/0.
TEST(ReportAccounting, KsoftirqdShareAndRestartLimitHandoff) {
    reported_sim s({.nr_cpus = 1});
    s.spawn({.name = "sleeper", .kthread = true}, [] { msleep(5); });
    int runs = 0;
    open_softirq(s.m.kern(), NET_RX_SOFTIRQ, [&runs] {
        burn(usecs(10));
        if (++runs < 15) raise_softirq(NET_RX_SOFTIRQ);
    });
    s.m.request_irq(1, "nic", [] { raise_softirq_irqoff(NET_RX_SOFTIRQ); });
    s.m.raise_irq(usecs(500), 0, 1);
    const run_result r = s.run(msecs(3));

    ASSERT_EQ(r.cpu.size(), 1u);
    EXPECT_EQ(r.cpu[0].ksoftirqd, usecs(50));
    EXPECT_EQ(r.cpu[0].softirq_restart_limit, 1u);
    EXPECT_EQ(r.cpu[0].softirq_time_limit, 0u);
    EXPECT_EQ(r.cpu[0].softirq_need_resched, 0u);
    EXPECT_EQ(r.softirqs[NET_RX_SOFTIRQ].count, (std::vector<std::uint64_t>{15}));
    EXPECT_EQ(r.softirqs[NET_RX_SOFTIRQ].time, (std::vector<nsec_t>{usecs(150)}));
    ASSERT_EQ(r.interrupts.size(), 1u);
    EXPECT_EQ(r.interrupts[0].irq, 1);
    EXPECT_EQ(r.interrupts[0].name, "nic");
    EXPECT_EQ(r.interrupts[0].count, (std::vector<std::uint64_t>{1}));
    EXPECT_EQ(r.interrupts[0].time, (std::vector<nsec_t>{0}));  // raising costs nothing

    const json::value doc = json::parse(format_json(r));
    const json::value& cpu0 = doc.find("cpu")->items.at(0);
    EXPECT_EQ(cpu0.find("ksoftirqd_ns")->integer, 50000);
    const json::value& handoffs = *cpu0.find("ksoftirqd_handoffs");
    EXPECT_EQ(handoffs.find("restart_limit")->integer, 1);
    EXPECT_EQ(handoffs.find("time_limit")->integer, 0);
    EXPECT_EQ(handoffs.find("need_resched")->integer, 0);

    const std::string out = format_summary(r);
    EXPECT_EQ(words(line_starting(out, "  NET_RX:")), (std::vector<std::string>{"NET_RX:", "15", "0.150"})) << out;
    EXPECT_EQ(words(line_starting(out, "  1:")), (std::vector<std::string>{"1:", "1", "0.000", "nic"})) << out;
    EXPECT_EQ(words(line_starting(out, "NMI:")),
              (std::vector<std::string>{"NMI:", "0", "0.000", "Non-maskable", "interrupts"}))
        << out;
    const std::size_t header = out.find("\nCPU  ", out.find("\nSOFTIRQS\n"));
    ASSERT_NE(header, std::string::npos) << out;
    EXPECT_EQ(words(line_starting(out.substr(header + 1), "CPU ")),
              (std::vector<std::string>{"CPU", "KSOFTIRQD(ms)", "RESTART", "LIMIT", "TIME", "LIMIT", "NEED_RESCHED"}))
        << out;
    EXPECT_EQ(words(line_starting(out.substr(header + 1), "0 ")),
              (std::vector<std::string>{"0", "0.050", "1", "0", "0"}))
        << out;
}

// Above 8 CPUs the terminal tables have one TOTAL column; the JSON report
// keeps every CPU.
TEST(ReportAccounting, ManyCpusPrintTotalsOnly) {
    run_result r;
    r.file = "many";
    r.cpus = 12;
    r.cpu.resize(12);
    r.cpu[11].nmi_count = 2;
    r.cpu[11].nmi_time = usecs(3);
    r.cpu[5].ksoftirqd = usecs(7);
    r.cpu[5].softirq_time_limit = 1;
    irq_line_result line{4, "disk", std::vector<std::uint64_t>(12, 1), std::vector<nsec_t>(12, usecs(5))};
    r.interrupts.push_back(line);
    for (unsigned v = 0; v < NR_SOFTIRQS; ++v)
        r.softirqs.push_back({static_cast<int>(v), softirq_to_name[v], std::vector<std::uint64_t>(12, v),
                              std::vector<nsec_t>(12, 0)});
    const std::string out = format_summary(r);
    EXPECT_NE(out.find("INTERRUPTS (12 CPUs, totals)"), std::string::npos) << out;
    EXPECT_EQ(words(line_starting(out, "  4:")), (std::vector<std::string>{"4:", "12", "0.060", "disk"})) << out;
    EXPECT_EQ(words(line_starting(out, "NMI:"))[1], "2") << out;
    EXPECT_EQ(words(line_starting(out, "   TIMER:")), (std::vector<std::string>{"TIMER:", "12", "0.000"})) << out;
    EXPECT_EQ(out.find("CPU11"), std::string::npos) << out;
    // The ksoftirqd table lists only the CPUs with something in it.
    const std::string after = out.substr(out.find("KSOFTIRQD(ms)"));
    EXPECT_EQ(words(line_starting(after, "5 ")), (std::vector<std::string>{"5", "0.007", "0", "1", "0"})) << out;
    EXPECT_EQ(line_starting(after, "0 "), "") << out;
    EXPECT_EQ(line_starting(after, "11 "), "") << out;
    for (std::size_t at = out.find("\nINTERRUPTS"); at < out.size();) {  // the tables fit 100 columns
        const std::size_t end = out.find('\n', at);
        EXPECT_LE(end - at, 100u) << out.substr(at, end - at);
        at = end + 1;
    }

    const json::value doc = json::parse(format_json(r));
    EXPECT_EQ(ints(*doc.find("interrupts")->items.at(0).find("count_per_cpu")), std::vector<std::int64_t>(12, 1));
    EXPECT_EQ(doc.find("cpu")->items.at(11).find("nmi_count")->integer, 2);
    EXPECT_EQ(doc.find("cpu")->items.at(11).find("nmi_ns")->integer, 3000);
}

}  // namespace
}  // namespace kp::workload
