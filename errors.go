package pni

import (
	"errors"
	"fmt"

	"github.com/x/pni/internal/errs"
)

// ErrInvalidArgument matches (errors.Is) every error for an invalid
// argument: a bad option value, a nil or empty image, settings that
// contradict each other. It is the same value as the ErrInvalidArgument of
// packages backbone, coreset, position and neighborhood, so one test covers
// errors from any of them.
var ErrInvalidArgument = errs.ErrInvalidArgument

// ErrNotFitted is returned when a Model that was neither fitted nor loaded is used.
var ErrNotFitted = errors.New("pni: model is not fitted: use Fit or Load")

func badArg(format string, a ...any) error { return errs.Arg("pni: "+format, a...) }

// FormatError reports a model file that is not a pni model, is truncated or
// damaged, or was written in another format version. Err is the cause when
// there is one (a component's decoding error, say).
type FormatError struct {
	Path string // the file, when known
	Msg  string // what is wrong and what to do
	Err  error
}

func (e *FormatError) Error() string {
	s := "pni: bad model file"
	if e.Path != "" {
		s += " " + e.Path
	}
	s += ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *FormatError) Unwrap() error { return e.Err }

// UnsupportedError reports a well-formed model file that holds something
// this version of pni cannot use: a section written by a newer version
// (Section is its name, Description what the writer said it holds).
type UnsupportedError struct {
	Path        string
	Section     string
	Description string
}

func (e *UnsupportedError) Error() string {
	s := "pni: model file"
	if e.Path != "" {
		s += " " + e.Path
	}
	what := fmt.Sprintf("a %q section", e.Section)
	if e.Description != "" {
		what += " (" + e.Description + ")"
	}
	return s + " has " + what + " that this version of pni cannot read: it was written by a newer pni; upgrade pni to use it"
}

// ImageError reports an image that Fit, FitFiles or Score could not use:
// Index is its position in the list given (-1 for Score), Path its file
// (empty for an image given in memory), Err the cause (an imageio
// *FormatError, an fs error, or an ErrInvalidArgument error).
type ImageError struct {
	Index int
	Path  string
	Err   error
}

func (e *ImageError) Error() string {
	s := "pni: image"
	if e.Index >= 0 {
		s += fmt.Sprintf(" %d", e.Index)
	}
	if e.Path != "" {
		s += " (" + e.Path + ")"
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ImageError) Unwrap() error { return e.Err }
