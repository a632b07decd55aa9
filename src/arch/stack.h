// Task stacks and the stack switch: the part of switch_to that every machine
// shares. A stack is mmap'ed with a PROT_NONE guard page below it, so that an
// overflow faults instead of silently corrupting a neighbour; every guard
// page is registered with its owner's name for the fault handler
// (arch/fault.h, docs/faults.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace kp {

// What a stack is for, as Linux's stack_type_name() names it in the
// overflow report: a task's stack, or a CPU's hardirq stack.
enum class stack_kind : std::uint8_t { task, irq };

// Who runs on a stack, as the overflow report names it: a task's comm and
// pid, or for an irq stack its CPU.
struct stack_owner {
    std::string_view comm;  // at most TASK_COMM_LEN - 1 = 15 characters are kept
    int pid = 0;
    stack_kind kind = stack_kind::task;
    int cpu = -1;           // an irq stack's CPU
};

// What the guard-page registry knows of one stack (a copy: the stack may be
// freed meanwhile by another thread).
struct guard_hit {
    std::uintptr_t guard = 0;     // the guard page's first byte
    std::uintptr_t bottom = 0;    // the usable stack: [bottom, top)
    std::uintptr_t top = 0;
    int pid = 0;
    char comm[16] = {};           // NUL-terminated
    stack_kind kind = stack_kind::task;
    int cpu = -1;
};

// Whether addr lies in the guard page of a live task stack, or less than
// `above` bytes above it (the stack's lowest bytes); if so, fills hit.
// Async-signal-safe: no lock, no allocation, only atomic loads of slots that
// are never freed.
bool stack_guard_lookup(const void* addr, guard_hit& hit, std::size_t above = 0) noexcept;

struct guard_slot;

// One saved execution context: a stack and the stack pointer saved in it.
struct stack_context {
    void* sp = nullptr;            // saved stack pointer while switched out
    void* bottom = nullptr;        // lowest usable address (above the guard)
    std::size_t size = 0;          // usable bytes
    void* asan_fake_stack = nullptr;
    // While this context's code runs on another stack (call_on_stack): its
    // stack pointer on its own stack, where its older frames are. Null
    // otherwise.
    void* outer_sp = nullptr;
};

// An owned, guarded stack.
class task_stack {
public:
    // Registers the guard page under `owner` until the destructor.
    explicit task_stack(std::size_t usable_bytes, const stack_owner& owner = {});
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
    guard_slot* slot_ = nullptr;  // this stack's entry in the guard-page registry
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

// Run fn(arg) on `stack`, from its top, and return here on the calling
// stack (x86's call_on_stack, for the per-CPU irq stack). `running` is the
// context of the calling code (the current task's): while fn runs it
// describes `stack` (bottom, size, and outer_sp is set), because fn may be
// switched away from and back to through `running` (a simulated CPU parks
// in burn()), and stack_switch tells the sanitizers which stack it resumes
// from those bounds. Nothing else may run on `stack` meanwhile. An
// exception from fn comes back through here (the unwinders see the frames).
void call_on_stack(stack_context& running, const task_stack& stack, void (*fn)(void*), void* arg);

}  // namespace kp
