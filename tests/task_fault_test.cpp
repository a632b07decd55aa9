// Faults of tasks, reported with the task's name (docs/faults.md): a stack
// overflow into the guard page on both machines (fatal, death tests), a
// fault elsewhere passed on as if no handler of ours were there, the
// guard-page registry itself, and an exception escaping a task body (the
// task ends, the machine goes on; debug_test.cpp has the simulated
// machine's basic case).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "arch/fault.h"
#include "arch/stack.h"
#include "kpreempt/kpreempt.h"

namespace kp {
namespace {

#if KP_SANITIZE
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif

kernel_config one_cpu() { return {.nr_cpus = 1, .hz = 1000, .model = preempt_mode::full}; }

std::uintptr_t page_size() { return static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE)); }

// Recursion that runs off any stack: ~1 KiB frames (less than the guard
// page, so that some access lands in it rather than beyond it), not a tail
// call (the frame is read after the call returns), not inlined.
volatile int recursion_limit = 1 << 30;

[[gnu::noinline]] int recurse(int depth) {
    volatile char frame[1024];
    frame[0] = static_cast<char>(depth);
    frame[sizeof frame - 1] = static_cast<char>(depth);
    if (depth >= recursion_limit) return frame[0];
    return recurse(depth + 1) + frame[static_cast<unsigned>(depth) % sizeof frame];
}

// The whole report, as the death test's child writes it to stderr.
std::string overflow_report(const std::string& comm, int pid, int kib) {
    return "BUG: TASK stack guard page was hit at [0-9a-f]{16} \\(stack is [0-9a-f]{16}\\.\\.[0-9a-f]{16}\\)\n"
           "kpreempt: task " + comm + "\\[" + std::to_string(pid) + "\\] overflowed its " + std::to_string(kib) +
           " KiB stack\n"
           "Kernel panic - not syncing: TASK stack guard page was hit\n";
}

// Matches a child's stderr that contains `want` and not `unwanted`.
class stderr_text : public testing::MatcherInterface<const std::string&> {
public:
    stderr_text(std::string want, std::string unwanted) : want_(std::move(want)), unwanted_(std::move(unwanted)) {}
    bool MatchAndExplain(const std::string& s, testing::MatchResultListener* /*listener*/) const override {
        return s.find(want_) != std::string::npos && s.find(unwanted_) == std::string::npos;
    }
    void DescribeTo(std::ostream* os) const override {
        *os << "contains \"" << want_ << "\" and not \"" << unwanted_ << "\"";
    }

private:
    std::string want_, unwanted_;
};

testing::Matcher<const std::string&> stderr_with(std::string want, std::string unwanted) {
    return testing::MakeMatcher(new stderr_text(std::move(want), std::move(unwanted)));
}

// ---- stack overflow: reported with the task's name, then the process ends --

// A task that recurses without end beside one that sleeps; returns the
// overflowing task's pid (pids are handed out in order, so a machine built
// the same way in the parent tells the child's).
int spawn_overflow_scene(sim& m) {
    m.spawn({.name = "bystander"}, [] { msleep(5); });
    return m.spawn({.name = "overflow"}, [] { recurse(0); }).pid;
}

TEST(TaskFaultDeathTest, StackOverflowOnTheSimulatedMachineNamesTheTask) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    int pid = 0;
    {
        sim probe(one_cpu());
        pid = spawn_overflow_scene(probe);
    }
    EXPECT_EXIT(
        {
            sim m(one_cpu());
            spawn_overflow_scene(m);
            m.run(secs(1));
        },
        testing::KilledBySignal(SIGABRT), overflow_report("overflow", pid, 256));
}

TEST(TaskFaultDeathTest, StackOverflowWithAnotherStackSizeReportsThatSize) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    kernel_config cfg = one_cpu();
    cfg.stack_size = 64 * 1024;
    int pid = 0;
    {
        sim probe(cfg);
        pid = spawn_overflow_scene(probe);
    }
    EXPECT_EXIT(
        {
            sim m(cfg);
            spawn_overflow_scene(m);
            m.run(secs(1));
        },
        testing::KilledBySignal(SIGABRT), overflow_report("overflow", pid, 64));
}

// A device handler that recurses without end, taken in kernel mode: it runs
// on CPU 0's irq stack and overflows that, reported as Linux reports it.
TEST(TaskFaultDeathTest, IrqStackOverflowIsReportedAsTheIrqStacks) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            sim m(one_cpu());
            m.request_irq(1, "deep", [] { recurse(0); });
            m.spawn({.name = "kernel"}, [] {
                syscall_section sys;
                burn(msecs(1));
            });
            m.raise_irq(usecs(100), 0, 1);
            m.run(secs(1));
        },
        testing::KilledBySignal(SIGABRT),
        "BUG: IRQ stack guard page was hit at [0-9a-f]{16} \\(stack is [0-9a-f]{16}\\.\\.[0-9a-f]{16}\\)\n"
        "kpreempt: interrupt handlers overflowed the 64 KiB irq stack of CPU 0\n"
        "Kernel panic - not syncing: IRQ stack guard page was hit\n");
}

// A signal whose handler runs on the interrupted stack (no SA_ONSTACK, as a
// timer's may) arriving in a task stack's last bytes: the kernel cannot push
// its frame there and sends a SIGSEGV with no fault address instead. The
// stack pointer still names the task.
void on_usr1(int /*sig*/) {}

// The library calls made in a stack's last bytes, bound beforehand: a first
// call goes through the dynamic linker's resolver, whose frame (an xsave
// area) alone would run into the guard page.
void bind_calls_now() {
    raise(0);
    (void)getpid();
    (void)gettid();
    (void)syscall(SYS_getpid);
}

[[gnu::noinline]] void descend_then_signal(std::uintptr_t bottom) {
    volatile char frame[256];
    frame[0] = 1;
    if (reinterpret_cast<std::uintptr_t>(&frame[0]) > bottom + 1024) {
        descend_then_signal(bottom);
        frame[1] = frame[0];
        return;
    }
    raise(SIGUSR1);  // a frame of AT_MINSIGSTKSZ (about 3 KiB with AVX-512) does not fit
}

int spawn_signalled_task(sim& m) {
    return m.spawn({.name = "signalled"}, [] {
                bind_calls_now();
                descend_then_signal(reinterpret_cast<std::uintptr_t>(current().stack->bottom()));
            })
        .pid;
}

TEST(TaskFaultDeathTest, ASignalFrameThatDoesNotFitNamesTheTask) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    int pid = 0;
    {
        sim probe(one_cpu());
        pid = spawn_signalled_task(probe);
    }
    EXPECT_EXIT(
        {
            struct sigaction sa {};
            sa.sa_handler = on_usr1;
            sigemptyset(&sa.sa_mask);
            sigaction(SIGUSR1, &sa, nullptr);
            sim m(one_cpu());
            spawn_signalled_task(m);
            m.run(secs(1));
        },
        testing::KilledBySignal(SIGABRT), overflow_report("signalled", pid, 256));
}

// The kernel's SIGSEGV for a signal frame that does not fit (SI_KERNEL, no
// address), sent here by the task itself in its stack's last bytes, as the
// kernel would send it: the stack pointer names the task. Far from the
// stack's bottom the same signal is passed on.
enum class where { stack_bottom, stack_top };

[[gnu::noinline]] void descend_then_kernel_sigsegv(std::uintptr_t bottom) {
    volatile char frame[256];
    frame[0] = 1;
    if (reinterpret_cast<std::uintptr_t>(&frame[0]) > bottom + 1024) {
        descend_then_kernel_sigsegv(bottom);
        frame[1] = frame[0];
        return;
    }
    siginfo_t si{};
    si.si_signo = SIGSEGV;
    si.si_code = SI_KERNEL;  // a process may send any si_code to itself
    syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGSEGV, &si);
}

int spawn_kernel_sigsegv_task(sim& m, where w) {
    return m.spawn({.name = "forced"}, [w] {
                bind_calls_now();
                const auto bottom = reinterpret_cast<std::uintptr_t>(current().stack->bottom());
                if (w == where::stack_bottom) descend_then_kernel_sigsegv(bottom);
                else descend_then_kernel_sigsegv(bottom + 200 * 1024);
            })
        .pid;
}

void run_kernel_sigsegv_task(where w) {
    sim m(one_cpu());
    spawn_kernel_sigsegv_task(m, w);
    m.run(secs(1));
}

TEST(TaskFaultDeathTest, AnAddresslessKernelSigsegvInTheStacksLastBytesNamesTheTask) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    int pid = 0;
    {
        sim probe(one_cpu());
        pid = spawn_kernel_sigsegv_task(probe, where::stack_bottom);
    }
    EXPECT_EXIT(run_kernel_sigsegv_task(where::stack_bottom), testing::KilledBySignal(SIGABRT),
                overflow_report("forced", pid, 256));
}

TEST(TaskFaultDeathTest, AnAddresslessKernelSigsegvElsewhereIsPassedOn) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    if constexpr (sanitized)
        EXPECT_EXIT(run_kernel_sigsegv_task(where::stack_top), testing::ExitedWithCode(1),
                    stderr_with("AddressSanitizer: SEGV", "guard page"));
    else
        EXPECT_EXIT(run_kernel_sigsegv_task(where::stack_top), testing::KilledBySignal(SIGSEGV),
                    stderr_with("", "guard page"));
}

kernel_config host_config(int cpus) {
    kernel_config cfg;
    cfg.nr_cpus = cpus;
    cfg.model = preempt_mode::full;
    return cfg;
}

// On the host machine the task runs on a vCPU thread, where the handler
// runs on that thread's alternate signal stack.
TEST(TaskFaultDeathTest, StackOverflowOnTheHostMachineNamesTheTask) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    int pid = 0;
    {
        host probe(host_config(2));
        pid = probe.spawn({.name = "host-overflow", .cpu = 1}, [] {}).pid;
    }
    EXPECT_EXIT(
        {
            host m(host_config(2));
            m.spawn({.name = "host-overflow", .cpu = 1}, [] {
                burn(usecs(100));
                recurse(0);
            });
            m.run(secs(20));
        },
        testing::KilledBySignal(SIGABRT), overflow_report("host-overflow", pid, 256));
}

// ---- other faults: passed on, not reported as an overflow ------------------

// A write to a PROT_NONE page that is no task's guard page, from a task: the
// process dies as it would without our handler. Plainly that is the default
// action, SIGSEGV; under AddressSanitizer, its own SEGV report and exit
// code 1 (our handler is installed after AddressSanitizer's and calls it).
void wild_write_in_a_task() {
    sim m(one_cpu());
    m.spawn({.name = "wild"}, [] {
        void* page = mmap(nullptr, page_size(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        *static_cast<volatile char*>(page) = 1;
    });
    m.run(secs(1));
}

TEST(TaskFaultDeathTest, AFaultOutsideAnyGuardPageIsPassedOn) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    if constexpr (sanitized)
        EXPECT_EXIT(wild_write_in_a_task(), testing::ExitedWithCode(1),
                    stderr_with("AddressSanitizer: SEGV on unknown address", "guard page"));
    else
        EXPECT_EXIT(wild_write_in_a_task(), testing::KilledBySignal(SIGSEGV), stderr_with("", "guard page"));
}

// A signal sent with kill() is no fault: it ends the process as SIGSEGV
// always does, though its si_addr is meaningless.
TEST(TaskFaultDeathTest, ASentSigsegvIsPassedOn) {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    auto send = [] {
        sim m(one_cpu());
        m.spawn({.name = "sent"}, [] { kill(getpid(), SIGSEGV); });
        m.run(secs(1));
    };
    if constexpr (sanitized)
        EXPECT_EXIT(send(), testing::ExitedWithCode(1), stderr_with("AddressSanitizer: SEGV", "guard page"));
    else
        EXPECT_EXIT(send(), testing::KilledBySignal(SIGSEGV), stderr_with("", "guard page"));
}

// ---- the guard-page registry and the thread setup -------------------------

TEST(GuardRegistry, FindsAStacksGuardPageAndItsOwner) {
    const std::uintptr_t ps = page_size();
    std::uintptr_t bottom = 0;
    guard_hit hit;
    {
        task_stack s(64 * 1024, stack_owner{"worker", 42});
        bottom = reinterpret_cast<std::uintptr_t>(s.bottom());
        ASSERT_TRUE(stack_guard_lookup(reinterpret_cast<void*>(bottom - 8), hit));
        EXPECT_STREQ(hit.comm, "worker");
        EXPECT_EQ(hit.pid, 42);
        EXPECT_EQ(hit.guard, bottom - ps);
        EXPECT_EQ(hit.bottom, bottom);
        EXPECT_EQ(hit.top, bottom + 64 * 1024);
        EXPECT_TRUE(stack_guard_lookup(reinterpret_cast<void*>(bottom - ps), hit));  // the guard's first byte
        EXPECT_FALSE(stack_guard_lookup(reinterpret_cast<void*>(bottom), hit));      // the stack itself
        EXPECT_FALSE(stack_guard_lookup(reinterpret_cast<void*>(bottom - ps - 1), hit));
        EXPECT_TRUE(s.in_guard(reinterpret_cast<void*>(bottom - 1)));
    }
    EXPECT_FALSE(stack_guard_lookup(reinterpret_cast<void*>(bottom - 8), hit));  // gone with the stack
}

TEST(GuardRegistry, ManyStacksEachFindTheirOwnAndSlotsAreReused) {
    std::vector<std::unique_ptr<task_stack>> stacks;
    std::vector<std::string> names;
    for (int i = 0; i < 600; ++i) names.push_back("t" + std::to_string(i));  // more than one chunk of slots
    for (int i = 0; i < 600; ++i) stacks.push_back(std::make_unique<task_stack>(16 * 1024, stack_owner{names[i], i}));
    for (int i = 0; i < 600; i += 2) stacks[static_cast<std::size_t>(i)].reset();
    for (int i = 0; i < 600; i += 2)
        stacks[static_cast<std::size_t>(i)] = std::make_unique<task_stack>(16 * 1024, stack_owner{"again", 1000 + i});
    for (int i = 0; i < 600; ++i) {
        guard_hit hit;
        const auto bottom = reinterpret_cast<std::uintptr_t>(stacks[static_cast<std::size_t>(i)]->bottom());
        ASSERT_TRUE(stack_guard_lookup(reinterpret_cast<void*>(bottom - 1), hit)) << i;
        EXPECT_EQ(hit.pid, i % 2 == 0 ? 1000 + i : i);
        EXPECT_EQ(std::string(hit.comm), i % 2 == 0 ? "again" : names[static_cast<std::size_t>(i)]);
    }
}

TEST(GuardRegistry, KeepsAtMostTaskCommLenMinusOneCharacters) {
    task_stack s(16 * 1024, stack_owner{"a-name-longer-than-fifteen", 7});
    guard_hit hit;
    ASSERT_TRUE(stack_guard_lookup(static_cast<char*>(s.bottom()) - 1, hit));
    EXPECT_STREQ(hit.comm, "a-name-longer-t");
}

TEST(FaultHandler, InstallsAnOnStackHandlerAndGivesTheThreadASignalStack) {
    std::thread t([] {
        fault_handler_install_this_thread();
        fault_handler_install_this_thread();  // idempotent
        stack_t cur{};
        ASSERT_EQ(sigaltstack(nullptr, &cur), 0);
        EXPECT_EQ(cur.ss_flags & SS_DISABLE, 0);
        EXPECT_GE(cur.ss_size, std::size_t{16 * 1024});
    });
    t.join();
    struct sigaction sa {};
    ASSERT_EQ(sigaction(SIGSEGV, nullptr, &sa), 0);
    EXPECT_NE(sa.sa_flags & SA_ONSTACK, 0);
    EXPECT_NE(sa.sa_flags & SA_SIGINFO, 0);
}

// ---- an exception escaping a task body --------------------------------------

struct custom_error {};

TEST(TaskException, AnExceptionOfAnyTypeIsReportedWithItsType) {
    sim m(one_cpu());
    task_struct& t = m.spawn({.name = "custom"}, [] { throw custom_error{}; });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.log().count("kpreempt: task custom[" + std::to_string(t.pid) +
                            "] ended by an uncaught exception of type kp::(anonymous namespace)::custom_error"),
              1u);
}

// On the host machine: the task ends on its vCPU thread, the others go on.
TEST(TaskException, EscapingATaskOnTheHostMachineEndsOnlyThatTask) {
    host m(host_config(1));
    task_struct& a = m.spawn({.name = "host-thrower"}, [] {
        burn(usecs(100));
        throw std::runtime_error("boom");
    });
    task_struct& b = m.spawn({.name = "int-thrower"}, [] { throw 42; });
    std::atomic<bool> survivor_ran{false};
    m.spawn({.name = "survivor"}, [&] {
        msleep(1);
        survivor_ran.store(true);
    });
    EXPECT_EQ(m.run(secs(20)), host_machine::stop_reason::all_exited);
    EXPECT_EQ(m.log().count("kpreempt: task host-thrower[" + std::to_string(a.pid) +
                            "] ended by an uncaught exception: boom"),
              1u);
    EXPECT_EQ(m.log().count("kpreempt: task int-thrower[" + std::to_string(b.pid) +
                            "] ended by an uncaught exception of type int"),
              1u);
    EXPECT_TRUE(survivor_ran.load());
}

}  // namespace
}  // namespace kp
