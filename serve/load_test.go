package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/x/pni/internal/kernels"
	"github.com/x/pni/internal/testparts"
)

// TestLoad runs C concurrent clients for T seconds against a server on
// loopback, mixing good parts, defective parts and bad input (truncated,
// not an image, a huge dimensions header, empty): no 5xx but 503 (with
// Retry-After) when the scorers are full, every bad input a 4xx with a
// JSON error, defects found, no goroutine left behind after the run and
// the heap back near where it started. It logs p50/p99 latency and
// throughput. -short runs it for 2 s (the race detector's run).
func TestLoad(t *testing.T) {
	const clients = 8
	dur := 5 * time.Second
	if testing.Short() {
		dur = 2 * time.Second
	}
	models(t) // fitted before the goroutine and heap baseline
	good := [][]byte{testparts.PNG(t, testparts.Texture(0, false, 101)), testparts.PNG(t, testparts.Texture(3, false, 102))}
	defect := testparts.PNG(t, testparts.Texture(2, true, 103))
	type input struct {
		name string
		body []byte
		bad  bool // must get a 4xx
	}
	inputs := []input{
		{"good0", good[0], false}, {"good1", good[1], false}, {"defect", defect, false},
		{"truncated", defect[:len(defect)/3], true}, {"text", []byte("GET / HTTP/1.0"), true},
		{"huge", pngHeader(1<<16, 1<<16), true}, {"empty", nil, true},
	}

	// The kernels' persistent workers (GOMAXPROCS-1 goroutines that live
	// for the process) start with the first parallel region: start them
	// before counting.
	kernels.Parallel(runtime.GOMAXPROCS(0), func(int, int) {})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	s := newServer(t, Options{Workers: 2, Queue: 4, Timeout: 10 * time.Second})
	ts := httptest.NewServer(s)
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}

	type outcome struct {
		in      int
		code    int
		lat     time.Duration
		problem string
	}
	var mu sync.Mutex
	var outs []outcome
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; time.Now().Before(stop); i++ {
				k := i % len(inputs)
				in := inputs[k]
				t0 := time.Now()
				resp, err := client.Post(ts.URL+"/v1/models/parts/score", "image/png", bytes.NewReader(in.body))
				o := outcome{in: k}
				if err != nil {
					o.problem = err.Error()
				} else {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					o.code, o.lat = resp.StatusCode, time.Since(t0)
					o.problem = check(in.bad, in.name == "defect", resp, body)
				}
				mu.Lock()
				outs = append(outs, o)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	codes := map[int]int{}
	var lat []time.Duration
	scored := 0
	for _, o := range outs {
		codes[o.code]++
		if o.problem != "" {
			t.Errorf("%s: %d: %s", inputs[o.in].name, o.code, o.problem)
		}
		if o.code == 200 {
			lat = append(lat, o.lat)
			scored++
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	t.Logf("load: %d clients x %v: %d requests (%.0f/s), %d scored (%.0f/s), status counts %v; scored latency p50 %v, p99 %v",
		clients, dur, len(outs), float64(len(outs))/dur.Seconds(), scored, float64(scored)/dur.Seconds(), codes,
		pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond))
	if scored == 0 {
		t.Error("nothing was scored")
	}

	ts.Close()
	tr.CloseIdleConnections()
	var g1 int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if g1 = runtime.NumGoroutine(); g1 <= g0+1 {
			break
		}
	}
	if g1 > g0+1 {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after the run\n%s", g0, g1, buf[:runtime.Stack(buf, true)])
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("heap: %.1f MB before, %.1f MB after; goroutines %d before, %d after", float64(before.HeapAlloc)/1e6, float64(after.HeapAlloc)/1e6, g0, g1)
	if after.HeapAlloc > before.HeapAlloc+64<<20 {
		t.Errorf("heap grew from %d to %d bytes", before.HeapAlloc, after.HeapAlloc)
	}
}

// check returns what is wrong with one answer of the load test, or "".
func check(bad, defect bool, resp *http.Response, body []byte) string {
	code := resp.StatusCode
	switch {
	case code >= 500 && code != 503:
		return "a 5xx other than 503"
	case code == 503:
		if resp.Header.Get("Retry-After") == "" {
			return "503 without Retry-After"
		}
		if bad {
			return "bad input answered 503, not its 4xx"
		}
	case bad && (code < 400 || code >= 500):
		return "bad input not answered 4xx"
	case !bad && code != 200:
		return "good input answered " + fmt.Sprint(code)
	}
	if code != 200 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error == "" || resp.Header.Get("Content-Type") != "application/json" {
			return fmt.Sprintf("error answer is not JSON: %q", body)
		}
		return ""
	}
	var r ScoreResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return "200 answer is not JSON: " + err.Error()
	}
	if r.Anomalous != defect {
		return fmt.Sprintf("decision %v for a defect=%v part (normalized %v)", r.Anomalous, defect, *r.Normalized)
	}
	return ""
}
