// `kpreempt latency`: cyclictest on the simulated machine. Its output byte
// for byte (print_stat, print_hist), its arithmetic (calcdiff, skipping
// missed intervals), its thread placement, and the classic result: under a
// kernel-mode load the worst latency falls from none to voluntary to full.
// One CPU, HZ 1000 and zero costs unless said otherwise, so every value is
// an exact virtual time.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>

#include "workload/cyclictest.h"

namespace {

using namespace kp::workload;

struct result {
    int status;
    std::string out;  // stdout only
    std::string err;  // stderr only
};

result kpreempt(const std::string& args) {
    // One file per process and call: ctest runs this binary's tests in
    // parallel processes, which share the temporary folder.
    static int calls = 0;
    const std::string err_file = testing::TempDir() + "/cyclictest-stderr-" + std::to_string(getpid()) + "-" +
                                 std::to_string(++calls) + ".txt";
    const std::string cmd = std::string(KP_CLI_PATH) + " " + args + " 2>" + err_file;
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int st = pclose(p);
    std::string err;
    if (FILE* f = std::fopen(err_file.c_str(), "r")) {
        while ((n = fread(buf, 1, sizeof buf, f)) > 0) err.append(buf, n);
        std::fclose(f);
    }
    std::remove(err_file.c_str());
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out, err};
}

// The T: lines' fields by name ("C", "Min", "Act", "Avg", "Max"), per
// "# model: M" block (key "" without --models), in order.
std::map<std::string, std::vector<std::map<std::string, long>>> t_lines(const std::string& out) {
    std::map<std::string, std::vector<std::map<std::string, long>>> blocks;
    std::string model;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("# model: ", 0) == 0) model = line.substr(9);
        if (line.rfind("T:", 0) != 0) continue;
        std::map<std::string, long> fields;
        for (const char* key : {"C:", "Min:", "Act:", "Avg:", "Max:"}) {
            const std::size_t at = line.find(key);
            if (at == std::string::npos) continue;
            fields[std::string(key, std::char_traits<char>::length(key) - 1)] =
                std::stol(line.substr(at + std::char_traits<char>::length(key)));
        }
        blocks[model].push_back(fields);
    }
    return blocks;
}

TEST(CyclictestFormat, StatLineIsPrintStatsByteForByte) {
    cyclictest_stat s;
    s.tid = 3;
    s.prio = 80;
    s.interval_us = 1000;
    s.cycles = 4;
    s.min = 0;
    s.act = 19100;
    s.avg = 57150;  // the sum: Avg is sum / cycles, truncated
    s.max = 19100;
    EXPECT_EQ(format_stat(s, 0, false),
              "T: 0 (    3) P:80 I:1000 C:      4 Min:      0 Act:19100 Avg:14287 Max:   19100");
    EXPECT_EQ(format_stat(s, 12, true),
              "T:12 (    3) P:80 I:1000 C:      4 Min:      0 Act:   19100 Avg:   14287 Max:   19100");
    const cyclictest_stat never_ran;  // cyclictest's starting min, Avg 0 without cycles
    EXPECT_EQ(format_stat(never_ran, 1, false),
              "T: 1 (    0) P: 0 I:0 C:      0 Min:1000000 Act:    0 Avg:    0 Max:       0");
}

TEST(CyclictestFormat, CalcdiffTruncatesSecondsAndNanosecondsApart) {
    EXPECT_EQ(calcdiff_us(kp::usecs(2500), kp::usecs(1000)), 1500);
    EXPECT_EQ(calcdiff_us(1999, 1000), 0);  // 999 ns: 0 us
    // 101 ns across a second boundary: 1 s - 999999 us, not 0 (the timespec
    // fields are subtracted one by one).
    EXPECT_EQ(calcdiff_us(2'000'000'100, 1'999'999'999), 1);
}

TEST(CyclictestFormat, HistogramIsPrintHistByteForByte) {
    std::vector<cyclictest_stat> threads(2);
    for (auto& s : threads) s.hist.assign(3, 0);
    threads[0].hist = {2, 0, 1};
    threads[0].cycles = 5;
    threads[0].min = 0;
    threads[0].max = 7;
    threads[0].avg = 16;
    threads[0].hist_overflow = 2;
    threads[0].outliers = {1, 4};
    threads[1].hist = {0, 1, 0};
    threads[1].cycles = 5;
    threads[1].min = 1;
    threads[1].max = 9;
    threads[1].avg = 37;
    threads[1].hist_overflow = 4;
    threads[1].outliers = {0, 1, 2};  // the first 3 (-h 3) of 4 overflows
    EXPECT_EQ(format_hist(threads, 3, false),
              "# Histogram\n"
              "000000 000002\t000000\n"
              "000001 000000\t000001\n"
              "000002 000001\t000000\n"
              "# Total: 000000003 000000001\n"
              "# Min Latencies: 00000 00001\n"
              "# Avg Latencies: 00003 00007\n"
              "# Max Latencies: 00007 00009\n"
              "# Histogram Overflows: 00002 00004\n"
              "# Histogram Overflow at cycle number:\n"
              "# Thread 0: 00001 00004\n"
              "# Thread 1: 00000 00001 00002 # 00001 others\n"
              "\n");
    // -H: a column for all threads, and totals of it.
    EXPECT_EQ(format_hist(threads, 3, true),
              "# Histogram\n"
              "000000 000002\t000000\t000002\n"
              "000001 000000\t000001\t000001\n"
              "000002 000001\t000000\t000001\n"
              "# Total: 000000003 000000001 000000004\n"
              "# Min Latencies: 00000 00001\n"
              "# Avg Latencies: 00003 00007\n"
              "# Max Latencies: 00007 00009 00009\n"
              "# Histogram Overflows: 00002 00004 00006\n"
              "# Histogram Overflow at cycle number:\n"
              "# Thread 0: 00001 00004\n"
              "# Thread 1: 00000 00001 00002 # 00001 others\n"
              "\n");
}

// cyclictest's placement: -a CPUSET round-robin over the set in CPU order
// (its help text's example), -a alone thread N on CPU N, DIST added per
// thread unless a histogram is on, -p 0 meaning SCHED_FIFO at threads + 1.
TEST(CyclictestPlan, PlacesThreadsAsCyclictestDoes) {
    cyclictest_options o;
    o.threads = 5;
    o.affinity = true;
    o.affinity_cpus = {3, 4, 5, 0};
    o.priority = 90;
    auto plan = plan_cyclictest(o, 6);
    ASSERT_EQ(plan.size(), 5u);
    const int cpus[] = {0, 3, 4, 5, 0};
    for (std::size_t i = 0; i < plan.size(); ++i) {
        EXPECT_EQ(plan[i].cpu, cpus[i]) << i;
        EXPECT_TRUE(plan[i].pinned);
        EXPECT_EQ(plan[i].interval_us, 1000 + 500 * static_cast<long>(i));
        EXPECT_EQ(plan[i].policy, kp::sched_policy::fifo);
        EXPECT_EQ(plan[i].prio, 90);
    }
    EXPECT_EQ(measured_cpus(plan), (std::vector<int>{0, 3, 4, 5}));

    o = {};
    o.thread_per_cpu = true;
    o.affinity = true;
    o.histogram = 100;
    o.distance_us = 200;  // ignored with a histogram
    o.priority = 0;
    plan = plan_cyclictest(o, 3);
    ASSERT_EQ(plan.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(plan[static_cast<std::size_t>(i)].cpu, i);
        EXPECT_EQ(plan[static_cast<std::size_t>(i)].interval_us, 1000);
        EXPECT_EQ(plan[static_cast<std::size_t>(i)].prio, 4);  // "defaulting realtime priority to 4"
    }

    o = {};  // no -p: SCHED_OTHER, P:0; no -a: not pinned
    o.threads = 2;
    plan = plan_cyclictest(o, 1);
    EXPECT_EQ(plan[1].cpu, 0);
    EXPECT_FALSE(plan[1].pinned);
    EXPECT_EQ(plan[1].policy, kp::sched_policy::normal);
    EXPECT_EQ(plan[1].prio, 0);
}

// Nothing else on the machine and zero costs: every wakeup is on time.
TEST(KpreemptLatency, QuietMachineMeasuresZero) {
    result r = kpreempt("latency -q -l 5");
    ASSERT_EQ(r.status, 0) << r.err;
    // pid 3: after ksoftirqd/0 and kworker/0:0, made at boot.
    EXPECT_EQ(r.out, "T: 0 (    3) P: 0 I:1000 C:      5 Min:      0 Act:    0 Avg:    0 Max:       0\n");
    r = kpreempt("latency -p 80 -l 3");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "policy: fifo: loadavg: (simulated machine: model full, 1 CPU, HZ 1000)          \n"
              "\n"
              "T: 0 (    3) P:80 I:1000 C:      3 Min:      0 Act:    0 Avg:    0 Max:       0\n");
    // -D 1 (the default end): one sample per interval, the last at 1 s.
    r = kpreempt("latency -q -t 2 -D 1s");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "T: 0 (    3) P: 0 I:1000 C:   1000 Min:      0 Act:    0 Avg:    0 Max:       0\n"
              "T: 1 (    4) P: 0 I:1500 C:    667 Min:      0 Act:    0 Avg:    0 Max:       0\n");
}

// Under none the kernel hog's 20 ms syscall ends only at its return to
// user. The thread starts at 0 and first sleeps until 1 ms:
//   1. woken at 1 ms, runs at 20 ms (the syscall's end): 19000 us;
//   2. next = 2 ms is past: skipped to 20 ms, which is now: 0 us;
//   3. next = 21 ms; the hog, 50 us in user mode, is in its next syscall
//      until 40.05 ms: 19050 us;
//   4. next = 22 ms, skipped to 41 ms; runs at 60.1 ms: 19100 us.
TEST(KpreemptLatency, LateWakeupsSkipMissedIntervals) {
    const result r = kpreempt("latency -q -p 80 --load kernel-hog --model none -l 4");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "T: 0 (    3) P:80 I:1000 C:      4 Min:      0 Act:19100 Avg:14287 Max:   19100\n");
    const result ns = kpreempt("latency -q -p 80 --load kernel-hog --model none -l 4 -N");
    ASSERT_EQ(ns.status, 0) << ns.err;
    EXPECT_EQ(ns.out,
              "T: 0 (    3) P:80 I:1000 C:      4 Min:      0 Act:19100000 Avg:14287500 Max:19100000\n");
}

// The done-when: under a kernel-mode load, cyclictest-format lines
// whose Max falls from none (the whole 20 ms syscall) to voluntary (the
// 1 ms between might_sleep() points) to full (0: preempted at once).
TEST(KpreemptLatency, KernelHogMaxFallsFromNoneToVoluntaryToFull) {
    const result r = kpreempt("latency -q -p 80 --load kernel-hog --models none,voluntary,full");
    ASSERT_EQ(r.status, 0) << r.err;
    auto blocks = t_lines(r.out);
    ASSERT_EQ(blocks.size(), 3u) << r.out;
    for (const char* m : {"none", "voluntary", "full"}) ASSERT_EQ(blocks[m].size(), 1u) << m << "\n" << r.out;
    const long none = blocks["none"][0]["Max"], voluntary = blocks["voluntary"][0]["Max"],
               full = blocks["full"][0]["Max"];
    EXPECT_GT(none, voluntary);
    EXPECT_GT(voluntary, full);
    EXPECT_EQ(none, 20000);
    EXPECT_EQ(voluntary, 1000);
    EXPECT_EQ(full, 0);
    EXPECT_EQ(blocks["full"][0]["C"], 1000);
    EXPECT_LT(r.out.find("# model: none"), r.out.find("# model: voluntary"));
    EXPECT_LT(r.out.find("# model: voluntary"), r.out.find("# model: full"));
}

// -h on the command line: two threads pinned on two CPUs, each with its own
// kernel hog, under voluntary: one sample on time, 19 a whole 1 ms late.
// With -q and -h, cyclictest prints only the histogram.
TEST(KpreemptLatency, HistogramRunPrintsOnlyTheHistogramWhenQuiet) {
    const result r =
        kpreempt("latency -q -p 80 --load kernel-hog --model voluntary -h 5 -t 2 -a --cpus 2 -l 20");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out,
              "# Histogram\n"
              "000000 000001\t000001\n"
              "000001 000000\t000000\n"
              "000002 000000\t000000\n"
              "000003 000000\t000000\n"
              "000004 000000\t000000\n"
              "# Total: 000000001 000000001\n"
              "# Min Latencies: 00000 00000\n"
              "# Avg Latencies: 00950 00950\n"
              "# Max Latencies: 01000 01000\n"
              "# Histogram Overflows: 00019 00019\n"
              "# Histogram Overflow at cycle number:\n"
              "# Thread 0: 00000 00001 00002 00003 00004 # 00014 others\n"
              "# Thread 1: 00000 00001 00002 00003 00004 # 00014 others\n"
              "\n");
}

TEST(KpreemptLatency, SameCommandSameOutput) {
    const std::string cmd = "latency -p 80 --load kernel-hog --load softirq-storm --model full -t 2 -a --cpus 2";
    const result a = kpreempt(cmd);
    const result b = kpreempt(cmd);
    ASSERT_EQ(a.status, 0) << a.err;
    EXPECT_EQ(a.out, b.out);
    EXPECT_EQ(t_lines(a.out)[""].size(), 2u) << a.out;
}

TEST(KpreemptLatency, BadOptionsExitWith2AndNameTheOption) {
    const std::pair<const char*, const char*> cases[] = {
        {"-i 0", "-i: expected an integer from 1 to 3600000000, got '0'"},
        {"-i", "-i: needs a value"},
        {"-p 100", "-p: expected an integer from 0 to 99, got '100'"},
        {"-t 0", "-t: expected an integer from 1 to 1024, got '0'"},
        {"-D 0", "-D: expected a time of at least 1 s"},
        {"-D 5x", "-D: expected a time of at least 1 s such as 10, 30s, 5m, 2h or 1d, got '5x'"},
        {"-h", "-h: needs a value"},
        {"-a 1-x", "-a: expected a CPU list such as 2 or 0-3,6, got '1-x'"},
        {"-a 3 --cpus 2", "-a: CPU 3 does not exist (the machine has 2; --cpus N)"},
        {"-x", "unknown option '-x'"},
        {"--frobnicate", "unknown option '--frobnicate'"},
        {"--quiet=1", "--quiet: takes no value"},
        {"--model eager", "--model: unknown model 'eager'"},
        {"--models none,eager", "--models: unknown model 'eager'"},
        {"--model full --models none", "--model and --models: give one of them"},
        {"--cpus 0", "--cpus: expected an integer from 1 to 256, got '0'"},
        {"load.json", "unexpected argument 'load.json'"},
        {"--load /nonexistent.json", "/nonexistent.json: cannot open the file"},
    };
    for (const auto& [args, message] : cases) {
        const result r = kpreempt(std::string("latency ") + args);
        EXPECT_EQ(r.status, 2) << args << "\n" << r.err;
        EXPECT_NE(r.err.find(message), std::string::npos) << args << "\n" << r.err;
        EXPECT_EQ(r.out, "") << args;
    }
    const result help = kpreempt("latency --help");
    EXPECT_EQ(help.status, 0);
    EXPECT_EQ(help.out.rfind("usage: kpreempt latency", 0), 0u) << help.out;
    EXPECT_NE(kpreempt("--help").out.find("latency"), std::string::npos);
}

}  // namespace
