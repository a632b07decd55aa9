#include "arch/stack.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>

#if KP_SANITIZE
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif

extern "C" void kp_stack_switch(void** save_sp, void* new_sp);
extern "C" void kp_stack_trampoline();
extern "C" void kp_call_on_stack(void* top, void (*fn)(void*), void* arg, void** save_sp);

namespace kp {

namespace {
std::size_t page_size() {
    static const std::size_t ps = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return ps;
}
}  // namespace

// ---- the guard-page registry ----------------------------------------------
//
// Which task owns the guard page at an address, for the SIGSEGV handler
// (arch/fault.cpp). The handler may run on any thread at any moment, so the
// lookup takes no lock and allocates nothing: it scans slots with atomic
// loads. Slots live in chunks that are never freed (the registry only grows
// to the most stacks ever alive at once), so a lookup racing with a stack's
// destruction on another thread reads a stale or cleared slot, never freed
// memory. Creating and destroying stacks take a mutex. This is the one
// process-wide table of the arch layer: a signal handler has no machine to
// ask, and a fault address may belong to any machine's task.

struct guard_slot {
    std::atomic<std::uintptr_t> guard{0};  // the guard page; 0 while the slot is free
    guard_hit owner;                        // written before guard is published
    guard_slot* next_free = nullptr;        // under the registry's mutex
};

namespace {

struct guard_chunk {
    static constexpr std::size_t nr_slots = 256;
    guard_slot slots[nr_slots];
    std::atomic<guard_chunk*> next{nullptr};
};

class guard_registry {
public:
    guard_slot* add(const guard_hit& owner) {
        std::lock_guard lock(mu_);
        guard_slot* s = free_;
        if (s != nullptr) {
            free_ = s->next_free;
        } else {
            if (used_in_last_ == guard_chunk::nr_slots) {
                auto* c = new guard_chunk;  // never freed; reachable from first_
                last_->next.store(c, std::memory_order_release);
                last_ = c;
                used_in_last_ = 0;
            }
            s = &last_->slots[used_in_last_++];
        }
        s->owner = owner;
        s->guard.store(owner.guard, std::memory_order_release);
        return s;
    }

    void remove(guard_slot* s) {
        std::lock_guard lock(mu_);
        s->guard.store(0, std::memory_order_release);
        s->next_free = free_;
        free_ = s;
    }

    bool find(std::uintptr_t addr, std::size_t above, guard_hit& hit) const noexcept {
        for (const guard_chunk* c = &first_; c != nullptr; c = c->next.load(std::memory_order_acquire)) {
            for (const guard_slot& s : c->slots) {
                const std::uintptr_t g = s.guard.load(std::memory_order_acquire);
                if (g == 0 || addr < g || addr >= s.owner.bottom + above) continue;
                hit = s.owner;
                hit.comm[sizeof hit.comm - 1] = '\0';  // a slot reused meanwhile may be torn
                return true;
            }
        }
        return false;
    }

private:
    std::mutex mu_;
    guard_chunk first_;
    guard_chunk* last_ = &first_;
    std::size_t used_in_last_ = 0;
    guard_slot* free_ = nullptr;
};

// Constant-initialized: usable before any dynamic initializer runs.
constinit guard_registry registry;

guard_hit make_owner(std::uintptr_t guard, std::uintptr_t bottom, std::size_t size, const stack_owner& owner) {
    guard_hit h;
    h.guard = guard;
    h.bottom = bottom;
    h.top = bottom + size;
    h.pid = owner.pid;
    const std::size_t n = std::min(owner.comm.size(), sizeof h.comm - 1);
    if (n != 0) std::memcpy(h.comm, owner.comm.data(), n);  // an irq stack has no comm (data() may be null)
    h.comm[n] = '\0';
    h.kind = owner.kind;
    h.cpu = owner.cpu;
    return h;
}

}  // namespace

bool stack_guard_lookup(const void* addr, guard_hit& hit, std::size_t above) noexcept {
    return registry.find(reinterpret_cast<std::uintptr_t>(addr), above, hit);
}

// ---- task stacks ------------------------------------------------------------

task_stack::task_stack(std::size_t usable_bytes, const stack_owner& owner) {
    const std::size_t ps = page_size();
    size_ = (usable_bytes + ps - 1) / ps * ps;
    map_size_ = size_ + ps;
    map_ = mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                -1, 0);
    if (map_ == MAP_FAILED) throw std::bad_alloc();
    if (mprotect(map_, ps, PROT_NONE) != 0) {
        munmap(map_, map_size_);
        throw std::bad_alloc();
    }
    bottom_ = static_cast<char*>(map_) + ps;
    try {
        slot_ = registry.add(make_owner(reinterpret_cast<std::uintptr_t>(map_),
                                        reinterpret_cast<std::uintptr_t>(bottom_), size_, owner));
    } catch (...) {
        munmap(map_, map_size_);
        throw;
    }
}

task_stack::~task_stack() {
    registry.remove(slot_);  // before the pages go: a new mapping may reuse them
#if KP_SANITIZE
    // A task still switched out when its machine is destroyed leaves its
    // frames' redzones poisoned; a later mmap may reuse these addresses.
    ASAN_UNPOISON_MEMORY_REGION(bottom_, size_);
#endif
    munmap(map_, map_size_);
}

void task_stack::forget_frames([[maybe_unused]] const void* sp) const {
#if KP_SANITIZE
    auto lo = reinterpret_cast<std::uintptr_t>(sp);
    const auto base = reinterpret_cast<std::uintptr_t>(bottom_);
    const auto top = base + size_;
    if (lo < base || lo >= top) return;
    lo &= ~(alignof(void*) - 1);
    // The frames' redzones are poisoned: unpoison before reading the words.
    ASAN_UNPOISON_MEMORY_REGION(reinterpret_cast<void*>(lo), top - lo);
    for (auto a = lo; a + sizeof(void*) <= top; a += sizeof(void*)) {
        void* word;
        std::memcpy(&word, reinterpret_cast<const void*>(a), sizeof word);
        if (word != nullptr) __lsan_ignore_object(word);  // no-op unless it points into a live heap block
    }
#endif
}

bool task_stack::in_guard(const void* addr) const {
    auto a = reinterpret_cast<std::uintptr_t>(addr);
    auto g = reinterpret_cast<std::uintptr_t>(map_);
    return a >= g && a < g + page_size();
}

void stack_init(stack_context& ctx, const task_stack& stack, void (*entry)(void*), void* arg) {
    // Build the frame kp_stack_switch pops (see switch.S), placed so that the
    // trampoline's call happens with a 16-byte aligned stack.
    auto top = (reinterpret_cast<std::uintptr_t>(stack.bottom()) + stack.size()) & ~std::uintptr_t{15};
    auto* frame = reinterpret_cast<std::uint64_t*>(top - 88);
    std::memset(frame, 0, 88);
    const std::uint32_t mxcsr = 0x1f80;  // power-on default: all exceptions masked
    const std::uint16_t fpucw = 0x037f;
    std::memcpy(reinterpret_cast<char*>(frame) + 8, &mxcsr, sizeof mxcsr);
    std::memcpy(reinterpret_cast<char*>(frame) + 12, &fpucw, sizeof fpucw);
    frame[4] = reinterpret_cast<std::uint64_t>(entry);  // r13
    frame[5] = reinterpret_cast<std::uint64_t>(arg);    // r12
    frame[8] = reinterpret_cast<std::uint64_t>(&kp_stack_trampoline);
    ctx.sp = frame;
    ctx.bottom = stack.bottom();
    ctx.size = stack.size();
    ctx.asan_fake_stack = nullptr;
}

void stack_context_of_this_thread(stack_context& ctx) {
    pthread_attr_t attr;
    void* addr = nullptr;
    std::size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &addr, &size);
        pthread_attr_destroy(&attr);
    }
    ctx.bottom = addr;
    ctx.size = size;
}

namespace {

// The sanitizers' fiber annotations of every stack switch, no-ops without
// KP_SANITIZE.
void fiber_leave(void** keep_fake_stack, const void* to_bottom, std::size_t to_size) {
#if KP_SANITIZE
    __sanitizer_start_switch_fiber(keep_fake_stack, to_bottom, to_size);
#else
    (void)keep_fake_stack, (void)to_bottom, (void)to_size;
#endif
}

void fiber_arrive(void* fake_stack, const void** from_bottom, std::size_t* from_size) {
#if KP_SANITIZE
    __sanitizer_finish_switch_fiber(fake_stack, from_bottom, from_size);
#else
    (void)fake_stack, (void)from_bottom, (void)from_size;
#endif
}

}  // namespace

void stack_switch(stack_context& from, stack_context& to, switch_kind kind) {
    assert(to.sp != nullptr);
    fiber_leave(kind == switch_kind::from_dies ? nullptr : &from.asan_fake_stack, to.bottom, to.size);
    kp_stack_switch(&from.sp, to.sp);
    fiber_arrive(from.asan_fake_stack, nullptr, nullptr);
}

void stack_first_entry() { fiber_arrive(nullptr, nullptr, nullptr); }

// ---- calling a function on another stack ------------------------------------
// The called stack is a fiber of its own that dies at every return (no fake
// stack is kept for it); the caller's fake stack is kept.

namespace {

struct on_stack_call {
    void (*fn)(void*);
    void* arg;
    const void* from_bottom = nullptr;  // the calling stack, as the sanitizers knew it
    std::size_t from_size = 0;
};

// The first frame on the called stack: arrive, run fn, leave (also when fn
// throws, so that the caller's landing pads run on a stack the sanitizers
// know).
void on_stack_entry(void* p) {
    auto& call = *static_cast<on_stack_call*>(p);
    fiber_arrive(nullptr, &call.from_bottom, &call.from_size);
    struct leave_on_return {
        on_stack_call& call;
        ~leave_on_return() { fiber_leave(nullptr, call.from_bottom, call.from_size); }
    } leave{call};
    call.fn(call.arg);
}

// `running` describes the called stack while the call lasts (see stack.h),
// and the calling stack again afterwards, also on unwinding.
class running_on {
public:
    running_on(stack_context& running, const task_stack& stack)
        : running_(running), bottom_(running.bottom), size_(running.size) {
        assert(running.outer_sp == nullptr && "call_on_stack does not nest");
        running.bottom = stack.bottom();
        running.size = stack.size();
    }
    ~running_on() {
        running_.bottom = bottom_;
        running_.size = size_;
        running_.outer_sp = nullptr;
        fiber_arrive(fake_stack_, nullptr, nullptr);
    }
    running_on(const running_on&) = delete;
    running_on& operator=(const running_on&) = delete;
    void** fake_stack_slot() { return &fake_stack_; }

private:
    stack_context& running_;
    void* bottom_;
    std::size_t size_;
    void* fake_stack_ = nullptr;  // the calling stack's, kept while away
};

}  // namespace

void call_on_stack(stack_context& running, const task_stack& stack, void (*fn)(void*), void* arg) {
    const auto top = (reinterpret_cast<std::uintptr_t>(stack.bottom()) + stack.size()) & ~std::uintptr_t{15};
    on_stack_call call{fn, arg};
    running_on scope(running, stack);
    fiber_leave(scope.fake_stack_slot(), stack.bottom(), stack.size());
    kp_call_on_stack(reinterpret_cast<void*>(top), on_stack_entry, &call, &running.outer_sp);
}

}  // namespace kp
