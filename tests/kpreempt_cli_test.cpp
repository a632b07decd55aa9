// The kpreempt command, run as a user runs it: reports, the comparison
// table, determinism, exit codes and error messages, and rt-app's own
// example files.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "cli_util.h"
#include "workload/json.h"

namespace {

namespace fs = std::filesystem;

using result = kp_test::cli_result;
using kp_test::slurp;
result kpreempt(const std::string& args) { return kp_test::run_kpreempt(args); }

fs::path write_temp(const std::string& name, const std::string& text) {
    const fs::path p = fs::path(testing::TempDir()) / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
}

const std::string seed_file = std::string(KP_SOURCE_DIR) + "/examples/seed-diagram.json";

const kp::json::value* task_named(const kp::json::value& report, const std::string& name) {
    for (const auto& t : report.find("tasks")->items)
        if (t.find("name")->str == name) return &t;
    return nullptr;
}

TEST(KpreemptCli, SeedDiagramReportsTaskBFirstRunPerModel) {
    const std::pair<const char*, std::int64_t> expected[] = {
        {"full", 2600000}, {"voluntary", 3100000}, {"none", 11100000}};
    for (const auto& [model, first_run] : expected) {
        const fs::path report = fs::path(testing::TempDir()) / (std::string("seed-") + model + ".json");
        const result r = kpreempt("run " + seed_file + " --model " + model + " --report " + report.string());
        ASSERT_EQ(r.status, 0) << r.out;
        const kp::json::value doc = kp::json::parse(slurp(report));
        EXPECT_EQ(doc.find("model")->str, model);
        EXPECT_EQ(doc.find("cpus")->integer, 1);
        const kp::json::value* b = task_named(doc, "TaskB");
        ASSERT_NE(b, nullptr);
        EXPECT_EQ(b->find("first_run_ns")->integer, first_run) << model;
        EXPECT_EQ(b->find("wakeup_latency_ns")->find("max")->integer, first_run - 2600000) << model;
        const kp::json::value* cpu0 = &doc.find("cpu")->items.at(0);
        const std::int64_t sum = cpu0->find("user_ns")->integer + cpu0->find("system_ns")->integer +
                                 cpu0->find("irq_ns")->integer + cpu0->find("softirq_ns")->integer +
                                 cpu0->find("idle_ns")->integer;
        EXPECT_EQ(sum, doc.find("duration_ns")->integer);
        EXPECT_EQ(cpu0->find("irq_ns")->integer, 100000);
    }
}

TEST(KpreemptCli, CompareShowsAllModelsInOneTable) {
    const result r = kpreempt("compare " + seed_file + " --models none,voluntary,full");
    ASSERT_EQ(r.status, 0) << r.out;
    const auto header = r.out.find("none");
    ASSERT_NE(header, std::string::npos);
    EXPECT_LT(header, r.out.find("voluntary"));
    EXPECT_LT(r.out.find("voluntary"), r.out.find("full"));
    const auto row = r.out.find("TaskB first run (ms)");
    ASSERT_NE(row, std::string::npos);
    const std::string line = r.out.substr(row, r.out.find('\n', row) - row);
    const auto at_none = line.find("11.100"), at_vol = line.find("3.100"), at_full = line.find("2.600");
    ASSERT_NE(at_none, std::string::npos) << line;
    ASSERT_NE(at_vol, std::string::npos) << line;
    ASSERT_NE(at_full, std::string::npos) << line;
    EXPECT_LT(at_none, at_vol);
    EXPECT_LT(at_vol, at_full);
}

TEST(KpreemptCli, TimelineMarksThePreemptionPoint) {
    const result r = kpreempt("run " + seed_file + " --model voluntary --timeline");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("cpu0 |"), std::string::npos);
    EXPECT_NE(r.out.find("^ cpu0 3.100 ms: TaskA preempted at might_resched"), std::string::npos) << r.out;
}

const char* poisson_workload = R"({
  "global": {"duration": 1, "kpreempt": {"cpus": 2, "irqs": {"nic": {"cpu": 0, "rate": 5000, "handler": 20, "wakes": "rx"}}}},
  "tasks": {
    "rx": {"priority": -5, "loop": -1, "suspend": "", "run": 50},
    "hog": {"instance": 2, "loop": -1, "kp_syscall": {"loop": 4, "run": 500, "kp_cond_resched": ""}, "sleep": 100}
  }})";

TEST(KpreemptCli, SameFileAndSeedGiveAByteIdenticalReport) {
    const fs::path w = write_temp("poisson.json", poisson_workload);
    const fs::path r1 = fs::path(testing::TempDir()) / "p1.json";
    const fs::path r2 = fs::path(testing::TempDir()) / "p2.json";
    const fs::path r3 = fs::path(testing::TempDir()) / "p3.json";
    ASSERT_EQ(kpreempt("run " + w.string() + " --seed 7 --report " + r1.string()).status, 0);
    ASSERT_EQ(kpreempt("run " + w.string() + " --seed 7 --report " + r2.string()).status, 0);
    ASSERT_EQ(kpreempt("run " + w.string() + " --seed 8 --report " + r3.string()).status, 0);
    EXPECT_EQ(slurp(r1), slurp(r2));
    EXPECT_NE(slurp(r1), slurp(r3));  // the seed does drive the interrupt arrivals
    EXPECT_GT(kp::json::parse(slurp(r1)).find("cpu")->items.at(0).find("irq_ns")->integer, 0);
}

TEST(KpreemptCli, ExitCodesAndMessages) {
    EXPECT_EQ(kpreempt("--help").status, 0);
    EXPECT_EQ(kpreempt("run --help").status, 0);
    EXPECT_EQ(kpreempt("compare --help").status, 0);

    result r = kpreempt("");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find("missing command"), std::string::npos);
    r = kpreempt("frobnicate x.json");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find("unknown command 'frobnicate'"), std::string::npos);
    r = kpreempt("run " + seed_file + " --model eager");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find("--model: unknown model 'eager'"), std::string::npos);
    r = kpreempt("run " + seed_file + " --cpus 0");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find("--cpus: expected an integer from 1 to 256, got '0'"), std::string::npos);
    r = kpreempt("run /nonexistent.json");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find("/nonexistent.json: cannot open the file"), std::string::npos);
    const fs::path bad = write_temp("bad.json", "{\n  \"tasks\": {\n    \"t\": {\"run\": 10,}\n  },\n  oops\n}\n");
    r = kpreempt("run " + bad.string());
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find(bad.string() + ":5:3: syntax error: expected a key in double quotes or '}'"),
              std::string::npos)
        << r.out;
    const fs::path cpus = write_temp("cpus.json", R"({"tasks": {"t": {"cpus": [3], "run": 10}}})");
    r = kpreempt("run " + cpus.string() + " --cpus 2");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find(cpus.string() + ":1:17: $.tasks.t.cpus: none of these CPUs exists (the machine has 2)"),
              std::string::npos)
        << r.out;
}

// Each kind of bad input, through the command: exit code 2 and a message
// naming the file, the line and column, and the JSON path.
TEST(KpreemptCli, BadInputEndsWithExitCode2AndThePlace) {
    const std::pair<const char*, const char*> cases[] = {
        {R"({"tasks": {"t": {"run": 10, "teleport": 5}}})", ":1:41: $.tasks.t.teleport: unknown event or task property"},
        {R"({"tasks": {"t": {"run": 10, "kp_warp": 1}}})", ":1:40: $.tasks.t.kp_warp: unknown kpreempt extension"},
        {R"({"tasks": {"t": {"fork": "t"}}})", ":1:26: $.tasks.t.fork: the 'fork' event is not supported"},
        {R"({"tasks": {"t": {"run": -5}}})", ":1:25: $.tasks.t.run: negative duration"},
        {R"({"tasks": {"t": {"sleep": 1e13}}})", ":1:27: $.tasks.t.sleep: absurd duration"},
        {R"({"tasks": {"t": {"run": 1, "resume": "ghost"}}})", ":1:38: $.tasks.t.resume: nobody suspends on 'ghost'"},
        {R"({"tasks": {"t": {"unlock": "m"}}})", ":1:28: $.tasks.t.unlock: mutex 'm' is never locked"},
        {R"({"tasks": {"t": {"signal": "c", "run": 1}}})", ":1:28: $.tasks.t.signal: nobody waits on 'c'"},
        {"{\"tasks\": {\"t\": {\"run\": 1}}", ":1:28: syntax error: expected ',' or '}'"},
    };
    int i = 0;
    for (const auto& [text, message] : cases) {
        const fs::path w = write_temp("bad" + std::to_string(i++) + ".json", text);
        const result r = kpreempt("run " + w.string());
        EXPECT_EQ(r.status, 2) << text << "\n" << r.out;
        EXPECT_NE(r.out.find(w.string() + message), std::string::npos) << text << "\n" << r.out;
    }
}

// Every rt-app example in Debian's rt-app package (scripts/setup.sh installs
// it): the examples, the legacy-grammar taskset.json, and merge/'s fragments
// merged as merge.py merges them.
TEST(KpreemptCli, RtAppExamplesParseAndRun) {
    const fs::path doc = "/usr/share/doc/rt-app";
    if (!fs::exists(doc / "examples")) GTEST_SKIP() << "rt-app's examples are not installed (" << doc << "): run scripts/setup.sh";
    std::vector<std::string> runs;
    std::string merge_set;
    for (const auto& entry : fs::recursive_directory_iterator(doc)) {
        const fs::path p = entry.path();
        if (p.extension() != ".json") continue;
        if (p.parent_path().filename() == "merge") merge_set += " " + p.string();
        else runs.push_back(p.string());
    }
    ASSERT_FALSE(merge_set.empty());
    runs.push_back(merge_set);
    for (const std::string& files : runs) {
        const result r = kpreempt("run " + files + " --duration 1");
        EXPECT_EQ(r.status, 0) << files << "\n" << r.out;
        // Every task of the file ran (a task that never ran would say "never").
        EXPECT_NE(r.out.find("FIRST(ms)"), std::string::npos) << files << "\n" << r.out;
        EXPECT_EQ(r.out.find(" never "), std::string::npos) << files << "\n" << r.out;
    }
    EXPECT_GE(runs.size(), 18u);
}

}  // namespace

namespace {

std::vector<std::string> keys_of(const kp::json::value& v) {
    std::vector<std::string> keys;
    for (const auto& m : v.members) keys.push_back(m.first);
    return keys;
}

// docs/report-schema.md, key by key.
TEST(ReportSchema, EveryDocumentedKeyInOrderWithItsType) {
    const fs::path w = write_temp("schema.json", R"({"tasks": {
        "a": {"loop": 1, "run": 100},
        "never": {"loop": 1, "suspend": "", "run": 1}}})");
    const fs::path report = fs::path(testing::TempDir()) / "schema-report.json";
    ASSERT_EQ(kpreempt("run " + w.string() + " --report " + report.string()).status, 0);
    const kp::json::value doc = kp::json::parse(slurp(report));
    using kp::json::kind;
    EXPECT_EQ(keys_of(doc),
              (std::vector<std::string>{"kpreempt_report", "file", "model", "cpus", "hz", "seed", "duration_ns", "tasks",
                                        "cpu", "interrupts", "softirqs", "warnings", "kernel_log"}));
    EXPECT_EQ(doc.find("kpreempt_report")->integer, 1);
    EXPECT_EQ(doc.find("file")->type, kind::string);
    EXPECT_EQ(doc.find("model")->str, "full");
    for (const char* k : {"cpus", "hz", "seed", "duration_ns"}) EXPECT_TRUE(doc.find(k)->is_integer) << k;
    EXPECT_EQ(doc.find("warnings")->type, kind::array);
    EXPECT_EQ(doc.find("kernel_log")->type, kind::array);

    const auto& tasks = doc.find("tasks")->items;
    ASSERT_EQ(tasks.size(), 2u);
    for (const auto& t : tasks) {
        EXPECT_EQ(keys_of(t), (std::vector<std::string>{"name", "pid", "policy", "priority", "first_run_ns", "runs",
                                                        "wakeup_latency_ns", "runtime_ns", "nvcsw", "nivcsw",
                                                        "exited"}));
        EXPECT_EQ(keys_of(*t.find("wakeup_latency_ns")),
                  (std::vector<std::string>{"min", "mean", "p99", "max", "count"}));
        EXPECT_EQ(t.find("exited")->type, kind::boolean);
    }
    EXPECT_EQ(tasks[0].find("name")->str, "a");
    EXPECT_EQ(tasks[0].find("pid")->integer, 3);  // after ksoftirqd/0 and kworker/0:0: kernel threads are made at boot
    EXPECT_EQ(tasks[0].find("policy")->str, "SCHED_OTHER");
    EXPECT_EQ(tasks[0].find("first_run_ns")->integer, 0);
    EXPECT_EQ(tasks[0].find("runtime_ns")->integer, 100000);
    EXPECT_TRUE(tasks[0].find("exited")->b);
    EXPECT_EQ(tasks[1].find("first_run_ns")->type, kind::null);  // suspended from the start, never resumed
    EXPECT_FALSE(tasks[1].find("exited")->b);

    const auto& cpus = doc.find("cpu")->items;
    ASSERT_EQ(cpus.size(), 1u);
    EXPECT_EQ(keys_of(cpus[0]),
              (std::vector<std::string>{"cpu", "user_ns", "system_ns", "irq_ns", "softirq_ns", "idle_ns", "nmi_count",
                                        "nmi_ns", "ksoftirqd_ns", "ksoftirqd_handoffs"}));
    EXPECT_EQ(cpus[0].find("user_ns")->integer, 100000);
    for (const char* k : {"nmi_count", "nmi_ns", "ksoftirqd_ns"}) EXPECT_EQ(cpus[0].find(k)->integer, 0) << k;
    const kp::json::value& handoffs = *cpus[0].find("ksoftirqd_handoffs");
    EXPECT_EQ(keys_of(handoffs), (std::vector<std::string>{"restart_limit", "time_limit", "need_resched"}));
    for (const auto& m : handoffs.members) EXPECT_TRUE(m.second.is_integer) << m.first;

    // No device line in this file: an empty array (the entries' keys are
    // checked in KpreemptCli.DeviceLinesCountAndTimePerCpuAreExact).
    EXPECT_EQ(doc.find("interrupts")->type, kind::array);
    EXPECT_TRUE(doc.find("interrupts")->items.empty());
    // All ten softirq vectors, always, in Linux's order, one entry per CPU.
    const auto& softirqs = doc.find("softirqs")->items;
    const char* names[] = {"HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"};
    ASSERT_EQ(softirqs.size(), 10u);
    for (std::size_t v = 0; v < softirqs.size(); ++v) {
        const kp::json::value& e = softirqs[v];
        EXPECT_EQ(keys_of(e), (std::vector<std::string>{"vector", "name", "count_per_cpu", "time_ns_per_cpu"}));
        EXPECT_EQ(e.find("vector")->integer, static_cast<std::int64_t>(v));
        EXPECT_EQ(e.find("name")->str, names[v]);
        for (const char* k : {"count_per_cpu", "time_ns_per_cpu"}) {
            ASSERT_EQ(e.find(k)->items.size(), 1u) << names[v] << " " << k;
            EXPECT_TRUE(e.find(k)->items[0].is_integer) << names[v] << " " << k;
        }
    }
}

// A run with no interrupt line and no softirq prints no INTERRUPTS or
// SOFTIRQS table.
TEST(KpreemptCli, NoInterruptTablesWithoutInterrupts) {
    const fs::path w = write_temp("quiet.json", R"({"tasks": {"a": {"loop": 1, "run": 100}}})");
    const result r = kpreempt("run " + w.string());
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("SOFTIRQ"), std::string::npos) << r.out;  // the CPU table's column
    EXPECT_EQ(r.out.find("INTERRUPTS"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("SOFTIRQS"), std::string::npos) << r.out;
}

// The lines of `text` that start with `prefix`, split into words.
std::vector<std::vector<std::string>> rows_starting(const std::string& text, const std::string& prefix) {
    std::vector<std::vector<std::string>> rows;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(prefix, 0) != 0) continue;
        std::istringstream words(line);
        rows.emplace_back();
        for (std::string w; words >> w;) rows.back().push_back(w);
    }
    return rows;
}

std::vector<std::int64_t> ints(const kp::json::value& array) {
    std::vector<std::int64_t> out;
    for (const auto& v : array.items) out.push_back(v.integer);
    return out;
}

// Two device lines for 1 s with zero costs:
//   disk on CPU 1 from 0.5 ms every 1 ms: 1000 arrivals (0.5 ... 999.5 ms),
//     10 us each: 10 ms of hardirq time;
//   nic on CPU 0 from 0.25 ms every 2 ms, bursts of 3: 500 bursts (0.25 ...
//     998.25 ms), 1500 arrivals of 5 us: 7.5 ms.
// The ticks cost nothing, so each CPU's irq_ns is its line's time. No jiffies
// timer (rt-app sleeps are hrtimers) and no line raises a softirq: the
// softirq counts stay 0, TIMER included, and there is no SOFTIRQS table.
TEST(KpreemptCli, DeviceLinesCountAndTimePerCpuAreExact) {
    const fs::path w = write_temp("lines.json", R"({
      "global": {"duration": 1, "kpreempt": {"cpus": 2, "irqs": {
        "disk": {"cpu": 1, "start": 500, "period": 1000, "handler": 10},
        "nic": {"cpu": 0, "start": 250, "period": 2000, "burst": 3, "burst_gap": 20, "handler": 5}}}},
      "tasks": {"t": {"loop": -1, "run": 300, "sleep": 700}}})");
    const fs::path report = fs::path(testing::TempDir()) / "lines-report.json";
    const result r = kpreempt("run " + w.string() + " --report " + report.string());
    ASSERT_EQ(r.status, 0) << r.out;
    const kp::json::value doc = kp::json::parse(slurp(report));

    const auto& lines = doc.find("interrupts")->items;
    ASSERT_EQ(lines.size(), 2u);
    std::map<std::string, const kp::json::value*> by_name;
    for (const auto& l : lines) {
        EXPECT_EQ(keys_of(l), (std::vector<std::string>{"irq", "name", "count_per_cpu", "time_ns_per_cpu"}));
        EXPECT_TRUE(l.find("irq")->is_integer);
        by_name[l.find("name")->str] = &l;
    }
    ASSERT_TRUE(by_name.count("disk") && by_name.count("nic"));
    const kp::json::value& disk = *by_name["disk"];
    const kp::json::value& nic = *by_name["nic"];
    EXPECT_EQ(ints(*disk.find("count_per_cpu")), (std::vector<std::int64_t>{0, 1000}));
    EXPECT_EQ(ints(*disk.find("time_ns_per_cpu")), (std::vector<std::int64_t>{0, 10000000}));
    EXPECT_EQ(ints(*nic.find("count_per_cpu")), (std::vector<std::int64_t>{1500, 0}));
    EXPECT_EQ(ints(*nic.find("time_ns_per_cpu")), (std::vector<std::int64_t>{7500000, 0}));
    const auto& cpus = doc.find("cpu")->items;
    EXPECT_EQ(cpus.at(0).find("irq_ns")->integer, 7500000);
    EXPECT_EQ(cpus.at(1).find("irq_ns")->integer, 10000000);

    const auto& softirqs = doc.find("softirqs")->items;
    ASSERT_EQ(softirqs.size(), 10u);
    EXPECT_EQ(softirqs[1].find("name")->str, "TIMER");
    for (const auto& v : softirqs) {
        EXPECT_EQ(ints(*v.find("count_per_cpu")), (std::vector<std::int64_t>{0, 0})) << v.find("name")->str;
        EXPECT_EQ(ints(*v.find("time_ns_per_cpu")), (std::vector<std::int64_t>{0, 0})) << v.find("name")->str;
    }

    // The terminal's /proc/interrupts: a header of CPUs, "N: count count
    // time(ms) name" per line, then NMI.
    ASSERT_NE(r.out.find("\nINTERRUPTS\n"), std::string::npos) << r.out;
    EXPECT_EQ(rows_starting(r.out, "          CPU0"),
              (std::vector<std::vector<std::string>>{{"CPU0", "CPU1", "TIME(ms)"}}))
        << r.out;
    const auto label = [](const kp::json::value& l) {
        const std::string n = std::to_string(l.find("irq")->integer) + ":";
        return std::string(4 - n.size(), ' ') + n;
    };
    EXPECT_EQ(rows_starting(r.out, label(disk)),
              (std::vector<std::vector<std::string>>{{label(disk).substr(label(disk).find_first_not_of(' ')), "0",
                                                      "1000", "10.000", "disk"}}))
        << r.out;
    EXPECT_EQ(rows_starting(r.out, label(nic)),
              (std::vector<std::vector<std::string>>{{label(nic).substr(label(nic).find_first_not_of(' ')), "1500",
                                                      "0", "7.500", "nic"}}))
        << r.out;
    EXPECT_EQ(rows_starting(r.out, "NMI:"), (std::vector<std::vector<std::string>>{
                                                {"NMI:", "0", "0", "0.000", "Non-maskable", "interrupts"}}))
        << r.out;
    EXPECT_EQ(r.out.find("SOFTIRQS"), std::string::npos) << r.out;
}

}  // namespace
