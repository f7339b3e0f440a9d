// Command vzarr-latencyproxy runs a latency.Proxy in front of Azurite (or
// any HTTP server) until it is interrupted, so that other processes (vzarr
// run, the orchestrator) can be measured under delay.
//
//	eval "$(scripts/azurite env)"
//	go run ./internal/latency/cmd/vzarr-latencyproxy -delay 20ms &
//
// It prints one JSON line when it listens: {"url": ..., "connection_string":
// ...} (AZURE_STORAGE_CONNECTION_STRING moved to the proxy, when set), and
// one when it stops (SIGINT or SIGTERM): {"requests", "bytes", "faults",
// "rounds"}. The target defaults to the BlobEndpoint of
// AZURE_STORAGE_CONNECTION_STRING.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/greensight/vzarr/internal/latency"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vzarr-latencyproxy:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg latency.Config
	var target string
	flag.StringVar(&target, "target", "", "the server to proxy (default: the BlobEndpoint of AZURE_STORAGE_CONNECTION_STRING)")
	flag.DurationVar(&cfg.Delay, "delay", 0, "delay added to every request")
	flag.DurationVar(&cfg.Jitter, "jitter", 0, "random extra delay, up to this much")
	flag.Int64Var(&cfg.BytesPerSecond, "bps", 0, "bandwidth cap of each response, bytes per second (0: none)")
	flag.Float64Var(&cfg.ErrorRate, "error-rate", 0, "fraction of requests answered 503")
	flag.Float64Var(&cfg.TimeoutRate, "timeout-rate", 0, "fraction of requests left unanswered (dropped after -timeout-hold)")
	flag.DurationVar(&cfg.TimeoutHold, "timeout-hold", 0, "how long an injected timeout holds its request (default 30s)")
	flag.Uint64Var(&cfg.Seed, "seed", 0, "seed of the jitter and faults (0: random)")
	flag.Parse()
	cs := os.Getenv("AZURE_STORAGE_CONNECTION_STRING")
	if target == "" {
		for _, part := range strings.Split(cs, ";") {
			if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(strings.TrimSpace(k), "BlobEndpoint") {
				target = strings.TrimSpace(v)
			}
		}
	}
	if target == "" {
		return errors.New("no -target and no BlobEndpoint in AZURE_STORAGE_CONNECTION_STRING")
	}
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	px, err := latency.NewProxy(u, cfg)
	if err != nil {
		return err
	}
	defer px.Close()
	start := map[string]string{"url": px.URL()}
	if cs != "" {
		if pcs, err := px.ConnectionString(cs); err == nil {
			start["connection_string"] = pcs
		}
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(start); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	st := px.Stats()
	return enc.Encode(map[string]int64{"requests": st.Requests, "bytes": st.Bytes, "faults": st.Faults, "rounds": int64(st.Rounds())})
}
