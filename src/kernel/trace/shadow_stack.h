// A shadow call stack of the core's own functions (for counting call
// paths, as bpftrace's @[kstack] = count() does on a real kernel).
//
// It belongs to the task, as a kernel stack does: a task switched out in
// the middle of schedule() keeps its frames until it resumes, and an
// interrupt handler pushes its frames on top of the task it interrupted.
// Functions mark themselves with a shadow_frame; while no call-path counter
// is attached, a frame costs two no-op instructions (sites of callpath_key).
#pragma once

#include <array>
#include <cstdint>

namespace kp {

struct shadow_stack {
    static constexpr int max_depth = 64;
    std::array<const char*, max_depth> frames{};  // outermost first
    int depth = 0;    // may exceed max_depth: the deeper frames are not kept
};

}  // namespace kp
