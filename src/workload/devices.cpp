#include "workload/devices.h"

#include <atomic>
#include <optional>

#include "kernel/irq/tasklet.h"
#include "kernel/workqueue/workqueue.h"

namespace kp::workload {

// One line: its definition, and the tasklet and work item its arrivals
// schedule. Each of those runs once for however many arrivals it collected,
// and does the work of all of them.
struct device_set::line {
    const irq_source_def* def = nullptr;
    int irq = -1;
    tasklet_struct tasklet;
    std::atomic<int> tasklet_items{0};
    delayed_work work;
    std::atomic<int> work_items{0};
    // Items over max_backlog. Atomic: on the host, a threaded line's
    // handler may run on another vCPU than its primary's.
    std::atomic<std::uint64_t> dropped{0};
};

// A periodic timer_list, first armed by an hrtimer at `start` on its CPU.
struct device_set::timer {
    const timer_def* def = nullptr;
    hrtimer starter;
    timer_list t;
    std::uint64_t period_jiffies = 1;
};

namespace {

// net_rx_action's bounds: netdev_budget packets or netdev_budget_usecs,
// then NET_RX is raised again for the next round (or ksoftirqd).
constexpr int netdev_budget = 300;
constexpr std::int64_t netdev_budget_usecs = 2000;
// netdev_max_backlog: a CPU's queue of items for one vector holds at most
// this many; more are dropped (enqueue_to_backlog), and counted.
constexpr std::size_t max_backlog = 1000;

irq_arrivals arrivals_of(const irq_source_def& d, std::uint64_t seed, std::size_t index, nsec_t limit) {
    irq_arrivals a = d.arrivals;
    a.stop = std::min(a.stop, limit);
    a.seed = seed * 0x9e3779b97f4a7c15ULL + index;  // one stream per source
    return a;
}

cpumask mask_of(const std::vector<int>& cpus) {
    cpumask m;
    for (int c : cpus) m.set(static_cast<std::size_t>(c));
    return m;
}

}  // namespace

device_set::device_set(kernel& k, const device_ports& ports, const workload& w, std::uint64_t seed, nsec_t limit,
                       wake_fn wake)
    : wake_(std::move(wake)), items_(static_cast<std::size_t>(k.nr_cpus())) {
    int next_line = 0;
    for (std::size_t i = 0; i < w.global.irqs.size(); ++i) {
        const irq_source_def& d = w.global.irqs[i];
        const irq_arrivals a = arrivals_of(d, seed, i, limit);
        if (!d.nmi) {
            install_line(k, ports, d, next_line++, a);
            continue;
        }
        if (!ports.nmi) throw workload_error(w.file + ": " + d.path + ".nmi: this machine has no NMI sources");
        register_nmi_handler(k, d.name, [cost = d.handler] {
            if (cost > 0) burn(cost);
        });
        ports.nmi(d.cpu(), a);
    }
    for (const timer_def& td : w.global.timers) {
        auto t = std::make_unique<timer>();
        t->def = &td;
        t->t.function = [tp = t.get()](timer_list& tl) {
            if (tp->def->cost > 0) burn(tp->def->cost);
            tl.expires = get_jiffies() + tp->period_jiffies;
            add_timer(tl);
        };
        t->starter.function = [tp = t.get()](hrtimer&) {
            // On a CPU now: jiffies conversions need its kernel's HZ.
            tp->period_jiffies = std::max<std::uint64_t>(1, usecs_to_jiffies(tp->def->period / 1000));
            tp->t.expires = get_jiffies() + tp->period_jiffies;
            add_timer(tp->t);
            return hrtimer_restart::norestart;
        };
        hrtimer_start_on(k.cpu(td.cpu), t->starter, td.start);
        timers_.push_back(std::move(t));
    }
}

device_set::~device_set() = default;

std::vector<std::string> device_set::warnings() const {
    std::vector<std::string> out;
    for (const auto& l : lines_)
        if (const std::uint64_t dropped = l->dropped.load())
            out.push_back(l->def->path + ": " + std::to_string(dropped) + " items dropped: the " +
                          softirq_to_name[l->def->softirq] + " backlog of the CPU was full (" +
                          std::to_string(max_backlog) + ", as netdev_max_backlog)");
    return out;
}

void device_set::install_line(kernel& k, const device_ports& ports, const irq_source_def& d, int irq,
                              const irq_arrivals& a) {
    auto lp = std::make_unique<line>();
    line& l = *lp;
    l.def = &d;
    l.irq = irq;
    tasklet_setup(l.tasklet, [&l](tasklet_struct&) {
        const int n = l.tasklet_items.exchange(0);
        burn(*l.def->tasklet * n);
    });
    INIT_DELAYED_WORK(l.work, [&l](work_struct&) {
        const int n = l.work_items.exchange(0);
        burn(*l.def->work * n);
    });
    if (d.softirq >= 0)
        open_softirq(k, static_cast<unsigned>(d.softirq),
                     [this, nr = static_cast<unsigned>(d.softirq)] { serve_vector(nr); });
    irq_set_affinity(k, irq, mask_of(d.affinity));
    const bool threaded = d.thread.has_value();
    const unsigned flags = (threaded ? IRQF_ONESHOT : 0u) | (d.no_thread ? IRQF_NO_THREAD : 0u);
    irq_handler_t primary = [this, &l, threaded](int) {
        if (l.def->handler > 0) burn(l.def->handler);
        if (threaded) return irqreturn::wake_thread;
        defer(l, false);
        return irqreturn::handled;
    };
    irq_handler_t thread_fn;
    if (threaded)
        thread_fn = [this, &l](int) {
            if (*l.def->thread > 0) burn(*l.def->thread);
            defer(l, true);
            return irqreturn::handled;
        };
    request_threaded_irq(k, irq, std::move(primary), std::move(thread_fn), flags, d.name);
    ports.line(irq, a);
    lines_.push_back(std::move(lp));
}

// What an arrival hands down. From the irq thread, softirqs are raised
// inside a bottom-half section, as a threaded driver's napi_schedule() is,
// so they run at its local_bh_enable().
void device_set::defer(line& l, bool in_thread) {
    const irq_source_def& d = *l.def;
    if (d.softirq >= 0) {
        std::optional<bh_guard> bh;
        if (in_thread) bh.emplace();
        irq_guard irqs_off;
        auto& q = items_[static_cast<std::size_t>(smp_processor_id())][static_cast<std::size_t>(d.softirq)];
        if (q.size() < max_backlog) q.push_back(d.softirq_cost);
        else ++l.dropped;
        raise_softirq_irqoff(static_cast<unsigned>(d.softirq));
    }
    if (d.tasklet) {
        ++l.tasklet_items;
        if (d.tasklet_hi) tasklet_hi_schedule(l.tasklet);
        else tasklet_schedule(l.tasklet);
    }
    if (d.work) {
        ++l.work_items;
        if (d.work_delay > 0)
            schedule_delayed_work(l.work, static_cast<unsigned long>(usecs_to_jiffies(d.work_delay / 1000)));
        else schedule_work(l.work.work);
    }
    if (!d.wakes.empty()) wake_(d.wakes, in_thread);
}

// A vector's handler: this CPU's items, one by one; NET_RX stops at its
// budget and raises itself again.
void device_set::serve_vector(unsigned nr) {
    auto& q = items_[static_cast<std::size_t>(smp_processor_id())][nr];
    int budget = nr == NET_RX_SOFTIRQ ? netdev_budget : -1;
    const std::uint64_t time_limit = get_jiffies() + usecs_to_jiffies(netdev_budget_usecs);
    for (;;) {
        nsec_t cost;
        {
            irq_guard irqs_off;
            if (q.empty()) return;
            cost = q.front();
            q.pop_front();
        }
        if (cost > 0) burn(cost);
        if (budget > 0 && (--budget == 0 || static_cast<std::int64_t>(get_jiffies() - time_limit) >= 0)) {
            irq_guard irqs_off;
            if (!q.empty()) __raise_softirq_irqoff(nr);
            return;
        }
    }
}

}  // namespace kp::workload
