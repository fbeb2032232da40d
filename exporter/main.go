// Command dbsec_exporter follows database audit and access logs and exports
// security metrics for Prometheus. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	_ "time/tzdata" // source time zones must resolve on minimal hosts too
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopProfile := cpuProfile(os.Getenv("DBSEC_CPUPROFILE"))
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopProfile()
	heapProfile(os.Getenv("DBSEC_MEMPROFILE"))
	os.Exit(code)
}

// heapProfile writes the heap profile (memory in use and allocated) at
// exit to path (a diagnostic beside DBSEC_CPUPROFILE); an empty path
// writes nothing.
func heapProfile(path string) {
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "DBSEC_MEMPROFILE: %v\n", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		fmt.Fprintf(os.Stderr, "DBSEC_MEMPROFILE: %v\n", err)
	}
}

// cpuProfile writes a CPU profile of the whole run to path (a diagnostic
// for benchmarks, e.g. TestDaemonThroughput: DBSEC_CPUPROFILE=cpu.pprof);
// an empty path profiles nothing.
func cpuProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "DBSEC_CPUPROFILE: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "DBSEC_CPUPROFILE: %v\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
