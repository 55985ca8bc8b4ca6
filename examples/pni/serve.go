package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/x/pni"
	"github.com/x/pni/serve"
)

// modelFlags collects repeated -m [name=]path flags.
type modelFlags []string

func (m *modelFlags) String() string     { return strings.Join(*m, ",") }
func (m *modelFlags) Set(v string) error { *m = append(*m, v); return nil }

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", "serve -m a.pni [-m name=b.pni ...] [-addr :8080] [flags]",
		"Serves the models over HTTP until SIGINT or SIGTERM, then finishes the requests in flight.\n"+
			"A model's name is its file's base name (a for a.pni) unless given as -m name=path.\n"+
			"  POST /v1/models/{name}/score  image body or multipart file -> JSON (?overlay=1: heatmap PNG)\n"+
			"  GET  /v1/models, /healthz, /metrics (Prometheus), / (a page to try it)", stderr)
	var models modelFlags
	fs.Var(&models, "m", "a model file, or name=file (repeatable; at least one)")
	addr := fs.String("addr", ":8080", "address to listen on")
	workers := fs.Int("workers", 2, "images scored at once")
	queue := fs.Int("queue", 8, "checked requests waiting for a worker before 503")
	timeout := fs.Duration("timeout", 30*time.Second, "per-request time limit, queueing included")
	maxBody := fs.Int64("max-body", 32<<20, "largest request body in bytes")
	maxPixels := fs.Int64("max-pixels", 1<<25, "largest image (width x height), checked before decoding")
	grace := fs.Duration("grace", 0, "how long shutdown waits for requests in flight (0 = timeout + 5s)")
	rest, code, done := parse(fs, args)
	if done {
		return code
	}
	if len(models) == 0 || len(rest) > 0 {
		fs.Usage()
		return fail(stderr, "serve", "give at least one -m MODEL (and no other argument)")
	}
	ms := map[string]serve.Model{}
	for _, spec := range models {
		name, path, ok := strings.Cut(spec, "=")
		if !ok {
			path = spec
			name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		}
		if _, dup := ms[name]; dup {
			return fail(stderr, "serve", "two models named %q: name them with -m name=path", name)
		}
		m, err := pni.LoadFile(path)
		if err != nil {
			return fail(stderr, "serve", "%v", err)
		}
		ms[name] = m
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	s, err := serve.New(ms, serve.Options{Workers: *workers, Queue: *queue, Timeout: *timeout,
		MaxBodyBytes: *maxBody, MaxPixels: *maxPixels, Logger: logger})
	if err != nil {
		return fail(stderr, "serve", "%v", err)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail(stderr, "serve", "%v", err)
	}
	fmt.Fprintf(stderr, "pni serve: %d model(s) (%s) on http://%s\n", len(ms), strings.Join(s.Names(), ", "), l.Addr())
	if err := s.Serve(ctx, l, *grace); err != nil {
		return fail(stderr, "serve", "%v", err)
	}
	return exitOK
}

var _ flag.Value = (*modelFlags)(nil)
