// The C++ half of the asynchronous redirect (async_entry.h): what the
// signal handler records, what kp_async_entry (src/arch/x86_64/async_entry.S)
// calls once the handler has returned, and the CPU facts the trampoline
// reads (save method, xsave mask, area size).
#include "arch/host/async_entry.h"

#include <cpuid.h>
#include <link.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>

// Read by kp_async_entry with rip-relative loads (hidden: no GOT even if the
// library ends up in a shared object). Written only by async_entry_init
// (publish), before any redirecting signal is armed.
extern "C" {
[[gnu::visibility("hidden")]] std::uint32_t kp_async_mode = 0;  // save_method
[[gnu::visibility("hidden")]] std::uint64_t kp_async_xsave_mask = 0;
[[gnu::visibility("hidden")]] std::uint64_t kp_async_area_size = 0;
[[gnu::visibility("hidden")]] std::uint32_t kp_async_vzeroupper = 0;

[[gnu::visibility("hidden")]] void kp_async_entry();
[[gnu::visibility("hidden")]] void kp_async_dispatch(std::uintptr_t* resume_pc);
}

namespace kp {
namespace {

// The values of kp_async_mode, as async_entry.S tests them.
enum save_method : std::uint32_t { none = 0, fxsave = 1, xsave = 2 };

constexpr std::size_t fxsave_area = 512;
constexpr std::size_t xsave_legacy_and_header = 576;  // legacy area + 64-byte header
constexpr unsigned xfd_component = 1u << 2;           // CPUID.(0xD,i).ECX[2]

// One redirect between the handler that records it and kp_async_dispatch
// that takes it. Per thread because the thread that took the signal is the
// one that runs kp_async_entry after sigreturn. fn != nullptr marks it
// taken-not-yet: a second signal in that window must not overwrite pc (the
// first trampoline has not saved it yet), so async_redirect refuses.
// initial-exec: a static TLS block, no __tls_get_addr (which may allocate)
// inside a signal handler.
struct pending_redirect {
    std::uintptr_t pc = 0;
    void* arg = nullptr;
    std::atomic<async_fn> fn{nullptr};
};
[[gnu::tls_model("initial-exec")]] constinit thread_local pending_redirect tls_pending;

// The main program's executable PT_LOAD segments, [begin, end).
struct text_range {
    std::uintptr_t begin = 0;
    std::uintptr_t end = 0;
};
constexpr int max_text_ranges = 8;
text_range text_ranges[max_text_ranges];
std::atomic<int> text_range_count{0};

// dl_iterate_phdr visits the main program first (glibc documents the order:
// the executable, then the libraries in load order, ld.so and the vDSO).
int record_main_text(dl_phdr_info* info, std::size_t, void*) {
    int n = 0;
    for (int i = 0; i < info->dlpi_phnum && n < max_text_ranges; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) {
            continue;
        }
        std::uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
        text_ranges[n++] = text_range{begin, begin + ph.p_memsz};
    }
    text_range_count.store(n, std::memory_order_release);
    return 1;  // stop after the first object
}

bool cpu_has_os_xsave() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(1, &a, &b, &c, &d) == 0) {
        return false;
    }
    return (c & bit_XSAVE) != 0 && (c & bit_OSXSAVE) != 0;
}

std::uint64_t read_xcr0() {
    std::uint32_t lo = 0, hi = 0;
    asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (std::uint64_t{hi} << 32) | lo;
}

// What kp_async_entry reads, as one value.
struct save_config {
    std::uint32_t mode = none;
    std::uint64_t xsave_mask = 0;
    std::uint64_t area_size = 0;
    std::uint32_t vzeroupper = 0;
};

// Every user component the OS enabled, less those behind XFD: AMX tile data
// is armed per thread by the kernel until first use, and xrstor of an armed
// component faults (#NM). Code preempted with live AMX tiles would lose them;
// nothing here uses AMX. The area ends where the last saved component ends
// (standard format: fixed offsets from CPUID leaf 0xD), not at the size of
// everything in XCR0, which with AMX would be 8 KiB more per preemption.
save_config xsave_config(std::uint64_t xcr0) {
    std::uint64_t mask = xcr0 & 0x3;  // x87, SSE: the legacy area
    std::uint64_t size = xsave_legacy_and_header;
    for (unsigned i = 2; i < 63; ++i) {
        if ((xcr0 >> i & 1) == 0) {
            continue;
        }
        unsigned bytes = 0, offset = 0, flags = 0, d = 0;
        __cpuid_count(0xD, i, bytes, offset, flags, d);
        if ((flags & xfd_component) != 0) {
            continue;
        }
        mask |= std::uint64_t{1} << i;
        size = std::max<std::uint64_t>(size, std::uint64_t{offset} + bytes);
    }
    // vzeroupper only where the upper halves of ymm are saved.
    return save_config{xsave, mask, size, (mask >> 2 & 1) != 0 ? 1u : 0u};
}

// fxsave keeps no upper halves: vzeroupper would destroy them.
constexpr save_config fxsave_config{fxsave, 0, fxsave_area, 0};

// Each host machine calls async_entry_init while another one's vCPUs may be
// inside kp_async_entry: writing only on a change keeps a repeated call with
// the same mode a no-op rather than a race with the trampoline's reads.
void publish(const save_config& c) {
    if (kp_async_mode == c.mode && kp_async_xsave_mask == c.xsave_mask && kp_async_area_size == c.area_size &&
        kp_async_vzeroupper == c.vzeroupper) {
        return;
    }
    kp_async_xsave_mask = c.xsave_mask;
    kp_async_area_size = c.area_size;
    kp_async_vzeroupper = c.vzeroupper;
    kp_async_mode = c.mode;
}

// errno is per thread and fn may come back on another thread: the value
// belongs to the task, so it goes to whichever thread resumes it. Out of
// line so that errno's address (glibc declares __errno_location const) is
// computed afresh after fn instead of being kept from before it.
[[gnu::noinline]] void set_errno(int value) {
    errno = value;
}

}  // namespace

void async_entry_init(async_save_mode mode) {
    // The main program's text does not move: find it once.
    static const bool found = (dl_iterate_phdr(record_main_text, nullptr), true);
    (void)found;
    if (mode == async_save_mode::auto_detect && cpu_has_os_xsave()) {
        publish(xsave_config(read_xcr0()));
    } else {
        publish(fxsave_config);
    }
}

bool async_redirect(ucontext_t* uc, async_fn fn, void* arg) {
    pending_redirect& p = tls_pending;
    if (kp_async_mode == none || fn == nullptr || p.fn.load(std::memory_order_relaxed) != nullptr) {
        return false;
    }
    greg_t* regs = uc->uc_mcontext.gregs;
    p.pc = static_cast<std::uintptr_t>(regs[REG_RIP]);
    p.arg = arg;
    p.fn.store(fn, std::memory_order_release);
    regs[REG_RIP] = static_cast<greg_t>(reinterpret_cast<std::uintptr_t>(&kp_async_entry));
    return true;
}

bool async_safe_pc(const ucontext_t* uc) {
    std::uintptr_t pc = interrupted_pc(uc);
    int n = text_range_count.load(std::memory_order_acquire);
    for (int i = 0; i < n; ++i) {
        if (pc >= text_ranges[i].begin && pc < text_ranges[i].end) {
            return true;
        }
    }
    return false;
}

std::uintptr_t interrupted_pc(const ucontext_t* uc) {
    return static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
}

}  // namespace kp

// Called by kp_async_entry with every interrupted register saved, on the
// interrupted stack, in thread context. resume_pc is the frame's return slot
// . The slot is read before it is released: a signal in between sees
// it still taken and is refused; one after it starts a fresh frame below
// this one, which is fine.
extern "C" void kp_async_dispatch(std::uintptr_t* resume_pc) {
    kp::pending_redirect& p = kp::tls_pending;
    *resume_pc = p.pc;
    void* arg = p.arg;
    kp::async_fn fn = p.fn.load(std::memory_order_relaxed);
    p.fn.store(nullptr, std::memory_order_release);
    int saved_errno = errno;
    fn(arg);  // may switch stacks and return on another thread
    kp::set_errno(saved_errno);
}
