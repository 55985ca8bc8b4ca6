package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/x/pni"
	"github.com/x/pni/internal/testenv"
	"github.com/x/pni/internal/testparts"
	"github.com/x/pni/report"
)

// pniRun runs the command in-process and returns its exit status, stdout
// and stderr.
func pniRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// parts lays out a folder of synthetic parts: good/ (16 for fitting),
// more/ (6 other good ones, for calibrate), test/good.png and
// test/defect.png, and bad/ (a text file and a truncated PNG).
func parts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"good", "more", "test", "bad"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	for i, img := range testparts.Good(16) {
		testparts.WritePNG(t, filepath.Join(dir, "good", "g"+string(rune('a'+i))+".png"), img)
	}
	for i := range 6 {
		testparts.WritePNG(t, filepath.Join(dir, "more", "m"+string(rune('a'+i))+".png"), testparts.Texture(i%4, false, uint64(200+i)))
	}
	testparts.WritePNG(t, filepath.Join(dir, "test", "good.png"), testparts.Texture(1, false, 300))
	testparts.WritePNG(t, filepath.Join(dir, "test", "defect.png"), testparts.Texture(1, true, 301))
	os.WriteFile(filepath.Join(dir, "bad", "notes.png"), []byte("not an image"), 0o644)
	full := testparts.PNG(t, testparts.Texture(0, false, 9))
	os.WriteFile(filepath.Join(dir, "bad", "cut.png"), full[:len(full)/2], 0o644)
	return dir
}

// tinyFit fits the tiny model on dir/good and returns its path.
func tinyFit(t *testing.T, dir string, extra ...string) string {
	t.Helper()
	model := filepath.Join(dir, "part.pni")
	args := append([]string{"fit", "-o", model, "-backbone", testparts.Backbone(), "-size", "64", "-ratio", "0.5", "-seed", "1"}, extra...)
	args = append(args, filepath.Join(dir, "good"))
	code, out, errs := pniRun(t, args...)
	if code != 0 {
		t.Fatalf("fit: exit %d\n%s\n%s", code, out, errs)
	}
	return model
}

// TestUsage checks help and usage errors: -h exits 0 with the command's
// usage on every subcommand; no command, an unknown one, a bad flag or a
// missing required flag exit 2.
func TestUsage(t *testing.T) {
	if code, out, _ := pniRun(t, "help"); code != 0 || !strings.Contains(out, "calibrate") {
		t.Errorf("help: %d %q", code, out)
	}
	for _, args := range [][]string{{}, {"frobnicate"}, {"fit", "-nosuchflag"}, {"fit", "dir"}, {"score", "x.png"},
		{"calibrate", "a.png", "b.png"}, {"info"}, {"serve"}, {"score", "-m", "m.pni", "-format", "xml", "a.png"}} {
		if code, _, _ := pniRun(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	for _, c := range commands() {
		code, _, errs := pniRun(t, c.name, "-h")
		if code != 0 || !strings.Contains(errs, "usage: pni "+c.name) || !strings.Contains(errs, "flags:") {
			t.Errorf("%s -h: exit %d\n%s", c.name, code, errs)
		}
		if code, _, errs := pniRun(t, "help", c.name); code != 0 || !strings.Contains(errs, "usage: pni "+c.name) {
			t.Errorf("help %s: %d", c.name, code)
		}
	}
}

// TestFitScoreCalibrateInfo runs the commands end to end on synthetic
// parts with the tiny backbone: fit's summary and file, score's JSONL
// and CSV records, panels and exit statuses (0 good, 1 anomalous, 2
// failed), calibrate's new thresholds, info's text and JSON.
func TestFitScoreCalibrateInfo(t *testing.T) {
	dir := parts(t)
	model := filepath.Join(dir, "part.pni")
	// Flags after the folder work too.
	code, out, errs := pniRun(t, "fit", "-backbone", testparts.Backbone(), filepath.Join(dir, "good"), "-o", model, "-size", "64", "-ratio", "0.5", "-seed", "1")
	if code != 0 {
		t.Fatalf("fit: %d\n%s", code, errs)
	}
	for _, want := range []string{"fitted 16 images", "stage", "features", "coreset", "calibration: leave-one-image-out on 16 good images", "image threshold", "wrote " + model} {
		if !strings.Contains(out, want) {
			t.Errorf("fit output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "features") || !strings.Contains(errs, "100%") {
		t.Errorf("fit progress on stderr: %q", errs)
	}
	m, err := pni.LoadFile(model)
	if err != nil || m.Info().TrainImages != 16 {
		t.Fatalf("model: %v", err)
	}

	// score: JSONL with panels.
	panels := filepath.Join(dir, "panels")
	code, out, errs = pniRun(t, "score", "-m", model, "-out", panels, filepath.Join(dir, "test"))
	if code != 1 {
		t.Fatalf("score: exit %d, want 1 (a defect)\n%s\n%s", code, out, errs)
	}
	recs := jsonl(t, out)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	for _, r := range recs {
		for _, k := range []string{"path", "score", "normalized", "anomalous", "regions", "ms", "width", "height", "panel"} {
			if _, ok := r[k]; !ok {
				t.Errorf("record lacks %q: %v", k, r)
			}
		}
		f, err := os.Open(r["panel"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(f); err != nil {
			t.Errorf("panel %s: %v", r["panel"], err)
		}
		f.Close()
		defect := strings.HasSuffix(r["path"].(string), "defect.png")
		if r["anomalous"] != defect || (defect && len(r["regions"].([]any)) == 0) {
			t.Errorf("record %v", r)
		}
	}
	if code, _, _ := pniRun(t, "score", "-m", model, filepath.Join(dir, "test", "good.png"), filepath.Join(dir, "more")); code != 0 {
		t.Errorf("good parts only: exit %d, want 0", code)
	}

	// Failures are reported and the others still scored; exit 2.
	code, out, errs = pniRun(t, "score", "-m", model, "-format", "csv", filepath.Join(dir, "test", "defect.png"),
		filepath.Join(dir, "bad"), filepath.Join(dir, "missing.png"))
	if code != 2 {
		t.Errorf("with failures: exit %d, want 2", code)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 5 || strings.Join(rows[0], ",") != strings.Join(csvHeader, ",") {
		t.Fatalf("csv %v %q", err, out)
	}
	if rows[1][3] != "true" || rows[1][4] == "0" || rows[1][5] == "" || rows[1][10] != "" {
		t.Errorf("defect row %q", rows[1])
	}
	for _, row := range rows[2:] {
		if row[10] == "" || row[1] != "" {
			t.Errorf("failed row %q", row)
		}
		if !strings.Contains(errs, row[0]) {
			t.Errorf("stderr does not name %s: %s", row[0], errs)
		}
	}

	// info, text and JSON.
	code, out, _ = pniRun(t, "info", "-m", model)
	for _, want := range []string{"preset", "training images  16", "backbone tiny_backbone.onnx", "input 64x64", "grid 8x8", "|C_emb|", "image threshold", "good scores"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = pniRun(t, "info", "-m", model, "-json")
	var mj report.Model
	if err := json.Unmarshal([]byte(out), &mj); code != 0 || err != nil || mj.TrainImages != 16 || mj.Calibration == nil || mj.Members[0].Grid != [2]int{8, 8} {
		t.Errorf("info -json: %d %v %s", code, err, out)
	}

	// calibrate: a bad image changes nothing; good ones re-estimate.
	before, _ := os.ReadFile(model)
	if code, _, errs := pniRun(t, "calibrate", "-m", model, filepath.Join(dir, "more"), filepath.Join(dir, "bad", "notes.png")); code != 2 || !strings.Contains(errs, "notes.png") {
		t.Errorf("calibrate with a bad image: %d %s", code, errs)
	}
	if after, _ := os.ReadFile(model); !bytes.Equal(before, after) {
		t.Error("a failed calibrate changed the model")
	}
	code, out, errs = pniRun(t, "calibrate", "-m", model, "-frr", "0.05", filepath.Join(dir, "more"))
	if code != 0 || !strings.Contains(out, "before: image threshold") || !strings.Contains(out, "good images on 6 good images, false-reject rate 0.05") {
		t.Errorf("calibrate: %d\n%s\n%s", code, out, errs)
	}
	m, _ = pni.LoadFile(model)
	if c := m.Calibration(); c.Method != "good images" || c.Images != 6 || c.FalseRejectRate != 0.05 {
		t.Errorf("calibration after calibrate: %+v", c)
	}
}

func jsonl(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// TestFitBadImages: unreadable training images are all listed and fit
// stops (exit 2, no file); with -skip-bad they are left out.
func TestFitBadImages(t *testing.T) {
	dir := parts(t)
	model := filepath.Join(dir, "part.pni")
	args := []string{"fit", "-o", model, "-backbone", testparts.Backbone(), "-size", "64", "-ratio", "0.5", "-q", filepath.Join(dir, "good"), filepath.Join(dir, "bad")}
	code, _, errs := pniRun(t, args...)
	if code != 2 || !strings.Contains(errs, "2 of 18 images cannot be read") || !strings.Contains(errs, "notes.png: not a readable image header") ||
		!strings.Contains(errs, "cut.png: decoding png") || !strings.Contains(errs, "-skip-bad") {
		t.Errorf("exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(model); err == nil {
		t.Error("a model was written")
	}
	code, out, errs := pniRun(t, append([]string{"fit", "-skip-bad"}, args[1:]...)...)
	if code != 0 || !strings.Contains(out, "fitted 16 images (2 unreadable left out)") {
		t.Errorf("-skip-bad: exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := pniRun(t, "fit", "-o", model, "-backbone", testparts.Backbone(), filepath.Join(dir, "nothing-here")); code != 2 || !strings.Contains(errs, "nothing-here") {
		t.Errorf("missing folder: %d %s", code, errs)
	}
	empty := t.TempDir()
	if code, _, errs := pniRun(t, "fit", "-o", model, "-backbone", testparts.Backbone(), empty); code != 2 || !strings.Contains(errs, "no image files") {
		t.Errorf("empty folder: %d %s", code, errs)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestServe runs pni serve with two models (one named), scores through
// it, and stops it with SIGTERM: exit 0.
func TestServe(t *testing.T) {
	dir := parts(t)
	model := tinyFit(t, dir, "-q")
	var out, errs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"serve", "-m", model, "-m", "other=" + model, "-addr", "127.0.0.1:0"}, &out, &errs)
	}()
	addr := ""
	re := regexp.MustCompile(`on http://(\S+)`)
	for deadline := time.Now().Add(20 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(errs.String()); m != nil {
			addr = m[1]
		}
		select {
		case c := <-done:
			t.Fatalf("serve exited %d: %s", c, errs.String())
		default:
		}
	}
	if addr == "" {
		t.Fatalf("serve did not start: %s", errs.String())
	}
	if !strings.Contains(errs.String(), "(other, part)") {
		t.Errorf("model names: %s", errs.String())
	}
	body, _ := os.ReadFile(filepath.Join(dir, "test", "defect.png"))
	resp, err := http.Post("http://"+addr+"/v1/models/part/score", "image/png", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"anomalous":true`) {
		t.Errorf("score through serve: %d %s", resp.StatusCode, b)
	}
	resp, err = http.Get("http://" + addr + "/v1/models/other")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("named model: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case c := <-done:
		if c != 0 {
			t.Errorf("serve exited %d after SIGTERM: %s", c, errs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	if code, _, errs := pniRun(t, "serve", "-m", filepath.Join(dir, "nosuch.pni")); code != 2 || !strings.Contains(errs, "nosuch.pni") {
		t.Errorf("missing model: %d %s", code, errs)
	}
}

// TestRealGrid fits 8 grid images of the shared MVTec AD set at the
// mvtec preset with the shared ResNet-50 and scores a good and a
// contaminated test image.
func TestRealGrid(t *testing.T) {
	shared := testenv.SharedDir(t)
	grid := filepath.Join(shared, "data", "mvtec_ad", "grid")
	var train []string
	for i := range 8 {
		train = append(train, filepath.Join(grid, "train", "good", "00"+string(rune('0'+i))+".png"))
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "grid.pni")
	code, out, errs := pniRun(t, append([]string{"fit", "-o", model, "-preset", "mvtec", "-q",
		"-backbone", filepath.Join(shared, "models", backboneName)}, train...)...)
	if code != 0 || !strings.Contains(out, "fitted 8 images") || !strings.Contains(out, "input 224x224") {
		t.Fatalf("fit: %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = pniRun(t, "score", "-m", model, "-out", filepath.Join(dir, "panels"),
		filepath.Join(grid, "test", "good", "000.png"), filepath.Join(grid, "test", "metal_contamination", "000.png"))
	recs := jsonl(t, out)
	if code == 2 || len(recs) != 2 {
		t.Fatalf("score: %d\n%s\n%s", code, out, errs)
	}
	if !(recs[1]["score"].(float64) > recs[0]["score"].(float64)) || recs[0]["width"].(float64) != 512 {
		t.Errorf("contaminated %v, good %v", recs[1], recs[0])
	}
	t.Logf("good %.4g (normalized %.3f), contaminated %.4g (normalized %.3f)", recs[0]["score"], recs[0]["normalized"], recs[1]["score"], recs[1]["normalized"])
}
