package backbone

import (
	"fmt"
	"strings"

	"github.com/x/pni/internal/errs"
)

// FormatError reports a model file that cannot be used as a backbone: the
// bytes are not a valid ONNX model, the graph is inconsistent, it has not
// exactly one image input, or its metadata mean/std cannot be parsed.
// Re-export the model (for example with scripts/export_wrn50.py).
type FormatError struct {
	Path string // the file, empty for LoadBytes
	Msg  string // what is wrong
	Err  error  // underlying error (from the ONNX decoder), if any
}

func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("backbone: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString("unusable model: ")
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *FormatError) Unwrap() error { return e.Err }

// UnsupportedError reports a well-formed ONNX model that uses an operator or
// an operator mode the pure-Go executor does not implement: Op, Node and
// Opset say which. Export the backbone with plain Conv / BatchNormalization /
// Relu / MaxPool / Add layers at opset 13 or later, or report the operator.
type UnsupportedError struct {
	Path   string // the file, empty for LoadBytes
	Op     string // the operator type, e.g. "Resize"
	Node   string // the node's name ("#index" when unnamed)
	Opset  int    // the model's default-domain opset
	Detail string // the unsupported attribute or mode; empty for an unknown operator
	Err    error  // the executor's error
}

func (e *UnsupportedError) Error() string {
	var b strings.Builder
	b.WriteString("backbone: ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, "unsupported model: %s in operator %s (node %s, opset %d)", e.Detail, e.Op, e.Node, e.Opset)
	} else {
		fmt.Fprintf(&b, "unsupported model: operator %s (node %s, opset %d) is not implemented", e.Op, e.Node, e.Opset)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *UnsupportedError) Unwrap() error { return e.Err }

// MissingLayerError reports that the model does not produce a requested
// layer (Options.Layers). Available lists the model's graph outputs; any
// node output name of the graph is accepted too.
type MissingLayerError struct {
	Missing   []string // requested names the model does not have
	Available []string // the model's graph outputs
}

func (e *MissingLayerError) Error() string {
	avail := e.Available
	more := ""
	if len(avail) > 8 {
		more = fmt.Sprintf(", ... (%d in all)", len(avail))
		avail = avail[:8]
	}
	return fmt.Sprintf("backbone: the model has no output named %s (graph outputs: %s%s); "+
		"set Options.Layers to two of its outputs (stride 8 and stride 16), or re-export the model with outputs named layer2 and layer3",
		quoteList(e.Missing), quoteList(avail), more)
}

// ErrInvalidArgument matches (errors.Is) every error this package returns
// for bad arguments (a nil or empty image, bad Preprocess sizes, bad
// Options); it is the same value as pni.ErrInvalidArgument.
var ErrInvalidArgument = errs.ErrInvalidArgument

func badArg(format string, a ...any) error { return errs.Arg("backbone: "+format, a...) }

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}
