#include "arch/stack.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cassert>
#include <cstdint>
#include <cstring>
#include <new>

#if KP_SANITIZE
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif

extern "C" void kp_stack_switch(void** save_sp, void* new_sp);
extern "C" void kp_stack_trampoline();

namespace kp {

namespace {
std::size_t page_size() {
    static const std::size_t ps = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return ps;
}
}  // namespace

task_stack::task_stack(std::size_t usable_bytes) {
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
}

task_stack::~task_stack() {
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

void stack_switch(stack_context& from, stack_context& to, [[maybe_unused]] switch_kind kind) {
    assert(to.sp != nullptr);
#if KP_SANITIZE
    __sanitizer_start_switch_fiber(kind == switch_kind::from_dies ? nullptr : &from.asan_fake_stack,
                                   to.bottom, to.size);
#endif
    kp_stack_switch(&from.sp, to.sp);
#if KP_SANITIZE
    __sanitizer_finish_switch_fiber(from.asan_fake_stack, nullptr, nullptr);
#endif
}

void stack_first_entry() {
#if KP_SANITIZE
    __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}

}  // namespace kp
