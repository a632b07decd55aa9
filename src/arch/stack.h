// Task stacks and the stack switch: the part of switch_to that every machine
// shares. A stack is mmap'ed with a PROT_NONE guard page below it, so that an
// overflow faults instead of silently corrupting a neighbour.
#pragma once

#include <cstddef>

namespace kp {

// One saved execution context: a stack and the stack pointer saved in it.
struct stack_context {
    void* sp = nullptr;            // saved stack pointer while switched out
    void* bottom = nullptr;        // lowest usable address (above the guard)
    std::size_t size = 0;          // usable bytes
    void* asan_fake_stack = nullptr;
};

// An owned, guarded stack.
class task_stack {
public:
    explicit task_stack(std::size_t usable_bytes);
    ~task_stack();
    task_stack(const task_stack&) = delete;
    task_stack& operator=(const task_stack&) = delete;

    void* bottom() const { return bottom_; }
    std::size_t size() const { return size_; }
    // The guard page, for reporting a fault address as an overflow.
    bool in_guard(const void* addr) const;
    // The owning task never finished and its frames are dropped without
    // unwinding (its machine is destroyed while it is blocked or preempted);
    // sp is its saved stack pointer. Objects its frames own are leaked. Under
    // LeakSanitizer, heap objects referenced from the live part [sp, top) are
    // marked as not leaked, as if the stack were still scanned; real leaks
    // elsewhere are still reported. A no-op without KP_SANITIZE.
    void forget_frames(const void* sp) const;

private:
    void* map_ = nullptr;
    std::size_t map_size_ = 0;
    void* bottom_ = nullptr;
    std::size_t size_ = 0;
};

// Make ctx start in entry(arg) on its first switch-in. entry must not return.
void stack_init(stack_context& ctx, const task_stack& stack, void (*entry)(void*), void* arg);

// Describe the calling thread's own stack (the machine's loop context).
void stack_context_of_this_thread(stack_context& ctx);

enum class switch_kind { keep_from, from_dies };

// Save the current context into `from` and resume `to`. Returns when someone
// switches back to `from`. With from_dies the sanitizers are told that the
// old stack is gone for good.
void stack_switch(stack_context& from, stack_context& to, switch_kind kind = switch_kind::keep_from);

// First thing an entry function does on a fresh stack (sanitizer bookkeeping).
void stack_first_entry();

}  // namespace kp
