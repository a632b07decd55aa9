// Asynchronous preemption on the host machine: code that never calls the
// kernel is preempted by the interrupt signal (docs/host.md). Properties,
// never durations.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "kernel/percpu_var.h"
#include "kpreempt/kpreempt.h"

namespace kp {
namespace {

kernel_config host_config(int cpus, preempt_mode model, int hz = 1000) {
    kernel_config cfg;
    cfg.nr_cpus = cpus;
    cfg.model = model;
    cfg.hz = hz;
    return cfg;
}

// A spinner with no yield point at all, and a task that releases it, on one
// vCPU: the spinner runs first; only a preemption lets the releaser run.
host_machine::stop_reason spinner_and_releaser(preempt_mode model) {
    host m(host_config(1, model));
    std::atomic<bool> released{false};
    m.spawn({.name = "spinner"}, [&] {
        while (!released.load(std::memory_order_relaxed)) {
        }
    });
    m.spawn({.name = "releaser"}, [&] { released.store(true); });
    return m.run(secs(5));
}

TEST(HostPreempt, UserModeSpinnerLosesItsVcpuUnderEveryModel) {
    EXPECT_EQ(spinner_and_releaser(preempt_mode::full), host_machine::stop_reason::all_exited);
    EXPECT_EQ(spinner_and_releaser(preempt_mode::none), host_machine::stop_reason::all_exited);
}

// The machine's stop reaches a task that never calls the kernel: the stop
// signal redirects it too.
TEST(HostPreempt, TimeLimitStopsARawSpinner) {
    host m(host_config(2, preempt_mode::full));
    std::atomic<bool> never{false};
    m.spawn({.name = "raw"}, [&] {
        while (!never.load(std::memory_order_relaxed)) {
        }
    });
    EXPECT_EQ(m.run(msecs(50)), host_machine::stop_reason::time_limit);
}

// The same spin inside a syscall section, bounded: whether the other task
// ran before the section ended.
bool other_ran_during_kernel_spin(preempt_mode model) {
    host m(host_config(1, model));
    std::atomic<bool> other_ran{false};
    std::atomic<bool> seen{false};
    m.spawn({.name = "kspin"}, [&] {
        syscall_section sys;
        for (std::uint64_t i = 0; i < 400'000'000 && !other_ran.load(std::memory_order_relaxed); ++i) {
        }
        seen.store(other_ran.load());
    });
    m.spawn({.name = "other"}, [&] { other_ran.store(true); });
    EXPECT_EQ(m.run(secs(60)), host_machine::stop_reason::all_exited);
    return seen.load();
}

TEST(HostPreempt, KernelSpinIsPreemptedUnderFullButNotUnderNone) {
    EXPECT_TRUE(other_ran_during_kernel_spin(preempt_mode::full));
    EXPECT_FALSE(other_ran_during_kernel_spin(preempt_mode::none));
}

// Floating-point work that stays in registers, and errno, across many
// preemptions by a task doing the same with other values.
double fp_work(double seed, long n) {
    double a = seed, b = 1.0 / seed, c = 0;
    for (long i = 0; i < n; ++i) {
        a = a * 1.0000001 + b;
        b = b * 0.9999999 - 1e-9;
        c += a * b;
    }
    return c;
}

TEST(HostPreempt, ErrnoAndFloatingPointStateSurvivePreemption) {
    constexpr long n = 40'000'000;
    const double want[2] = {fp_work(1.5, n), fp_work(2.5, n)};
    host m(host_config(1, preempt_mode::full, 10000));
    double got[2] = {0, 0};
    int errno_after[2] = {0, 0};
    task_struct* t[2];
    for (int k = 0; k < 2; ++k) {
        t[k] = &m.spawn({.name = "fp" + std::to_string(k)}, [&, k] {
            errno = 100 + k;
            got[k] = fp_work(k == 0 ? 1.5 : 2.5, n);
            errno_after[k] = errno;
        });
    }
    EXPECT_EQ(m.run(secs(60)), host_machine::stop_reason::all_exited);
    for (int k = 0; k < 2; ++k) {
        EXPECT_EQ(got[k], want[k]) << k;  // bit for bit
        EXPECT_EQ(errno_after[k], 100 + k) << k;
    }
    EXPECT_GT(t[0]->nivcsw + t[1]->nivcsw, 2u);  // they really were preempted
}

// 8 tasks on 2 vCPUs under a 10 kHz tick, allocating and freeing in tight
// loops for 10 s: no deadlock (all exit), no corruption (every block keeps
// its pattern until freed).
TEST(HostPreempt, MallocAndNewUnderPreemptionForTenSeconds) {
    host m(host_config(2, preempt_mode::full, 10000));
    std::atomic<int> corrupt{0};
    std::atomic<std::uint64_t> rounds{0};
    std::vector<task_struct*> tasks;
    for (int k = 0; k < 8; ++k) {
        tasks.push_back(&m.spawn({.name = "alloc" + std::to_string(k), .cpu = k % 2}, [&, k] {
            std::mt19937 rng(static_cast<unsigned>(k) + 1);
            std::vector<std::pair<unsigned char*, std::size_t>> blocks;
            while (this_kernel().arch().now() < secs(10)) {
                const std::size_t size = 1 + rng() % 4096;
                auto* p = static_cast<unsigned char*>(std::malloc(size));
                std::memset(p, k + 1, size);
                blocks.emplace_back(p, size);
                auto obj = std::make_unique<std::vector<int>>(rng() % 64, k);
                if (obj->size() && (*obj)[0] != k) corrupt.fetch_add(1);
                if (blocks.size() > 64 || rng() % 3 == 0) {
                    const std::size_t i = rng() % blocks.size();
                    for (std::size_t j = 0; j < blocks[i].second; ++j)
                        if (blocks[i].first[j] != k + 1) {
                            corrupt.fetch_add(1);
                            break;
                        }
                    std::free(blocks[i].first);
                    blocks[i] = blocks.back();
                    blocks.pop_back();
                }
                rounds.fetch_add(1, std::memory_order_relaxed);
            }
            for (auto& b : blocks) std::free(b.first);
        }));
    }
    EXPECT_EQ(m.run(secs(60)), host_machine::stop_reason::all_exited);
    EXPECT_EQ(corrupt.load(), 0);
    EXPECT_GT(rounds.load(), 1000u);
    std::uint64_t preempted = 0;
    for (task_struct* t : tasks) preempted += t->nivcsw;
    EXPECT_GT(preempted, 8u);
}

// Per-CPU counters under preemption and migration, on 2 vCPUs: every
// increment is counted once, on the CPU that made it. A plain counter in a
// thread_local would be the vCPU's too, but touched without preemption
// disabled it could be switched away from between its load and its store.
TEST(HostPreempt, PerCpuVariablesKeepEveryIncrement) {
    host m(host_config(2, preempt_mode::full, 10000));
    per_cpu<long> counter;
    constexpr int tasks = 4;
    constexpr long per_task = 200'000;
    for (int k = 0; k < tasks; ++k) {
        m.spawn({.name = "inc" + std::to_string(k), .cpu = k % 2}, [&] {
            for (long i = 0; i < per_task; ++i) {
                auto c = counter.get_cpu_var();
                ++*c;
            }
        });
    }
    EXPECT_EQ(m.run(secs(60)), host_machine::stop_reason::all_exited);
    EXPECT_EQ(counter.on(0) + counter.on(1), tasks * per_task);
    EXPECT_GT(counter.on(0), 0);
    EXPECT_GT(counter.on(1), 0);
}

}  // namespace
}  // namespace kp
