// Command pni fits, scores, calibrates, describes and serves pni anomaly
// detection models.
//
//	pni fit -o part.pni good/                  # learn from photos of good parts
//	pni score -m part.pni -out panels/ new/    # one JSON line per image; exit 1 if any is anomalous
//	pni calibrate -m part.pni more-good/       # re-estimate the thresholds
//	pni info -m part.pni                       # settings, sizes, bank, thresholds
//	pni serve -m part.pni -addr :8080          # HTTP service (package serve)
//
// Install with go install github.com/x/pni/examples/pni@latest. Each
// command takes -h. Flags may come before or after the file arguments; a
// DIR argument stands for the image files in it (not its subfolders).
//
// Exit status: 0 success (score: every image good), 1 (score only) some
// image anomalous, 2 an error or bad usage (score: some image could not
// be scored; the others still were).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/x/pni/imageio"
)

// Exit statuses.
const (
	exitOK        = 0
	exitAnomalous = 1
	exitError     = 2
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run runs the command line args (without the program name) and returns
// the exit status. SIGINT and SIGTERM cancel the work (serve: shut down
// gracefully).
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, stdout, stderr)
}

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"fit", "fit a model on images of good parts", runFit},
		{"score", "score images: one record each, heatmap panels", runScore},
		{"calibrate", "re-estimate a model's thresholds from good images", runCalibrate},
		{"info", "describe a model", runInfo},
		{"serve", "serve models over HTTP", runServe},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: pni <command> [flags] [arguments]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'pni <command> -h' for a command's flags.")
}

func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitError
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			return runContext(ctx, []string{args[1], "-h"}, stdout, stderr)
		}
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "pni: unknown command %q\n\n", name)
	usage(stderr)
	return exitError
}

// newFlags makes a command's flag set; synopsis is its usage line after
// "pni", about what it does.
func newFlags(name, synopsis, about string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("pni "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: pni %s\n\n%s\n\nflags:\n", synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, flags before or after the other arguments ("--"
// ends the flags), and returns the other arguments. done is true when the
// command should stop with code: after -h (0) or a bad flag (2).
func parse(fs *flag.FlagSet, args []string) (rest []string, code int, done bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK, true
			}
			return nil, exitError, true
		}
		left := fs.Args()
		if len(left) == 0 {
			return rest, 0, false
		}
		if n := len(args) - len(left); n > 0 && args[n-1] == "--" {
			return append(rest, left...), 0, false
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// fail prints "pni <cmd>: <msg>" and returns exitError.
func fail(stderr io.Writer, cmd string, format string, a ...any) int {
	fmt.Fprintf(stderr, "pni %s: %s\n", cmd, fmt.Sprintf(format, a...))
	return exitError
}

// imageExts are the file extensions a DIR argument's images have.
var imageExts = []string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp"}

// expand turns FILE and DIR arguments into image paths: a file as it is
// (its content decides whether it is an image), a folder as its image
// files, sorted (not its subfolders).
func expand(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil || !st.IsDir() {
			out = append(out, a) // a file, or a missing one: reported when read
			continue
		}
		ents, err := os.ReadDir(a)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, e := range ents {
			if e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0 {
				if !strings.HasPrefix(e.Name(), ".") && slices.Contains(imageExts, strings.ToLower(filepath.Ext(e.Name()))) {
					out = append(out, filepath.Join(a, e.Name()))
					n++
				}
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("no image files (%s) in %s; its subfolders are not searched: name them", strings.Join(imageExts, " "), a)
		}
	}
	return out, nil
}

// cause is an image error's message without the path the caller prints.
func cause(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	var fe *imageio.FormatError
	if errors.As(err, &fe) {
		c := *fe
		c.Path = ""
		return strings.TrimPrefix(c.Error(), "imageio: ")
	}
	return err.Error()
}

// backboneName is the default backbone: DenseNet-201, which measured best at
// the default preset on every shared set (README, "Backbone files").
const backboneName = "densenet201-imagenet-l23.onnx"

// defaultBackbone is $PNI_SHARED/models/<backboneName>, else
// ../shared/models/<backboneName>.
func defaultBackbone() string {
	if s := os.Getenv("PNI_SHARED"); s != "" {
		return filepath.Join(s, "models", backboneName)
	}
	return filepath.Join("..", "shared", "models", backboneName)
}
