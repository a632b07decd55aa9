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

#include <cstddef>
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
    // Called by shadow_frame when a function is entered on CPU `cpu`.
    void on_enter(int cpu, const shadow_stack& s, const char* fn);
    // The map in bpftrace's printed form, ascending by count.
    std::string format() const;
    std::uint64_t total() const;

private:
    std::vector<std::string> functions_;
    kernel* attached_ = nullptr;
    // One map per CPU, each touched only by its own CPU, so that vCPUs
    // counting at once (the host machine) share nothing; merged when read.
    using stack_counts = std::map<std::vector<const char*>, std::uint64_t>;
    std::vector<stack_counts> counts_;
    stack_counts merged() const;
};

// The functions that mark themselves with a shadow_frame, by name.
const std::vector<std::string_view>& callpath_functions();

#if defined(KP_NO_CALLPATHS) || defined(KP_NO_TRACEPOINTS)
inline constexpr bool callpaths_compiled = false;
#else
inline constexpr bool callpaths_compiled = true;
#endif

[[gnu::cold]] void shadow_push_slow(const char* fn);
[[gnu::cold]] void shadow_pop_slow(const char* fn);

[[gnu::always_inline]] inline bool callpath_gate_open() {
    return callpaths_compiled && static_branch_unlikely<callpath_key>();
}

// A function's name as a template argument: the frame then keeps no state
// and the name's address is a link-time constant.
template <std::size_t N>
struct frame_name {
    char value[N];
    constexpr frame_name(const char (&s)[N]) {  // NOLINT: implicit, for shadow_frame<"name">
        for (std::size_t i = 0; i < N; ++i) value[i] = s[i];
    }
};

// RAII: this function is on the current task's shadow stack while in scope.
// Off, entry and exit are each a no-op (a site of callpath_key), and the
// slow paths are out of line. The exit pops only a stack whose top is this
// function, so a gate opened or closed in between leaves the stacks
// consistent.
template <frame_name Name>
class [[nodiscard]] shadow_frame {
public:
    shadow_frame() {
        if (callpath_gate_open()) [[unlikely]]
            shadow_push_slow(Name.value);
    }
    ~shadow_frame() {
        if (callpath_gate_open()) [[unlikely]]
            shadow_pop_slow(Name.value);
    }
    shadow_frame(const shadow_frame&) = delete;
    shadow_frame& operator=(const shadow_frame&) = delete;
};

// The same, for a name chosen at run time (the x86 entry point of an irq).
class [[nodiscard]] named_shadow_frame {
public:
    explicit named_shadow_frame(const char* fn) : fn_(fn) {
        if (callpath_gate_open()) [[unlikely]]
            shadow_push_slow(fn_);
    }
    ~named_shadow_frame() {
        if (callpath_gate_open()) [[unlikely]]
            shadow_pop_slow(fn_);
    }
    named_shadow_frame(const named_shadow_frame&) = delete;
    named_shadow_frame& operator=(const named_shadow_frame&) = delete;

private:
    const char* fn_;
};

}  // namespace kp
