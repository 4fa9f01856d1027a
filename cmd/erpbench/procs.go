package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// benchTenant is the tenant every bench server holds.
const benchTenant = "bench"

// newAPIKey returns a fresh random API key for one run's servers.
func newAPIKey() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("api key: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// command builds a child process running erpbench itself with args.
func (s self) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.exe, args...)
	cmd.Env = append(os.Environ(), s.env...)
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// serverProc is a running `serve-one` or `serve-customer` child.
type serverProc struct {
	url   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
	log   string
}

// startServer starts a fresh ONe reference server process and waits for
// its address.
func startServer(ctx context.Context, o benchOptions, dir, name, apiKey string) (*serverProc, error) {
	return startServerChild(ctx, o, dir, name, apiKey, "serve-one", "--listen", "127.0.0.1:0", "--tenant", benchTenant, "--seed", fmt.Sprint(o.seed))
}

// startServerChild starts a reference server process (erpbench with args)
// that takes secret from $ERPBENCH_API_KEY, and waits for its address.
func startServerChild(ctx context.Context, o benchOptions, dir, name, secret string, args ...string) (*serverProc, error) {
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start server %s: %w", name, err)
	}
	defer logf.Close()
	cmd := o.self.command(ctx, args...)
	cmd.Env = append(cmd.Env, apiKeyEnv+"="+secret)
	cmd.Stderr = logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start server %s: %w", name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start server %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server %s: %w", name, err)
	}
	p := &serverProc{cmd: cmd, stdin: stdin, done: make(chan error, 1), log: logPath}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		p.done <- cmd.Wait()
	}()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case line, ok := <-lines:
		if ok && strings.HasPrefix(line, "http://127.0.0.1:") {
			p.url = line
			return p, nil
		}
		p.stop()
		return nil, fmt.Errorf("start server %s: no address announced (see %s)", name, logPath)
	case <-timer.C:
	case <-ctx.Done():
	}
	p.stop()
	return nil, fmt.Errorf("start server %s: no address within 30s (see %s)", name, logPath)
}

// stop ends the server (end of stdin, then SIGKILL after 10 s) and waits.
func (p *serverProc) stop() {
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// childRun is one run of the connector child as the parent measured it.
type childRun struct {
	wall    time.Duration
	rssMiB  float64
	anonMiB float64
	// anonGoMiB is the Go runtime's part of anonMiB.
	anonGoMiB float64
	cpuS      float64
	report    childReport
}

// runConnectorChild runs `erpbench connector --config cfg` to completion.
func runConnectorChild(ctx context.Context, o benchOptions, dir, cfg, tag string, extra ...string) (childRun, error) {
	logPath := filepath.Join(dir, "connector-"+tag+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return childRun{}, fmt.Errorf("connector %s: %w", tag, err)
	}
	defer logf.Close()
	args := append([]string{"connector", "--config", cfg}, extra...)
	// A resync child (noop's two) profiles into FILE.<tag>, so that FILE
	// keeps the command's timed run.
	prof := func(file string) string {
		if slices.Contains(extra, "--resync") {
			return file + "." + tag
		}
		return file
	}
	if o.cpuProfile != "" {
		args = append(args, "--cpuprofile", prof(o.cpuProfile))
	}
	if o.memProfile != "" {
		args = append(args, "--memprofile", prof(o.memProfile))
	}
	if o.idlePoll > 0 {
		args = append(args, "--idle-poll", o.idlePoll.String())
	}
	cmd := o.self.command(ctx, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = logf
	start := time.Now()
	runErr := cmd.Run()
	wall := time.Since(start)
	var r childRun
	r.wall = wall
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.rssMiB = float64(ru.Maxrss) / 1024 // KiB on Linux
			r.cpuS = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
	}
	if runErr != nil {
		return r, fmt.Errorf("connector %s: %w (log: %s)", tag, runErr, tail(logPath))
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r.report); err != nil {
		return r, fmt.Errorf("connector %s: report: %w", tag, err)
	}
	if r.report.PeakRSSKiB > 0 {
		// The child's own figure: rusage Maxrss includes the parent's RSS
		// at spawn time (see childReport.PeakRSSKiB).
		r.rssMiB = float64(r.report.PeakRSSKiB) / 1024
	}
	r.anonMiB = float64(r.report.PeakAnonKiB) / 1024
	r.anonGoMiB = float64(r.report.PeakAnonGoKiB) / 1024
	return r, nil
}

// tail returns the last lines of a log file, for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return path
	}
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	if len(b) == 0 {
		return path + " (empty)"
	}
	return path + ": " + string(b)
}

// workDir returns the run's directory and its cleanup.
func workDir(o benchOptions) (string, func(), error) {
	if o.dir != "" {
		return o.dir, func() {}, os.MkdirAll(o.dir, 0o750)
	}
	dir, err := os.MkdirTemp("", "erpbench-")
	if err != nil {
		return "", nil, fmt.Errorf("work dir: %w", err)
	}
	if o.keep {
		fmt.Fprintf(o.log, "working directory kept: %s\n", dir)
		return dir, func() {}, nil
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}

// errCheck is a failed verification.
var errCheck = errors.New("verification failed")
