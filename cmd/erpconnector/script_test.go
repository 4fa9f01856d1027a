package main

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"go.yaml.in/yaml/v3"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"erpconnector": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scripts in testdata/script. Each script gets the
// shipped configs/ in its work directory, with every server on a free port.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			dir := filepath.Join(env.WorkDir, "configs")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			for _, name := range []string{"demo.yaml", "files.example.yaml", "production.example.yaml"} {
				b, err := os.ReadFile(filepath.Join("..", "..", "configs", name))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					return err
				}
			}
			if err := writeCustomerAPIDemo(dir); err != nil {
				return err
			}
			env.Setenv("ERPCONNECTOR_ADMIN_LISTEN", "127.0.0.1:0")
			env.Setenv("ERPCONNECTOR_REFERENCE_ONE_LISTEN", "127.0.0.1:0")
			env.Setenv("ERPCONNECTOR_REFERENCE_CUSTOMER_LISTEN", "127.0.0.1:0")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// freeport NAME: set NAME to a free loopback address
			// (127.0.0.1:PORT), for a server a script starts in the
			// background and finds again from its other commands.
			"freeport": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: freeport NAME")
				}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				ts.Check(err)
				addr := ln.Addr().String()
				ts.Check(ln.Close())
				ts.Setenv(args[0], addr)
			},
			// waithttp URL: wait, a minute at most, until URL answers 200.
			"waithttp": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: waithttp URL")
				}
				deadline := time.Now().Add(time.Minute)
				last := "no answer"
				for time.Now().Before(deadline) {
					resp, err := http.Get(args[0])
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							return
						}
						last = resp.Status
					}
					time.Sleep(100 * time.Millisecond)
				}
				ts.Fatalf("waithttp %s: %s after a minute", args[0], last)
			},
			// exitcode N CMD...: run erpconnector in-process and check its exact exit code.
			"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: exitcode N ARGS...")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exitcode: %v", err)
				}
				// A process of its own, in the script's work directory (a
				// chdir here would move every test running in parallel).
				got := 0
				if err := ts.Exec("erpconnector", args[1:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("exitcode: %v", err)
					}
					got = ee.ExitCode()
				}
				if (got == want) == neg {
					ts.Fatalf("exit code %d, want %d", got, want)
				}
			},
		},
	})
}

// writeCustomerAPIDemo writes configs/customer-api-demo.yaml: the shipped
// demo with ONe left out (no one section, no ONe reference server, no
// storefront registrations), for the scripts of a Customer-API-only setup.
func writeCustomerAPIDemo(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "demo.yaml"))
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	delete(doc, "one")
	doc["reference"].(map[string]any)["one_listen"] = ""
	doc["demo"].(map[string]any)["storefront_registrations"] = 0
	doc["state_path"] = "../data/capi-demo-state.db"
	doc["erp"].(map[string]any)["sql"].(map[string]any)["dsn"] = "../data/capi-demo-erp.db"
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "customer-api-demo.yaml"), out.Bytes(), 0o644)
}
