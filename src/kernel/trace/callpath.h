// Counting call paths: each time one of the chosen functions is entered,
// the current task's shadow stack (shadow_stack.h) is counted, and the
// counts print as bpftrace prints a map keyed by kstack:
//
//   @[
//           resched_curr
//           wakeup_preempt
//           try_to_wake_up
//   ]: 12
//
// Frames are our functions' names, which are Linux's, innermost first;
// there are no offsets (no machine code to be +N into), so a frame is a
// bare name, which stackcollapse-bpftrace.pl accepts as well.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/kernel.h"

namespace kp {

class callpath_counter {
public:
    // Count the stacks at entry to each function of `functions`.
    explicit callpath_counter(std::vector<std::string> functions);
    ~callpath_counter();
    callpath_counter(const callpath_counter&) = delete;
    callpath_counter& operator=(const callpath_counter&) = delete;
    void attach(kernel& k);
    void detach(kernel& k);
    // Called by shadow_frame when a function is entered.
    void on_enter(const shadow_stack& s, const char* fn);
    // The map in bpftrace's printed form, ascending by count.
    std::string format() const;
    std::uint64_t total() const;

private:
    std::vector<std::string> functions_;
    kernel* attached_ = nullptr;
    std::map<std::vector<const char*>, std::uint64_t> counts_;
};

// The functions that mark themselves with a shadow_frame, by name.
const std::vector<std::string_view>& callpath_functions();

#if defined(KP_NO_CALLPATHS) || defined(KP_NO_TRACEPOINTS)
inline constexpr bool callpaths_compiled = false;
#else
inline constexpr bool callpaths_compiled = true;
#endif

void shadow_push_slow(const char* fn);
void shadow_pop_slow(const char* fn);

// RAII: this function is on the current task's shadow stack while in scope.
// Off, entry and exit each cost one compare of callpath_gate: the frame
// keeps no state (its name is a literal the compiler folds in), and the
// exit pops only a stack whose top is this function, so a gate opened or
// closed in between leaves the stacks consistent.
class [[nodiscard]] shadow_frame {
public:
    explicit shadow_frame(const char* fn) : fn_(fn) {
        if (callpaths_compiled && callpath_gate.load(std::memory_order_relaxed) != 0) [[unlikely]]
            shadow_push_slow(fn_);
    }
    ~shadow_frame() {
        if (callpaths_compiled && callpath_gate.load(std::memory_order_relaxed) != 0) [[unlikely]]
            shadow_pop_slow(fn_);
    }
    shadow_frame(const shadow_frame&) = delete;
    shadow_frame& operator=(const shadow_frame&) = delete;

private:
    const char* fn_;
};

}  // namespace kp
