// Turning a workload into kernel tasks, and running it.
#include "workload/runner.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <type_traits>

#include "kernel/debug/debug.h"
#include "kernel/trace/callpath.h"
#include "kernel/trace/latency_tracer.h"
#include "kpreempt/kpreempt.h"
#include "tracing/ftrace_text.h"
#include "workload/devices.h"
#include "workload/stats.h"
#include "workload/sync_objects.h"

namespace kp::workload {

namespace {

constexpr nsec_t runtime_chunk = usecs(32);      // rt-app's runtime loop step
constexpr nsec_t default_limit = secs(10);       // when nothing ends the run
constexpr nsec_t mem_ps_per_byte = 100;          // mem: 10 GB/s of CPU work
constexpr nsec_t io_ps_per_byte = 1000;          // iorun: 1 GB/s, in a syscall

// A timer's grid. A timer not named "unique..." is shared by the tasks that
// use it; on the host they step it from several vCPUs at once.
struct timer_state {
    std::mutex lock;
    bool started = false;
    nsec_t next = 0;
};

// The named resources of one run, created on first use as rt-app does.
// As in rt-app, conditions are one namespace (wait, signal, broad, sync,
// suspend and resume on "X" all use condition X) and mutexes another
// (suspend and resume on "X" also take mutex X).
//
// On the host, tasks on several vCPUs look names up at once: the maps are
// guarded by a host mutex, held only over the lookup (no kernel call inside,
// so nothing can switch the task away while it holds it; the code is the
// core's, where the host's interrupt signal does not preempt either). The
// objects themselves never move once made.
class resources {
public:
    mutex& mutex_named(const std::string& n) { return get(mutexes_, n); }
    condvar& cond_named(const std::string& n) { return get(conds_, n); }
    semaphore& sem_named(const std::string& n) { return get(sems_, n); }
    spinlock_t& spin_named(const std::string& n) { return get(spins_, n); }
    timer_state& timer_named(const std::string& n) { return get(timers_, n); }
    barrier& barrier_named(const std::string& n, int users) {
        const std::lock_guard held(lock_);
        auto it = barriers_.find(n);
        if (it == barriers_.end()) it = barriers_.emplace(n, std::make_unique<barrier>(users)).first;
        return *it->second;
    }

private:
    template <class T>
    T& get(std::map<std::string, std::unique_ptr<T>>& m, const std::string& n) {
        const std::lock_guard held(lock_);
        auto& slot = m[n];
        if (!slot) slot = std::make_unique<T>();
        return *slot;
    }
    std::mutex lock_;
    std::map<std::string, std::unique_ptr<mutex>> mutexes_;
    std::map<std::string, std::unique_ptr<condvar>> conds_;
    std::map<std::string, std::unique_ptr<semaphore>> sems_;
    std::map<std::string, std::unique_ptr<spinlock_t>> spins_;
    std::map<std::string, std::unique_ptr<timer_state>> timers_;
    std::map<std::string, std::unique_ptr<barrier>> barriers_;
};

// resume: broadcast condition `name` (lost if nobody waits). From a task,
// under mutex `name` as rt-app does; from an interrupt handler, which cannot
// sleep, without it.
void resume(resources& res, const std::string& name, bool from_task) {
    if (!from_task) {
        res.cond_named(name).broadcast();
        return;
    }
    mutex_guard g{res.mutex_named(name)};
    res.cond_named(name).broadcast();
}

class task_program {
public:
    task_program(const task_def& def, std::string comm, resources& res,
                 const std::map<std::string, int>& barrier_users, bool may_start_suspended)
        : def_(def), comm_(std::move(comm)), res_(res), barrier_users_(barrier_users),
          may_start_suspended_(may_start_suspended) {}

    bool starts_suspended() const {
        const auto& first = def_.phases.front().events.front();
        return first.type == ev::suspend;
    }
    std::string suspend_name(const event& e) const { return e.ref.empty() ? def_.name : e.ref; }

    void operator()() {
        start_ = this_kernel().arch().now();
        bool skip_first_suspend = may_start_suspended_ && starts_suspended();
        for (int l = 0; def_.loop < 0 || l < def_.loop; ++l) {
            for (const phase& ph : def_.phases) {
                apply_attrs(ph.a);
                for (int pl = 0; pl < ph.loop; ++pl) {
                    for (const event& e : ph.events) {
                        if (skip_first_suspend) {  // already satisfied by being started
                            skip_first_suspend = false;
                            continue;
                        }
                        execute(e);
                    }
                }
            }
        }
    }

private:
    void apply_attrs(const attrs& a) {
        task_struct& self = current();
        if (a.policy || a.priority) {
            const sched_policy pol = a.policy.value_or(self.policy);
            const bool rt = pol == sched_policy::fifo || pol == sched_policy::rr;
            const int prio = a.priority.value_or(rt ? 10 : 0);
            if (pol != self.policy || prio != (rt ? self.rt_priority : prio_to_nice(self.static_prio)))
                sched_setscheduler(self, pol, prio);
        }
        if (a.cpus) {
            cpumask m;
            for (int c : *a.cpus)
                if (c < this_kernel().nr_cpus()) m.set(static_cast<std::size_t>(c));
            if (m.any() && m != self.cpus_mask) set_cpus_allowed_ptr(self, m);
        }
    }

    timer_state& timer_for(const std::string& ref) {
        // "unique..." timers are per task instance, others are shared.
        if (ref.rfind("unique", 0) == 0) return res_.timer_named(comm_ + "\x1f" + ref);
        return res_.timer_named(ref);
    }

    // The next point of the timer's grid, or -1 when it is already past.
    nsec_t step_timer(timer_state& t, const event& e, nsec_t now) {
        const std::lock_guard held(t.lock);
        if (!t.started) {
            t.started = true;
            t.next = start_;
        }
        t.next += e.ns;
        if (now < t.next) return t.next;
        if (!e.absolute) t.next = now;  // overrun: the grid shifts (relative mode)
        return -1;
    }

    void do_timer(const event& e) {
        const nsec_t now = this_kernel().arch().now();
        const nsec_t until = step_timer(timer_for(e.ref), e, now);
        if (until < 0) return;
        syscall_section sys;  // clock_nanosleep(TIMER_ABSTIME)
        hrtimer_sleep(until - now);
    }

    void do_runtime(nsec_t ns) {
        const nsec_t end = this_kernel().arch().now() + ns;
        for (nsec_t now = this_kernel().arch().now(); now < end; now = this_kernel().arch().now())
            burn(std::min(runtime_chunk, end - now));
    }

    void run_body(const event& e) {
        for (int i = 0; i < e.loop; ++i)
            for (const event& b : e.body) execute(b);
    }

    void execute(const event& e) {
        switch (e.type) {
        case ev::run: burn(e.ns); break;
        case ev::runtime: do_runtime(e.ns); break;
        case ev::sleep: {
            syscall_section sys;  // nanosleep
            hrtimer_sleep(e.ns);
            break;
        }
        case ev::timer: do_timer(e); break;
        case ev::lock: mutex_lock(res_.mutex_named(e.ref)); break;
        case ev::unlock: mutex_unlock(res_.mutex_named(e.ref)); break;
        case ev::wait: res_.cond_named(e.ref).wait(res_.mutex_named(e.mutex)); break;
        case ev::signal: res_.cond_named(e.ref).signal(); break;
        case ev::broad: res_.cond_named(e.ref).broadcast(); break;
        case ev::sync:
            // rt-app's code (not its tutorial): signal, then wait, with the
            // mutex already held by the caller's own "lock" event.
            res_.cond_named(e.ref).signal();
            res_.cond_named(e.ref).wait(res_.mutex_named(e.mutex));
            break;
        case ev::barrier: res_.barrier_named(e.ref, barrier_users_.at(e.ref)).arrive(); break;
        case ev::suspend: {
            const std::string name = suspend_name(e);
            mutex_guard g{res_.mutex_named(name)};
            res_.cond_named(name).wait(res_.mutex_named(name));
            break;
        }
        case ev::resume: resume(res_, e.ref, true); break;
        case ev::yield: {
            syscall_section sys;
            do_sched_yield();
            break;
        }
        case ev::mem: burn(e.bytes * mem_ps_per_byte / 1000); break;
        case ev::iorun: {
            syscall_section sys;
            burn(e.bytes * io_ps_per_byte / 1000);
            break;
        }
        case ev::sem_post: res_.sem_named(e.ref).post(); break;
        case ev::sem_wait: res_.sem_named(e.ref).wait(); break;
        case ev::kp_syscall: {
            syscall_section sys;
            run_body(e);
            break;
        }
        case ev::kp_preempt_off: {
            preempt_guard g;
            run_body(e);
            break;
        }
        case ev::kp_irq_off: {
            local_irq_disable();
            run_body(e);
            local_irq_enable();
            break;
        }
        case ev::kp_spin: {
            spin_guard g{res_.spin_named(e.ref)};
            run_body(e);
            break;
        }
        case ev::kp_might_sleep: might_sleep(); break;
        case ev::kp_cond_resched: cond_resched(); break;
        }
    }

    const task_def& def_;
    std::string comm_;
    resources& res_;
    const std::map<std::string, int>& barrier_users_;
    bool may_start_suspended_;
    nsec_t start_ = 0;
};

}  // namespace

// Without a CPU count from the file or the command line, the machine is
// just big enough for every CPU the workload names.
int cpus_named(const workload& w) {
    int n = 1;
    auto see = [&n](const attrs& a) {
        if (a.cpus)
            for (int c : *a.cpus) n = std::max(n, c + 1);
    };
    for (const task_def& t : w.tasks) {
        see(t.a);
        for (const phase& ph : t.phases) see(ph.a);
    }
    for (const irq_source_def& d : w.global.irqs)
        for (int c : d.affinity) n = std::max(n, c + 1);
    for (const timer_def& t : w.global.timers) n = std::max(n, t.cpu + 1);
    return n;
}

namespace {

kernel_config make_config(const workload& w, const run_options& opt) {
    kernel_config cfg;
    cfg.nr_cpus = opt.cpus.value_or(w.global.cpus.value_or(cpus_named(w)));
    cfg.hz = opt.hz.value_or(w.global.hz.value_or(1000));
    cfg.model = opt.model.value_or(w.global.model.value_or(preempt_mode::full));
    cfg.costs = w.global.costs;
    cfg.threadirqs = opt.threadirqs.value_or(w.global.threadirqs);
    cfg.ksoftirqd_defer = opt.ksoftirqd_defer.value_or(w.global.ksoftirqd_defer);
    return cfg;
}


void count_barriers(const std::vector<event>& evs, int instances, std::map<std::string, int>& users) {
    for (const event& e : evs) {
        if (e.type == ev::barrier) users[e.ref] += instances;
        count_barriers(e.body, instances, users);
    }
}

// The trace is printed here: its names (comms, irq names) live in the
// kernel, which ends with the machine.
void print_trace(kernel& k, const run_options& opt, run_result& out) {
    const trace_totals totals = trace_buffer_totals(k);
    out.trace_written = totals.written;
    out.trace_overwritten = totals.overwritten();
    out.trace = opt.trace_format ? opt.trace_format(k) : format_ftrace_text(k);
}

// Before any task exists, like the trace. Detached (by its destructor at
// the latest) while the machine still exists.
std::unique_ptr<latency_tracer> attach_latency_tracer(kernel& k, const run_options& opt) {
    if (opt.latency_tracer.empty()) return nullptr;
    std::unique_ptr<latency_tracer> t = make_latency_tracer(opt.latency_tracer);
    if (!t) throw workload_error("unknown latency tracer '" + opt.latency_tracer + "'");
    t->set_tracing_thresh(opt.tracing_thresh);
    t->attach(k);
    return t;
}

task_spec spec_for(const workload& w, const task_def& def, const std::string& comm, int nr_cpus) {
    task_spec spec;
    spec.name = comm;
    spec.policy = *def.a.policy;
    const bool rt = spec.policy == sched_policy::fifo || spec.policy == sched_policy::rr;
    if (rt) spec.priority = *def.a.priority;
    else spec.nice = *def.a.priority;
    if (def.a.cpus) {
        for (int c : *def.a.cpus)
            if (c < nr_cpus) spec.cpus.push_back(c);
        if (spec.cpus.empty())
            throw workload_error(w.file + ":" + std::to_string(def.pos.line) + ":" + std::to_string(def.pos.column) +
                                 ": " + def.path + ".cpus: none of these CPUs exists (the machine has " +
                                 std::to_string(nr_cpus) + ")");
        spec.cpu = spec.cpus.front();
    }
    return spec;
}

// What one machine kind offers the runner, so that one run_on() serves
// both: how devices attach, who calls the observer, what time is.
template <class Machine>
struct machine_traits;

template <>
struct machine_traits<sim> {
    static constexpr observer_callers callers = observer_callers::one_thread;
    static constexpr const char* time = "virtual time";
    // Setting up takes no virtual time: the run starts at 0.
    static nsec_t run_start(sim&) { return 0; }
    static device_ports ports(sim& m, nsec_t /*run_start*/) {
        return {[&m](int irq, const irq_arrivals& a) { m.machine().attach_device(irq, a); },
                [&m](int cpu, const irq_arrivals& a) { m.machine().attach_nmi_source(cpu, a); }};
    }
};

template <>
struct machine_traits<host> {
    static constexpr observer_callers callers = observer_callers::every_vcpu;
    static constexpr const char* time = "real time";
    // The host's clock runs from the machine's creation, and setting up
    // takes real time (the trace buffers alone, milliseconds). The
    // workload's own times (device arrivals, the duration) count from
    // here, just before run(), as they count from 0 on the simulated
    // machine.
    static nsec_t run_start(host& m) { return m.now(); }
    // No NMI sources on the host yet (check_host_support refuses them).
    static device_ports ports(host& m, nsec_t run_start) {
        return {[&m, run_start](int irq, irq_arrivals a) {
                    a.start += run_start;
                    a.stop = a.stop == KTIME_MAX ? KTIME_MAX : a.stop + run_start;
                    m.machine().attach_device(irq, a);
                },
                {}};
    }
};

void check_cpus(const workload& w, const kernel_config& cfg) {
    auto check_cpu = [&](int cpu, const std::string& path) {
        if (cpu >= cfg.nr_cpus)
            throw workload_error(w.file + ": " + path + ".cpu: CPU " + std::to_string(cpu) +
                                 " does not exist (the machine has " + std::to_string(cfg.nr_cpus) + ")");
    };
    for (const irq_source_def& d : w.global.irqs)
        for (int c : d.affinity) check_cpu(c, d.path);
    for (const timer_def& t : w.global.timers) check_cpu(t.cpu, t.path);
}

// What the host machine cannot do yet is refused before anything runs,
// naming the field (docs/host.md, "Workloads on the host").
void check_host_support(const workload& w) {
    for (const irq_source_def& d : w.global.irqs)
        if (d.nmi)
            throw workload_error(w.file + ": " + d.path + ".nmi: nmi sources are not available on the host machine yet");
}

// The cost model stands in for what the simulated machine's CPU work does
// not show. On the host the real costs are paid: the model's would be paid
// twice, so it is dropped, and the report says so.
void drop_costs_on_host(const workload& w, kernel_config& cfg, run_result& out) {
    const cost_model& c = cfg.costs;
    if (c.context_switch || c.irq_entry || c.irq_exit || c.tick || c.ipi_latency)
        out.warnings.push_back(w.file + ": global.kpreempt.costs: ignored on the host machine, which pays its real costs");
    cfg.costs = {};
}

struct run_setup {
    const workload& w;
    const run_options& opt;
    nsec_t duration;  // the asked duration, <= 0 if none
    nsec_t limit;     // when the run stops
};

// The tasks of the workload, created stopped, delayed or runnable, in file
// order. `programs` and `starters` must outlive the run.
template <class Machine>
std::vector<task_struct*> spawn_programs(Machine& m, const run_setup& s, resources& res,
                                         const std::map<std::string, int>& barrier_users,
                                         std::vector<std::unique_ptr<task_program>>& programs,
                                         std::vector<std::unique_ptr<hrtimer>>& starters) {
    std::vector<task_struct*> created;
    for (const task_def& def : s.w.tasks) {
        for (int i = 0; i < def.instance; ++i) {
            const std::string comm = def.instance == 1 ? def.name : def.name + "-" + std::to_string(i);
            auto prog = std::make_unique<task_program>(def, comm, res, barrier_users, def.delay == 0);
            const bool suspended = prog->starts_suspended() && def.delay == 0;
            task_spec spec = spec_for(s.w, def, comm, m.kern().nr_cpus());
            spec.start_stopped = suspended || def.delay > 0;
            spec.background = static_cast<bool>(s.opt.measure);
            task_struct& t = m.spawn(spec, [p = prog.get()] { (*p)(); });
            if (suspended) res.cond_named(prog->suspend_name(def.phases.front().events.front())).add_not_started(t);
            if (!suspended && def.delay > 0) {
                auto start = std::make_unique<hrtimer>();
                start->function = [&t](hrtimer&) {
                    wake_up_process(t);
                    return hrtimer_restart::norestart;
                };
                hrtimer_start_on(m.kern().cpu(0), *start, def.delay);
                starters.push_back(std::move(start));
            }
            created.push_back(&t);
            programs.push_back(std::move(prog));
        }
    }
    return created;
}

// The run itself, the same on both machines.
template <class Machine>
void run_on(Machine& m, const run_setup& s, run_result& out) {
    using traits = machine_traits<Machine>;
    const run_options& opt = s.opt;
    stats_collector stats(traits::callers);  // before any task exists: task creation is a wakeup too
    m.set_observer(&stats);
    // Before any task exists, so that their creation is in the trace too.
    if (opt.trace_events) m.kern().trace.enable(m.kern(), opt.trace_events, opt.trace_buffer);
    const std::unique_ptr<latency_tracer> tracer = attach_latency_tracer(m.kern(), opt);
    std::optional<callpath_counter> callpaths;
    if (!opt.callpaths.empty()) callpaths.emplace(opt.callpaths).attach(m.kern());
    resources res;
    std::map<std::string, int> barrier_users;
    for (const task_def& def : s.w.tasks)
        for (const phase& ph : def.phases) count_barriers(ph.events, def.instance, barrier_users);

    if (opt.measure) opt.measure(m.kern());
    std::vector<std::unique_ptr<task_program>> programs;
    std::vector<std::unique_ptr<hrtimer>> starters;
    const std::vector<task_struct*> created = spawn_programs(m, s, res, barrier_users, programs, starters);
    const nsec_t start = traits::run_start(m);
    device_set devices(m.kern(), traits::ports(m, start), s.w, out.seed, s.limit,
                       [&res](const std::string& name, bool from_task) { resume(res, name, from_task); });

    const auto why = m.run(start + s.limit);
    const nsec_t end = m.now();  // the host's clock goes on after the run
    using stop_reason = std::remove_cvref_t<decltype(why)>;
    if (why == stop_reason::time_limit && s.duration <= 0)
        out.warnings.push_back(s.w.file + ": no global duration and the tasks do not end: stopped after " +
                               std::to_string(s.limit / NSEC_PER_SEC) + " s of " + traits::time);
    for (std::string& warning : devices.warnings()) out.warnings.push_back(std::move(warning));
    stats.finish(end);
    out.duration = end;
    collect_results(m.kern(), created, stats, out);
    if (opt.trace_events) print_trace(m.kern(), opt, out);
    if (callpaths) out.callpaths = callpaths->format();
    if (tracer) {
        out.latency_report = tracer->report(m.kern());
        out.tracing_max_latency = tracer->tracing_max_latency();
        tracer->detach();
    }
}

}  // namespace

run_result run_workload(const workload& w, const run_options& opt) {
    kernel_config cfg = make_config(w, opt);
    check_cpus(w, cfg);
    run_result out;
    out.file = w.file;
    out.backend = opt.backend;
    out.model = cfg.model;
    out.cpus = cfg.nr_cpus;
    out.hz = cfg.hz;
    out.seed = opt.seed.value_or(w.global.seed.value_or(1));
    out.warnings = w.warnings;
    const nsec_t duration = opt.duration.value_or(w.global.duration);
    const run_setup setup{w, opt, duration, duration > 0 ? duration : default_limit};
    if (opt.backend == backend_kind::host) {
        check_host_support(w);
        drop_costs_on_host(w, cfg, out);
        host m(cfg);  // its clock starts here; the workload's times, at run_start()
        run_on(m, setup, out);
    } else {
        sim m(cfg);
        run_on(m, setup, out);
    }
    return out;
}

}  // namespace kp::workload
