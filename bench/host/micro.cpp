// Benchmarks (not tests): the host machine's fast paths beside their peers,
// with Google Benchmark (docs/performance.md; bench/host/run.sh runs them).
//
//   BM_tls_incdec              peer: ++ / -- of a plain thread_local, with
//                              the compiler barriers Linux's pair has
//   BM_tls_ptr_incdec          peer: the same through a thread_local
//                              pointer (kp's layout, without its checks)
//   BM_kp_preempt_pair         kp::preempt_disable() + kp::preempt_enable()
//                              inside a task on a 1-vCPU kp::host
//   BM_fcontext_roundtrip      peer: Boost.Context jump_fcontext there and
//                              back (only with libboost-context-dev)
//   BM_futex_pingpong          peer: two pthreads on one host CPU handing a
//                              turn back and forth through FUTEX_WAIT/WAKE
//   BM_kp_schedule_roundtrip   two tasks on one vCPU, each waking the other
//                              and sleeping through schedule()
//
// Every round trip is two switches; run.sh divides by two. Times are real
// time (UseRealTime): each loop runs on a thread of its own, pinned to host
// CPU 0 (the vCPU's for kp, a plain pthread's for the peers), while the
// benchmark's own thread waits on host CPU 1.
#include <benchmark/benchmark.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>

#include "common.h"
#include "kpreempt/kpreempt.h"

#if KP_BENCH_HAVE_FCONTEXT
#include <boost/context/detail/fcontext.hpp>
#endif

namespace {

using kpbench::measured_cpu;

kp::kernel_config one_vcpu(kp::preempt_mode model) {
    kp::kernel_config cfg;
    cfg.nr_cpus = 1;
    cfg.hz = 1000;
    cfg.model = model;
    return cfg;
}

// Spawn the given tasks on a fresh 1-vCPU host machine and run it to the end.
void run_host(const kp::kernel_config& cfg, const std::function<void(kp::host&)>& spawn) {
    kp::host m(cfg);
    spawn(m);
    if (m.run(kp::secs(600)) != kp::host_machine::stop_reason::all_exited)
        throw std::runtime_error("bench: a host machine did not finish");
}

// ---- preempt_disable + preempt_enable ---------------------------------------

thread_local unsigned tls_depth = 0;

void BM_tls_incdec(benchmark::State& state) {
    kpbench::run_pinned(measured_cpu, [&] {
        for (auto _ : state) {
            ++tls_depth;
            benchmark::ClobberMemory();  // barrier(), as in preempt_disable()
            --tls_depth;
            benchmark::ClobberMemory();
        }
    });
}
BENCHMARK(BM_tls_incdec)->UseRealTime();

// A second peer: the counter in a per-thread struct reached through a
// thread_local pointer, kp's own layout (this_cpu_ptr->preempt_count)
// without its checks. The compiler makes the plain thread_local above two
// %fs-relative read-modify-writes; this one, loads and stores through a
// register, as kp's word is.
struct counter_block {
    std::atomic<unsigned> depth{0};
};
thread_local counter_block* tls_block = nullptr;

void BM_tls_ptr_incdec(benchmark::State& state) {
    kpbench::run_pinned(measured_cpu, [&] {
        counter_block block;
        tls_block = &block;
        for (auto _ : state) {
            tls_block->depth.store(tls_block->depth.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            benchmark::ClobberMemory();
            tls_block->depth.store(tls_block->depth.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
            benchmark::ClobberMemory();
        }
        tls_block = nullptr;
    });
}
BENCHMARK(BM_tls_ptr_incdec)->UseRealTime();

void BM_kp_preempt_pair(benchmark::State& state) {
    run_host(one_vcpu(kp::preempt_mode::full), [&](kp::host& m) {
        m.spawn({.name = "pair"}, [&] {
            kp::syscall_section sys;
            for (auto _ : state) {
                kp::preempt_disable();
                benchmark::ClobberMemory();
                kp::preempt_enable();
                benchmark::ClobberMemory();
            }
        });
    });
}
BENCHMARK(BM_kp_preempt_pair)->UseRealTime();

// ---- a voluntary switch -----------------------------------------------------

#if KP_BENCH_HAVE_FCONTEXT
namespace bctx = boost::context::detail;

void fcontext_partner(bctx::transfer_t t) {
    for (;;) t = bctx::jump_fcontext(t.fctx, nullptr);
}

void BM_fcontext_roundtrip(benchmark::State& state) {
    constexpr std::size_t stack_size = 64 * 1024;
    void* stack = mmap(nullptr, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED) throw std::bad_alloc();
    kpbench::run_pinned(measured_cpu, [&] {
        bctx::fcontext_t other = bctx::make_fcontext(static_cast<char*>(stack) + stack_size, stack_size, fcontext_partner);
        for (auto _ : state) other = bctx::jump_fcontext(other, nullptr).fctx;  // there and back
    });
    munmap(stack, stack_size);  // the partner is left suspended, as it never ends
}
BENCHMARK(BM_fcontext_roundtrip)->UseRealTime();
#endif

long futex(std::atomic<std::uint32_t>& word, int op, std::uint32_t val) {
    return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), op, val, nullptr, nullptr, 0);
}

// The turn word: 0 the benchmark thread's, 1 the partner's. Whoever is not
// on turn sleeps in FUTEX_WAIT; both are pinned to one host CPU, so each
// hand-over is one switch of the host kernel.
void BM_futex_pingpong(benchmark::State& state) {
    std::atomic<std::uint32_t> turn{0};
    std::atomic<bool> stop{false};
    std::thread partner([&] {
        kpbench::pin_this_thread(measured_cpu);
        for (;;) {
            while (turn.load(std::memory_order_acquire) != 1) futex(turn, FUTEX_WAIT_PRIVATE, 0);
            if (stop.load(std::memory_order_relaxed)) return;
            turn.store(0, std::memory_order_release);
            futex(turn, FUTEX_WAKE_PRIVATE, 1);
        }
    });
    kpbench::run_pinned(measured_cpu, [&] {
        for (auto _ : state) {
            turn.store(1, std::memory_order_release);
            futex(turn, FUTEX_WAKE_PRIVATE, 1);
            while (turn.load(std::memory_order_acquire) != 0) futex(turn, FUTEX_WAIT_PRIVATE, 1);
        }
    });
    stop.store(true);
    turn.store(1, std::memory_order_release);
    futex(turn, FUTEX_WAKE_PRIVATE, 1);
    partner.join();
}
BENCHMARK(BM_futex_pingpong)->UseRealTime();

// Each task marks itself sleeping, wakes the other and calls schedule():
// the other runs, does the same, and the first is back. Under `full` the
// wakeup itself may preempt (wakeup_preempt at preempt_enable) before the
// schedule() call; either way each round trip is two switches.
void BM_kp_schedule_roundtrip(benchmark::State& state) {
    const auto model = static_cast<kp::preempt_mode>(state.range(0));
    run_host(one_vcpu(model), [&](kp::host& m) {
        auto stop = std::make_shared<std::atomic<bool>>(false);
        auto tasks = std::make_shared<kp::task_struct*[]>(2);
        tasks[1] = &m.spawn({.name = "pong"}, [stop, tasks] {
            kp::syscall_section sys;
            for (;;) {
                kp::set_current_state(kp::TASK_UNINTERRUPTIBLE);
                if (stop->load(std::memory_order_relaxed)) break;
                kp::wake_up_process(*tasks[0]);
                kp::schedule();
            }
            kp::__set_current_state(kp::TASK_RUNNING);
        });
        tasks[0] = &m.spawn({.name = "ping"}, [&state, stop, tasks] {
            kp::syscall_section sys;
            for (auto _ : state) {
                kp::set_current_state(kp::TASK_UNINTERRUPTIBLE);
                kp::wake_up_process(*tasks[1]);
                kp::schedule();
            }
            stop->store(true);
            kp::wake_up_process(*tasks[1]);
        });
    });
}
BENCHMARK(BM_kp_schedule_roundtrip)
    ->Arg(static_cast<int>(kp::preempt_mode::full))
    ->Arg(static_cast<int>(kp::preempt_mode::none))
    ->ArgName("model")
    ->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
    kpbench::pin_this_thread(kpbench::driver_cpu());
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
