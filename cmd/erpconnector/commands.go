package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/internal/config"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// globals are the flags every command shares.
type globals struct {
	configPath string
	output     string
	stdout     io.Writer
	stderr     io.Writer
}

// configError marks an invalid configuration (exit code 3).
type configError struct{ err error }

func (c *configError) Error() string { return c.err.Error() }
func (c *configError) Unwrap() error { return c.err }

func (g *globals) load() (*config.File, error) {
	f, err := config.LoadValid(g.configPath, os.Environ())
	if err != nil {
		return nil, &configError{err}
	}
	return f, nil
}

func (g *globals) json() bool { return g.output == "json" }

func (g *globals) print(v any, text func(w io.Writer)) error {
	if g.json() {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text(g.stdout)
	return nil
}

// target is where a one-shot command does its work: the running daemon's
// admin API, or the state file opened directly when no daemon holds it.
type target struct {
	remote *adminClient
	local  *engine
	refs   *references
	file   *config.File
}

func (t *target) close() {
	if t.local != nil {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		_ = t.local.close(ctx)
	}
	if t.refs != nil {
		t.refs.close(context.Background())
	}
}

// open finds the daemon or opens the state locally. Local work that talks
// to the platforms (sync, resync, plan) starts the connector's workers and,
// for a demo configuration, the reference servers.
func (g *globals) open(ctx context.Context, needPlatforms bool) (*target, error) {
	f, err := g.load()
	if err != nil {
		return nil, err
	}
	t := &target{file: f}
	if c := newAdminClient(f); c.up(ctx) {
		t.remote = c
		return t, nil
	}
	log := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: f.Level()}))
	if needPlatforms {
		if t.refs, err = startReferences(f, log); err != nil {
			return nil, err
		}
	}
	if t.local, err = startEngine(ctx, f, log, needPlatforms); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// adminClient talks to a running daemon's admin API.
type adminClient struct {
	base  string
	token string
	hc    *http.Client
}

func newAdminClient(f *config.File) *adminClient {
	return &adminClient{base: "http://" + f.Admin.Listen, token: f.Admin.Token, hc: &http.Client{Timeout: 5 * time.Minute}}
}

func (a *adminClient) up(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/healthz", nil)
	resp, err := a.hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (a *adminClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	// The admin API refuses a mutating request without a JSON body or this
	// header (its guard against cross-site form posts).
	req.Header.Set(connector.RequestHeader, "1")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return &adminError{method: method, path: path, status: resp.StatusCode, msg: e.Error}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// adminError is a request the admin API answered with an error status.
type adminError struct {
	method, path string
	status       int
	msg          string
}

func (e *adminError) Error() string {
	return fmt.Sprintf("admin API: %s %s: %d %s", e.method, e.path, e.status, e.msg)
}

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show what the connector is doing: runs, outcomes, cursors, queue, breakers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := g.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer t.close()
			var st connector.Status
			if t.remote != nil {
				err = t.remote.do(cmd.Context(), http.MethodGet, "/api/v1/status", nil, &st)
			} else {
				st, err = t.local.conn.Status(cmd.Context())
			}
			if err != nil {
				return err
			}
			return g.print(st, func(w io.Writer) { printStatus(w, st, t.remote != nil) })
		},
	}
}

func printStatus(w io.Writer, st connector.Status, daemon bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if daemon {
		fmt.Fprintln(tw, "daemon:\trunning")
	} else {
		fmt.Fprintln(tw, "daemon:\tnot running (state read directly)")
	}
	fmt.Fprintf(tw, "paused:\t%v\n", st.Paused)
	fmt.Fprintf(tw, "queue:\tready %d, scheduled %d, waiting %d, leased %d, dead letters %d\n",
		st.Queue.Ready, st.Queue.Scheduled, st.Queue.Waiting, st.Queue.Leased, st.Queue.Dead)
	for _, name := range sortedKeys(st.Breakers) {
		fmt.Fprintf(tw, "breaker %s:\t%s\n", name, st.Breakers[name])
	}
	for _, name := range sortedKeys(st.Cursors) {
		fmt.Fprintf(tw, "cursor %s:\t%s\n", name, st.Cursors[name])
	}
	for _, name := range sortedKeys(st.Bindings) {
		fmt.Fprintf(tw, "bindings %s:\t%d\n", name, st.Bindings[name])
	}
	fmt.Fprintln(tw, "\nrun\tlast run\tlast success\tnext run\truns\tfailures\tlast error")
	for _, name := range sortedKeys(st.Runs) {
		r := st.Runs[name]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", name, ts(r.LastRun), ts(r.LastSuccess), ts(r.NextRun), r.Runs, r.Failures, r.LastError)
	}
	if len(st.Outcomes) > 0 {
		fmt.Fprintln(tw, "\ndirection\toutcome\trecords")
		for _, d := range sortedKeys(st.Outcomes) {
			for _, o := range sortedKeys(st.Outcomes[d]) {
				fmt.Fprintf(tw, "%s\t%s\t%d\n", d, o, st.Outcomes[d][o])
			}
		}
	}
	_ = tw.Flush()
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func newSyncCmd(g *globals) *cobra.Command {
	var once bool
	cmd := &cobra.Command{
		Use:   "sync --once",
		Short: "Run the ERP scans and the platform polls now and wait until their work is delivered",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !once {
				return &usageError{errors.New("sync needs --once (the daemon is `erpconnector run`)")}
			}
			ctx := cmd.Context()
			t, err := g.open(ctx, true)
			if err != nil {
				return err
			}
			defer t.close()
			if t.remote != nil {
				if err := t.remote.do(ctx, http.MethodPost, "/api/v1/sync", nil, nil); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout, "sync started in the running daemon; see `erpconnector status`")
				return nil
			}
			syncErr := t.local.conn.SyncOnce(ctx)
			if err := t.local.conn.WaitIdle(ctx); err != nil {
				return err
			}
			st, err := t.local.conn.Status(ctx)
			if err != nil {
				return err
			}
			perr := g.print(st, func(w io.Writer) { printStatus(w, st, false) })
			return errors.Join(syncErr, perr)
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "run one pass and exit")
	return cmd
}

func newPlanCmd(g *globals) *cobra.Command {
	var limit int
	var target string
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Report what a sync would create, update, adopt, delete, reject, and the conflicts, per platform, without writing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(connector.ResyncTargets, target) {
				return &usageError{fmt.Errorf("--platform %q: want one of %s", target, strings.Join(connector.ResyncTargets, ", "))}
			}
			ctx := cmd.Context()
			t, err := g.open(ctx, true)
			if err != nil {
				return err
			}
			defer t.close()
			var plan connector.Plan
			if t.remote != nil {
				err = t.remote.do(ctx, http.MethodGet, "/api/v1/plan?limit="+strconv.Itoa(limit)+"&platform="+url.QueryEscape(target), nil, &plan)
			} else {
				var targets []mapping.Platform
				if targets, err = t.local.conn.Targets(target); err == nil {
					plan, err = t.local.conn.Plan(ctx, limit, targets...)
				}
			}
			if err != nil {
				return err
			}
			return g.print(plan, func(w io.Writer) { printPlan(w, plan) })
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 200, "most items to list per platform")
	cmd.Flags().StringVar(&target, "platform", "all", "platform to plan: "+strings.Join(connector.ResyncTargets, ", "))
	return cmd
}

// printPlan prints a plan as text, platform by platform.
func printPlan(w io.Writer, plan connector.Plan) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, rep := range plan.Platforms {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "plan for %s (nothing was written)\n", rep.Platform)
		for _, a := range sortedKeys(rep.Counts) {
			fmt.Fprintf(tw, "  %s:\t%d\n", a, rep.Counts[a])
		}
		if len(rep.Items) > 0 {
			fmt.Fprintln(tw, "\naction\terp key\tplatform id\treason\tfields")
			for _, it := range rep.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.Action, it.ERPKey, it.PlatformID, it.Reason, strings.Join(it.Fields, ","))
			}
		}
		if rep.Truncated {
			fmt.Fprintln(tw, "(more items; raise --limit)")
		}
	}
	_ = tw.Flush()
}

func newResyncCmd(g *globals) *cobra.Command {
	var target string
	cmd := &cobra.Command{
		Use:   "resync",
		Short: "Run (or resume) a full resync of one platform or all, and wait until it is delivered",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(connector.ResyncTargets, target) {
				return &usageError{fmt.Errorf("--target %q: want one of %s", target, strings.Join(connector.ResyncTargets, ", "))}
			}
			ctx := cmd.Context()
			t, err := g.open(ctx, true)
			if err != nil {
				return err
			}
			defer t.close()
			if t.remote != nil {
				if err := t.remote.do(ctx, http.MethodPost, "/api/v1/resync?target="+url.QueryEscape(target), nil, nil); err != nil {
					return err
				}
				return g.followRemoteResync(ctx, t.remote)
			}
			targets, err := t.local.conn.Targets(target)
			if err != nil {
				return &usageError{err}
			}
			done := make(chan error, 1)
			go func() {
				_, err := t.local.conn.Resync(ctx, targets...)
				if err == nil {
					err = t.local.conn.WaitIdle(ctx)
				}
				done <- err
			}()
			return g.followLocal(ctx, t.local.conn, done)
		},
	}
	cmd.Flags().StringVar(&target, "target", "all", "platform to resync: "+strings.Join(connector.ResyncTargets, ", "))
	return cmd
}

// progress shows a bar on a terminal and log lines otherwise.
type progress struct {
	bar  *progressbar.ProgressBar
	w    io.Writer
	last time.Time
}

func (g *globals) newProgress() *progress {
	if f, ok := g.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !g.json() {
		return &progress{bar: progressbar.NewOptions(1000, progressbar.OptionSetWriter(g.stderr),
			progressbar.OptionSetDescription("resync"), progressbar.OptionShowCount())}
	}
	return &progress{w: g.stderr}
}

func (p *progress) set(frac float64, line string) {
	if p.bar != nil {
		_ = p.bar.Set(int(frac * 1000))
		return
	}
	if time.Since(p.last) >= time.Second {
		fmt.Fprintf(p.w, "resync: %.0f%% %s\n", frac*100, line)
		p.last = time.Now()
	}
}

func (g *globals) followLocal(ctx context.Context, c *connector.Connector, done <-chan error) error {
	p := g.newProgress()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			p.set(1, "done")
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, "resync complete")
			return nil
		case <-tick.C:
			m, err := c.ResyncProgress(ctx)
			if err != nil {
				continue
			}
			st, _ := c.Status(ctx)
			p.set(m.Progress(), fmt.Sprintf("(%d records read, %d jobs queued)", m.RecordsDone, st.Queue.Counts.Total()))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (g *globals) followRemoteResync(ctx context.Context, a *adminClient) error {
	p := g.newProgress()
	for {
		var r struct {
			Started  bool    `json:"started"`
			Done     bool    `json:"done"`
			Progress float64 `json:"progress"`
		}
		if err := a.do(ctx, http.MethodGet, "/api/v1/resync", nil, &r); err != nil {
			return err
		}
		p.set(r.Progress, "")
		if r.Done {
			fmt.Fprintln(g.stdout, "resync queued in the running daemon; its workers deliver it (see `erpconnector status`)")
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func newDLQCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "dlq", Short: "List, show, replay and purge dead letters"}
	var typ string
	var limit int
	var after uint64
	list := &cobra.Command{
		Use: "list", Short: "List dead letters", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			t, err := g.open(ctx, false)
			if err != nil {
				return err
			}
			defer t.close()
			var out struct {
				DeadLetters []connector.DeadLetter `json:"dead_letters"`
				Next        uint64                 `json:"next"`
			}
			if t.remote != nil {
				err = t.remote.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/dlq?type=%s&after=%d&limit=%d", typ, after, limit), nil, &out)
			} else {
				var jobs []queue.Job
				jobs, out.Next, err = t.local.conn.Store().DeadLetters(ctx, queue.DeadFilter{Type: typ, AfterID: after, Limit: limit})
				for _, j := range jobs {
					out.DeadLetters = append(out.DeadLetters, connector.DeadLetter{ID: j.ID, Type: j.Type, Key: j.Key,
						Attempts: j.Attempts, LastError: j.LastError, Created: j.Created, Updated: j.Updated})
				}
			}
			if err != nil {
				return err
			}
			return g.print(out, func(w io.Writer) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "id\ttype\tkey\tattempts\treason")
				for _, d := range out.DeadLetters {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", d.ID, d.Type, d.Key, d.Attempts, d.LastError)
				}
				_ = tw.Flush()
				fmt.Fprintf(w, "%d dead letters", len(out.DeadLetters))
				if out.Next != 0 {
					fmt.Fprintf(w, " (more: --after %d)", out.Next)
				}
				fmt.Fprintln(w)
			})
		},
	}
	list.Flags().StringVar(&typ, "type", "", "only this job type (one.push, one.pull, capi.push, …)")
	list.Flags().IntVar(&limit, "limit", 100, "page size")
	list.Flags().Uint64Var(&after, "after", 0, "start after this id")

	show := &cobra.Command{
		Use: "show ID", Short: "Show one dead letter with its payload and attempt history", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return &usageError{fmt.Errorf("ID: want a number, got %q", args[0])}
			}
			ctx := cmd.Context()
			t, err := g.open(ctx, false)
			if err != nil {
				return err
			}
			defer t.close()
			var d connector.DeadLetter
			if t.remote != nil {
				err = t.remote.do(ctx, http.MethodGet, "/api/v1/dlq/"+args[0], nil, &d)
			} else {
				var j queue.Job
				j, err = t.local.conn.Store().DeadLetter(ctx, id)
				d = connector.DeadLetterOf(j)
			}
			if err != nil {
				return err
			}
			return g.print(d, func(w io.Writer) {
				fmt.Fprintf(w, "id:\t%d\ntype:\t%s\nkey:\t%s\nattempts:\t%d\nreason:\t%s\n", d.ID, d.Type, d.Key, d.Attempts, d.LastError)
				fmt.Fprintf(w, "first failed:\t%s\nlast failed:\t%s\n", d.Created.UTC().Format(time.RFC3339), d.Updated.UTC().Format(time.RFC3339))
				switch {
				case d.Unreadable:
					fmt.Fprintf(w, "next:\tnothing to deliver: fix the record in the ERP, then purge this entry\n")
				case !d.NextTry.IsZero():
					fmt.Fprintf(w, "next:\ttried again by itself at %s (%d automatic tries so far)\n", d.NextTry.UTC().Format(time.RFC3339), d.Tries)
				default:
					fmt.Fprintf(w, "next:\tsent again when the ERP record changes, or on dlq replay\n")
				}
				fmt.Fprintf(w, "history:\t%d failures, oldest first\n", len(d.History))
				for _, h := range d.History {
					fmt.Fprintf(w, "  %s\t%s\n", h.At.UTC().Format(time.RFC3339), h.Error)
				}
				if len(d.Payload) > 0 {
					fmt.Fprintf(w, "payload:\t%s\n", d.Payload)
				}
			})
		},
	}
	filterCmd := func(use, short string, run func(ctx context.Context, t *target, f queue.DeadFilter) (any, error)) *cobra.Command {
		var all, yes bool
		var rawIDs []uint
		var ftype string
		c := &cobra.Command{
			Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				ids := make([]uint64, 0, len(rawIDs))
				for _, id := range rawIDs {
					ids = append(ids, uint64(id))
				}
				if !all && len(ids) == 0 && ftype == "" {
					return &usageError{errors.New("choose dead letters with --id, --type or --all")}
				}
				if use == "purge" && !yes {
					if err := confirmPurge(cmd.InOrStdin(), g.stderr, ids, ftype); err != nil {
						return err
					}
				}
				ctx := cmd.Context()
				t, err := g.open(ctx, false)
				if err != nil {
					return err
				}
				defer t.close()
				res, err := run(ctx, t, queue.DeadFilter{IDs: ids, Type: ftype})
				if err != nil {
					return err
				}
				return g.print(res, func(w io.Writer) { fmt.Fprintf(w, "%s: %+v\n", use, res) })
			},
		}
		c.Flags().BoolVar(&all, "all", false, "every dead letter")
		c.Flags().UintSliceVar(&rawIDs, "id", nil, "dead letter id (repeatable)")
		c.Flags().StringVar(&ftype, "type", "", "every dead letter of this job type")
		if use == "purge" {
			c.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation (needed when not run on a terminal)")
		}
		return c
	}
	replay := filterCmd("replay", "Put dead letters back in the queue", func(ctx context.Context, t *target, f queue.DeadFilter) (any, error) {
		if t.remote != nil {
			var res map[string]any
			err := t.remote.do(ctx, http.MethodPost, "/api/v1/dlq/replay", map[string]any{"ids": f.IDs, "type": f.Type}, &res)
			return res, err
		}
		return t.local.conn.Store().Replay(ctx, f)
	})
	purge := filterCmd("purge", "Delete dead letters", func(ctx context.Context, t *target, f queue.DeadFilter) (any, error) {
		if t.remote != nil {
			var res map[string]any
			err := t.remote.do(ctx, http.MethodPost, "/api/v1/dlq/purge", map[string]any{"ids": f.IDs, "type": f.Type}, &res)
			return res, err
		}
		n, err := t.local.conn.Store().Purge(ctx, f)
		return map[string]int{"purged": n}, err
	})
	cmd.AddCommand(list, show, replay, purge)
	return cmd
}

func newCursorCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "cursor", Short: "Read or set the connector's cursors (" + strings.Join(connector.CursorNames, ", ") + ")",
		Long: connector.CursorHelp}
	get := &cobra.Command{
		Use: "get [NAME]", Short: "Print one cursor, or all", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			t, err := g.open(ctx, false)
			if err != nil {
				return err
			}
			defer t.close()
			all := map[string]string{}
			if t.remote != nil {
				err = t.remote.do(ctx, http.MethodGet, "/api/v1/cursors", nil, &all)
			} else {
				for _, n := range connector.CursorNames {
					if all[n], err = t.local.conn.Cursor(ctx, n); err != nil {
						break
					}
				}
			}
			if err != nil {
				return err
			}
			if len(args) == 1 {
				v, ok := all[args[0]]
				if !ok {
					return &usageError{fmt.Errorf("unknown cursor %q (known: %s)", args[0], strings.Join(connector.CursorNames, ", "))}
				}
				return g.print(map[string]string{args[0]: v}, func(w io.Writer) { fmt.Fprintln(w, v) })
			}
			return g.print(all, func(w io.Writer) {
				for _, n := range sortedKeys(all) {
					fmt.Fprintf(w, "%s\t%s\n", n, all[n])
				}
			})
		},
	}
	set := &cobra.Command{
		Use: "set NAME VALUE", Short: "Set a cursor by hand (logged with the old value)", Long: connector.CursorHelp,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			t, err := g.open(ctx, false)
			if err != nil {
				return err
			}
			defer t.close()
			stored := map[string]string{}
			if t.remote != nil {
				err = t.remote.do(ctx, http.MethodPut, "/api/v1/cursors/"+args[0], map[string]string{"value": args[1]}, &stored)
			} else if err = t.local.conn.SetCursor(ctx, args[0], args[1]); err == nil {
				stored[args[0]], err = t.local.conn.Cursor(ctx, args[0])
			}
			if err != nil {
				return &usageError{err}
			}
			v := stored[args[0]]
			return g.print(map[string]string{args[0]: v}, func(w io.Writer) { fmt.Fprintf(w, "%s set to %s\n", args[0], v) })
		},
	}
	cmd.AddCommand(get, set)
	return cmd
}

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check and print configuration files"}
	validate := &cobra.Command{
		Use: "validate [FILE]", Short: "Check a configuration file; every problem is listed with its key path", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := g.configPath
			if len(args) == 1 {
				path = args[0]
			}
			f, err := config.LoadValid(path, os.Environ())
			res := validation{File: path, Valid: err == nil, Problems: []problem{}}
			var ce *config.Error
			if errors.As(err, &ce) {
				for _, p := range ce.Problems {
					res.Problems = append(res.Problems, problem{Path: p.Path, Message: p.Message})
				}
			} else if err != nil {
				res.Problems = append(res.Problems, problem{Message: err.Error()})
			}
			if f != nil {
				for _, name := range f.UnknownEnv() {
					w := warning{Env: name, DidYouMean: config.NearestEnv(name)}
					res.Warnings = append(res.Warnings, w)
					hint := ""
					if w.DidYouMean != "" {
						hint = " (did you mean " + w.DidYouMean + "?)"
					}
					fmt.Fprintf(g.stderr, "warning: %s matches no configuration key and is ignored%s\n", name, hint)
				}
			}
			if g.json() {
				if perr := g.print(res, nil); perr != nil {
					return perr
				}
			}
			if err != nil {
				return &configError{err}
			}
			if !g.json() {
				fmt.Fprintf(g.stdout, "%s: configuration is valid\n", path)
			}
			return nil
		},
	}
	show := &cobra.Command{
		Use: "show [FILE]", Short: "Print the effective configuration with secrets redacted", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := g.configPath
			if len(args) == 1 {
				path = args[0]
			}
			f, err := config.Load(path, os.Environ())
			if err != nil {
				return &configError{err}
			}
			fmt.Fprint(g.stdout, f.Redacted())
			return nil
		},
	}
	keys := &cobra.Command{
		Use: "keys", Short: "List every configuration key with its environment variable and default (Markdown)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ks := config.Keys()
			return g.print(ks, func(w io.Writer) { writeKeyTable(w, ks) })
		},
	}
	cmd.AddCommand(validate, show, keys)
	return cmd
}

// validation is what config validate -o json prints.
type validation struct {
	File     string    `json:"file"`
	Valid    bool      `json:"valid"`
	Problems []problem `json:"problems"`
	Warnings []warning `json:"warnings,omitempty"`
}

type problem struct {
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

type warning struct {
	Env        string `json:"env"`
	DidYouMean string `json:"did_you_mean,omitempty"`
}

// writeKeyTable writes the configuration reference as a Markdown table.
func writeKeyTable(w io.Writer, ks []config.Key) {
	fmt.Fprintln(w, "| key | environment variable | type | default |")
	fmt.Fprintln(w, "|---|---|---|---|")
	known := map[string]bool{}
	for _, k := range ks {
		known[k.Path] = true
	}
	for _, k := range ks {
		def := k.Default
		if def != "" {
			def = "`" + def + "`"
		}
		typ := k.Type
		switch {
		case k.Secret && known[k.Path+"_file"]:
			typ += " (secret; or `" + k.Path + "_file`)"
		case k.Secret:
			typ += " (secret)"
		}
		fmt.Fprintf(w, "| `%s` | `%s` | %s | %s |\n", k.Path, k.Env, typ, def)
	}
}

func newDemoCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "demo", Short: "Demo helpers"}
	seed := &cobra.Command{
		Use: "seed", Short: "Create and seed the demo ERP (only when it is empty)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := g.load()
			if err != nil {
				return err
			}
			if !f.IsDemo() {
				return &usageError{errors.New("demo seed needs a demo configuration (reference.enabled: true)")}
			}
			log := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: f.Level()}))
			a, err := f.OpenERP(cmd.Context(), log)
			if err != nil {
				return err
			}
			defer closeERP(a)
			n, err := f.SeedDemo(cmd.Context(), a)
			if err != nil {
				return err
			}
			return g.print(map[string]int{"seeded": n}, func(w io.Writer) {
				if n == 0 {
					fmt.Fprintln(w, "demo ERP already has customers; nothing seeded")
					return
				}
				fmt.Fprintf(w, "seeded %d demo customers\n", n)
			})
		},
	}
	cmd.AddCommand(seed)
	return cmd
}

// confirmPurge asks on the terminal before dead letters are deleted for
// good; without a terminal to ask on, the purge needs --yes.
func confirmPurge(in io.Reader, out io.Writer, ids []uint64, ftype string) error {
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &usageError{errors.New("dlq purge deletes dead letters for good: confirm with --yes (there is no terminal to ask on)")}
	}
	what := "every dead letter"
	switch {
	case len(ids) > 0:
		what = fmt.Sprintf("the dead letters %v", ids)
	case ftype != "":
		what = fmt.Sprintf("every dead letter of type %s", ftype)
	}
	fmt.Fprintf(out, "Delete %s for good? Their records will not be delivered. [y/N] ", what)
	line, _ := bufio.NewReader(f).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return errors.New("dlq purge: not confirmed; nothing deleted")
	}
	return nil
}
