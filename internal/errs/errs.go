// Package errs holds the error conventions shared by pni's packages.
//
// Three kinds of failure, one way each:
//   - the input data is malformed (a model file, an ONNX file, an image
//     file): the package's *FormatError, with the file's Path when known;
//   - the input is well formed but uses a feature this version does not
//     implement: the package's *UnsupportedError;
//   - an argument is invalid (a bad option, size, slice or image): an error
//     for which errors.Is(err, ErrInvalidArgument) holds. Every public
//     package re-exports this one sentinel under the same name, so the test
//     works whichever package's copy is used.
//
// Causes are wrapped with %w, never flattened to strings.
package errs

import (
	"errors"
	"fmt"
)

// ErrInvalidArgument is the sentinel every invalid-argument error matches
// with errors.Is.
var ErrInvalidArgument = errors.New("invalid argument")

// argError is an invalid-argument error whose text is the message alone.
type argError struct {
	msg string // the whole message, the cause's text included
	err error  // optional cause
}

func (e *argError) Error() string { return e.msg }

func (e *argError) Is(target error) bool { return target == ErrInvalidArgument }

func (e *argError) Unwrap() error { return e.err }

// Arg returns an invalid-argument error with the message fmt.Sprintf(format,
// a...) (which should name the package, the argument and what to do). A %w
// verb in format wraps its operand as the cause.
func Arg(format string, a ...any) error {
	e := fmt.Errorf(format, a...)
	return &argError{msg: e.Error(), err: errors.Unwrap(e)}
}

// New returns a distinct sentinel error with the message msg that also
// matches ErrInvalidArgument, for packages whose bad-argument errors have
// finer sentinels of their own (errors.Is works with both).
func New(msg string) error { return &argError{msg: msg} }
