package errs

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestArg(t *testing.T) {
	err := Arg("pkg: Thing(%d): want a positive size", -1)
	if !errors.Is(err, ErrInvalidArgument) {
		t.Fatal("Arg error does not match ErrInvalidArgument")
	}
	if got, want := err.Error(), "pkg: Thing(-1): want a positive size"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	wrapped := Arg("pkg: reading: %w", io.ErrUnexpectedEOF)
	if !errors.Is(wrapped, io.ErrUnexpectedEOF) || !errors.Is(wrapped, ErrInvalidArgument) {
		t.Errorf("%v: cause or kind lost", wrapped)
	}
	if got, want := wrapped.Error(), "pkg: reading: unexpected EOF"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	if errors.Is(errors.New("other"), ErrInvalidArgument) {
		t.Error("an unrelated error matches")
	}
}

func TestNew(t *testing.T) {
	a, b := New("pkg: a"), New("pkg: a")
	if a == b || errors.Is(a, b) {
		t.Error("two sentinels with one message are the same error")
	}
	w := fmt.Errorf("detail: %w", a)
	if !errors.Is(w, a) || !errors.Is(w, ErrInvalidArgument) || errors.Is(w, b) {
		t.Error("a wrapped sentinel does not match itself and ErrInvalidArgument only")
	}
}
