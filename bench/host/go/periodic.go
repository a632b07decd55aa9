// The Go peer of kpreempt-bench-host's periodic task beside a spinner
// (docs/performance.md): with GOMAXPROCS=1, one goroutine sleeps to every
// 1 ms boundary and records how late it woke (cyclictest's measure: now -
// expected; a wakeup later than whole periods skips them), while another
// goroutine spins in a loop with no function call, which only Go's
// asynchronous preemption (sysmon's SIGURG, Go 1.14+) can interrupt.
//
//	go build -o periodic periodic.go
//	taskset -c 0 ./periodic -seconds 10 [-spin=false]
//
// Prints RESULT lines as kpreempt-bench-host does (nanoseconds).
package main

import (
	"flag"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync/atomic"
	"time"
)

func result(key string, v float64) { fmt.Printf("RESULT %s %.6g\n", key, v) }

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return sorted[rank-1]
}

func main() {
	seconds := flag.Float64("seconds", 10, "how long to measure")
	intervalUs := flag.Int("interval-us", 1000, "the period")
	spin := flag.Bool("spin", true, "run the spinning goroutine beside it")
	key := flag.String("key", "go", "the RESULT prefix")
	flag.Parse()
	runtime.GOMAXPROCS(1)

	var stop int32
	var spins uint64
	if *spin {
		go func() {
			n := uint64(0)
			for atomic.LoadInt32(&stop) == 0 {
				n++
			}
			atomic.StoreUint64(&spins, n)
		}()
		runtime.Gosched() // let it start
	}

	interval := time.Duration(*intervalUs) * time.Microsecond
	end := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
	lat := make([]float64, 0, int(*seconds*1e6/float64(*intervalUs))+1)
	next := time.Now().Add(interval)
	for time.Now().Before(end) {
		time.Sleep(time.Until(next))
		now := time.Now()
		lat = append(lat, float64(now.Sub(next).Nanoseconds()))
		next = next.Add(interval)
		for now.After(next) {
			next = next.Add(interval)
		}
	}
	atomic.StoreInt32(&stop, 1)

	sum := 0.0
	for _, v := range lat {
		sum += v
	}
	sort.Float64s(lat)
	result(*key+".n", float64(len(lat)))
	result(*key+".p50_ns", quantile(lat, 0.50))
	result(*key+".p99_ns", quantile(lat, 0.99))
	result(*key+".p999_ns", quantile(lat, 0.999))
	result(*key+".max_ns", quantile(lat, 1))
	result(*key+".avg_ns", sum/float64(len(lat)))
	result(*key+".go_version_minor", goMinor())
}

// The Go release's minor version (1.19 -> 19), for the report.
func goMinor() float64 {
	var major, minor int
	fmt.Sscanf(runtime.Version(), "go%d.%d", &major, &minor)
	return float64(minor)
}
