// %pS for our own code addresses (lib/vsprintf.c symbol_string ->
// sprint_symbol): "name+0xoff/0xsize". The kernel looks the address up in
// kallsyms; we ask the dynamic linker (dladdr1), which sees the functions
// of an executable linked with -rdynamic (the kpreempt CLI is) and of the
// shared libraries. C++ names are demangled and shortened to one token
// (no return type, no parameter list, no spaces) so that a field stays a
// single key=value pair for the parsers.
#include <cxxabi.h>
#include <dlfcn.h>
#include <link.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "tracing/ftrace_text.h"

namespace kp {

namespace {

std::string hex(std::uintptr_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%" PRIxPTR, v);
    return buf;
}

std::string demangle(const char* name) {
    int status = 0;
    std::unique_ptr<char, decltype(&std::free)> d(abi::__cxa_demangle(name, nullptr, nullptr, &status), &std::free);
    return status == 0 && d ? std::string(d.get()) : std::string(name);
}

bool opens(char c) { return c == '(' || c == '<' || c == '[' || c == '{'; }
bool closes(char c) { return c == ')' || c == '>' || c == ']' || c == '}'; }

// "void kp::f<int, long>(kp::rq&) const" -> "kp::f<int,long>".
std::string one_token(std::string s) {
    for (const char* q : {" const", " volatile", " &&", " &"})
        if (s.ends_with(q)) s.resize(s.size() - std::string_view(q).size());
    if (s.ends_with(")")) {  // drop the parameter list
        int depth = 0;
        for (std::size_t i = s.size(); i-- > 0;) {
            depth += closes(s[i]) ? 1 : opens(s[i]) ? -1 : 0;
            if (depth == 0) {
                s.resize(i);
                break;
            }
        }
    }
    for (std::size_t at; (at = s.find("(anonymous namespace)")) != std::string::npos;)
        s.replace(at, 21, "{anonymous}");
    int depth = 0;
    std::size_t name_start = 0;  // after a template function's return type
    for (std::size_t i = 0; i < s.size(); ++i) {
        depth += opens(s[i]) ? 1 : closes(s[i]) ? -1 : 0;
        if (s[i] == ' ' && depth == 0) name_start = i + 1;
    }
    std::string out;
    for (std::size_t i = name_start; i < s.size(); ++i)
        if (s[i] != ' ') out += s[i];
    return out.empty() ? s : out;
}

}  // namespace

std::string format_code_address(std::uintptr_t addr) {
    if (addr == 0) return "0x0";
    Dl_info info{};
    void* extra = nullptr;  // the ElfW(Sym) of the symbol found
    if (dladdr1(reinterpret_cast<void*>(addr), &info, &extra, RTLD_DL_SYMENT) == 0) return hex(addr);
    const auto* sym = static_cast<const ElfW(Sym)*>(extra);
    if (info.dli_sname && info.dli_saddr && sym) {
        const std::uintptr_t off = addr - reinterpret_cast<std::uintptr_t>(info.dli_saddr);
        // dladdr gives the nearest exported symbol below; it holds the
        // address only if the address is inside it.
        if (off < sym->st_size) return one_token(demangle(info.dli_sname)) + "+" + hex(off) + "/" + hex(sym->st_size);
    }
    return hex(addr - reinterpret_cast<std::uintptr_t>(info.dli_fbase));
}

}  // namespace kp
