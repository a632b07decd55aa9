// Counting call paths from the shadow call stack, printed as bpftrace
// prints @[kstack] = count().
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "kernel/trace/callpath.h"
#include "kpreempt/kpreempt.h"
#include "test_util.h"

namespace kp {
namespace {

std::string paths_of(preempt_mode model, std::vector<std::string> functions) {
    if (!callpaths_compiled) return "(built without call-path marks)";
    sim m({.model = model});
    callpath_counter counter(std::move(functions));
    counter.attach(m.kern());
    spawn_seed_diagram(m);
    m.run();
    counter.detach(m.kern());
    return counter.format();
}

// Under FULL, TaskB's wakeup from the 2.5 ms interrupt is the only call of
// resched_curr (TaskA runs alone until then, so no tick asks for one).
TEST(Callpath, WhoCallsReschedCurrInTheSeedDiagram) {
    if (!callpaths_compiled) GTEST_SKIP() << "built with -DKP_CALLPATHS=OFF";
    EXPECT_EQ(paths_of(preempt_mode::full, {"resched_curr"}),
              "@[\n"
              "        resched_curr\n"
              "        wakeup_preempt\n"
              "        ttwu_do_activate\n"
              "        try_to_wake_up\n"
              "        common_interrupt\n"
              "]: 1\n");
}

// Under NONE, as in the seed notes: how each path reached
// exit_to_user_mode_prepare (both tasks' ret_from_fork, TaskA's syscall
// exit, two ticks from user mode), and every __schedule: TaskB preempting
// TaskA at its syscall exit, the idle loop, and the two exits.
TEST(Callpath, ExitToUserModeAndScheduleUnderNone) {
    if (!callpaths_compiled) GTEST_SKIP() << "built with -DKP_CALLPATHS=OFF";
    EXPECT_EQ(paths_of(preempt_mode::none, {"exit_to_user_mode_prepare", "__schedule"}),
              "@[\n        __schedule\n        do_idle\n]: 1\n"
              "@[\n        __schedule\n        schedule\n        exit_to_user_mode_prepare\n"
              "        syscall_exit_to_user_mode\n]: 1\n"
              "@[\n        exit_to_user_mode_prepare\n        syscall_exit_to_user_mode\n]: 1\n"
              "@[\n        __schedule\n        do_task_dead\n        do_exit\n]: 2\n"
              "@[\n        exit_to_user_mode_prepare\n        irqentry_exit\n"
              "        sysvec_apic_timer_interrupt\n]: 2\n"
              "@[\n        exit_to_user_mode_prepare\n        syscall_exit_to_user_mode\n        ret_from_fork\n]: 2\n");
}

// Detached, nothing is counted and no task keeps a shadow stack.
TEST(Callpath, NothingWhenNotAttached) {
    sim m;
    spawn_seed_diagram(m);
    m.run();
    for (const auto& t : m.kern().tasks()) EXPECT_FALSE(t->kstack) << t->comm;
}

// Every name callpath_functions() offers is marked somewhere in the core,
// and every mark is offered.
TEST(Callpath, FunctionListMatchesTheMarksInTheSources) {
    std::string sources;
    for (const auto& f : std::filesystem::recursive_directory_iterator(std::string(KP_SOURCE_DIR) + "/src/kernel")) {
        if (f.path().extension() != ".cpp") continue;
        std::ifstream in(f.path());
        std::stringstream ss;
        ss << in.rdbuf();
        sources += ss.str();
    }
    for (std::string_view fn : callpath_functions()) {
        const std::string mark = "shadow_frame<\"" + std::string(fn) + "\"> frame;";
        const std::string entry = "return \"" + std::string(fn) + "\";";
        EXPECT_TRUE(sources.find(mark) != std::string::npos || sources.find(entry) != std::string::npos) << fn;
    }
    std::size_t marks = 0;
    for (std::size_t at = sources.find("shadow_frame<\""); at != std::string::npos;
         at = sources.find("shadow_frame<\"", at + 1))
        ++marks;
    EXPECT_EQ(marks + 5, callpath_functions().size());  // + the five x86 entry names of handle_arch_irq
}

}  // namespace
}  // namespace kp
