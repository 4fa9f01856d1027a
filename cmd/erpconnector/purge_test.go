package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// runOnTerminal runs the binary on a pseudo-terminal, answers its prompt
// with answer, and returns the exit code and what the terminal showed.
func (e *stateEnv) runOnTerminal(answer string, args ...string) (int, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := e.command(ctx, e.adminAt, args...)
	tty, err := pty.Start(cmd)
	if err != nil {
		e.t.Fatal(err)
	}
	defer tty.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&out, tty); close(done) }()
	if _, err := tty.Write([]byte(answer + "\n")); err != nil {
		e.t.Fatal(err)
	}
	err = cmd.Wait()
	_ = tty.Close()
	<-done
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return code, out.String()
}

// dlq purge on a terminal asks first: "n" deletes nothing, "y" deletes.
func TestPurgeAsksOnATerminal(t *testing.T) {
	e := newStateEnv(t, buildBinary(t))
	e.seed()
	code, out := e.runOnTerminal("n", "dlq", "purge", "--all")
	if code != 1 || !strings.Contains(out, "for good? Their records will not be delivered. [y/N]") || !strings.Contains(out, "nothing deleted") {
		t.Fatalf("declined purge: exit %d\n%s", code, out)
	}
	stdout, _ := e.must(0, "dlq", "list")
	if !strings.Contains(stdout, "C7654321") {
		t.Fatalf("the declined purge deleted the dead letter:\n%s", stdout)
	}
	code, out = e.runOnTerminal("y", "dlq", "purge", "--type", "one.push")
	if code != 0 || !strings.Contains(out, "every dead letter of type one.push") {
		t.Fatalf("confirmed purge: exit %d\n%s", code, out)
	}
	if stdout, _ := e.must(0, "dlq", "list"); strings.Contains(stdout, "C7654321") {
		t.Fatalf("the confirmed purge left the dead letter:\n%s", stdout)
	}
}
