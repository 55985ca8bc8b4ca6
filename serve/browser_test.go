package serve

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/x/pni"
	"github.com/x/pni/internal/testparts"
)

// chromium finds a Chromium to drive: $PNI_CHROMIUM, else chromium (or
// its other names) on PATH. Without one the test is skipped, or fails
// under CI=true, where .ci/run installs Debian's chromium.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PNI_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium found (chromium on PATH or $PNI_CHROMIUM): .ci/run installs Debian's chromium package")
	}
	t.Skip("no Chromium found: install it (apt-get install chromium) or set PNI_CHROMIUM to run the browser test")
	return ""
}

// TestBrowserPage loads the page in headless Chromium, chooses a model,
// uploads a defective part through the file input and waits for the
// result: the decision ANOMALOUS, the score, the overlay and a region
// row must appear. It saves a screenshot ($PNI_SCREENSHOT, else in the
// test's temporary folder; $PNI_SCREENSHOT_SCALE scales it). $PNI_SCREENSHOT_MODEL and
// $PNI_SCREENSHOT_IMAGE swap in a real model file and image (docs/img
// was made so; the model is named after its file); the test then checks
// only that a decision appears.
func TestBrowserPage(t *testing.T) {
	exe := chromium(t)
	parts, uncal := models(t)
	var m Model = parts
	img := filepath.Join(t.TempDir(), "defect.png")
	testparts.WritePNG(t, img, testparts.Texture(2, true, 77))
	real, name := false, "parts"
	if p := os.Getenv("PNI_SCREENSHOT_MODEL"); p != "" {
		mm, err := pni.LoadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m, real = mm, true
		if img, err = filepath.Abs(os.Getenv("PNI_SCREENSHOT_IMAGE")); err != nil { // Chromium wants a clean path
			t.Fatal(err)
		}
		name = strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
	}
	s, err := New(map[string]Model{"uncal": uncal, name: m}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	defer ts.Close()

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1200, 860),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	for i, step := range []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(ts.URL + "/"),
		chromedp.WaitReady(chromedp.CSS(`#model option[value="` + name + `"]`)),
		chromedp.SetValue(chromedp.ID("model"), name),
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{img}),
	} {
		if err := chromedp.Do(ctx, step); err != nil {
			t.Fatalf("driving the page, step %d: %v", i, err)
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	err = chromedp.Do(wctx, chromedp.WaitVisible(chromedp.ID("outcome")))
	wcancel()
	if err != nil {
		status, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("status")))
		t.Fatalf("no result on the page (%v); it says %q", err, status)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("overlay").complete && document.getElementById("overlay").naturalWidth > 0`)); err != nil {
		t.Fatalf("waiting for the overlay: %v", err)
	}
	text := func(id string) string {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
		if err != nil {
			t.Fatalf("reading #%s: %v", id, err)
		}
		return s
	}
	options, decision, scores, regions := text("model"), text("decision"), text("scores"), text("regions")
	overlayWidth, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.getElementById("overlay").naturalWidth`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if v := os.Getenv("PNI_SCREENSHOT_SCALE"); v != "" && err == nil { // a smaller picture, for docs/img
		scale, perr := strconv.ParseFloat(v, 64)
		if perr != nil {
			t.Fatal(perr)
		}
		shot, err = chromedp.Run(ctx, chromedp.ScreenshotScale(chromedp.CSS("body"), scale))
	}
	if err != nil {
		t.Fatal(err)
	}
	path := os.Getenv("PNI_SCREENSHOT")
	if path == "" {
		path = filepath.Join(t.TempDir(), "page.png")
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("decision %q; %s; screenshot %s (%d bytes)", decision, scores, path, len(shot))
	if !strings.Contains(options, name) || !strings.Contains(options, "uncal") {
		t.Errorf("model choices %q", options)
	}
	if !strings.Contains(scores, "normalized score") || !strings.Contains(scores, "raw score") || overlayWidth <= 0 {
		t.Errorf("scores %q, overlay width %d", scores, overlayWidth)
	}
	if real {
		if decision != "ANOMALOUS" && decision != "GOOD" {
			t.Errorf("decision %q", decision)
		}
		return
	}
	if decision != "ANOMALOUS" || overlayWidth != 64 || !strings.Contains(regions, "peak") {
		t.Errorf("decision %q, overlay width %d, regions %q", decision, overlayWidth, regions)
	}
}
