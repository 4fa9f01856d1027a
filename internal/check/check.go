package check

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/erpconnector/erpconnector/connector"
	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/config"
)

// DefaultSample is how many ERP rows Run reads through the rules.
const DefaultSample = 20

// Options configure Run.
type Options struct {
	// File is the loaded, valid configuration (platform URLs set, for a
	// demo, to its running reference servers).
	File *config.File
	// Sample is how many ERP rows are read through the rules (default
	// DefaultSample).
	Sample int
	// Version goes into the platforms' User-Agent.
	Version string
	// Logger receives the adapters' logs.
	Logger *slog.Logger
}

// Report is what Run found. Nothing in it holds a secret.
type Report struct {
	// ERP is the check of the ERP.
	ERP ERPReport `json:"erp"`
	// Platforms has one entry per configured platform.
	Platforms []PlatformReport `json:"platforms"`
}

// ERPReport is the check of the ERP: it opened, the configured tables,
// columns (or folders and export header) are there, and a sample of rows
// went through the rules and each platform's validation.
type ERPReport struct {
	// Adapter is "sql" or "files".
	Adapter string `json:"adapter"`
	// Where names the database table or the drop folder.
	Where string `json:"where"`
	// OK is true when the ERP opened and matches the configuration.
	OK bool `json:"ok"`
	// Problems are what does not match (each on its own).
	Problems []string `json:"problems,omitempty"`
	// Sample is the rows read through the rules (none when the ERP did not open).
	Sample *Sample `json:"sample,omitempty"`
}

// Sample is the rows read through the rules and what a sync would do with
// each on each platform it is flagged for.
type Sample struct {
	// Rows is how many rows were read.
	Rows int `json:"rows"`
	// Accepted and Refused count, per platform, the sampled rows flagged
	// for it that it would receive or that would be dead letters.
	Accepted map[string]int `json:"accepted"`
	Refused  map[string]int `json:"refused"`
	// Records are the refused rows, with the reasons.
	Records []RowReport `json:"records,omitempty"`
}

// RowReport is one sampled row a platform would refuse.
type RowReport struct {
	// Key is the row's ERP key ("" when it had none; Source then says where it is).
	Key    string `json:"key"`
	Source string `json:"source,omitempty"`
	// Platform is the platform that refuses it, Reason why.
	Platform string `json:"platform"`
	Reason   string `json:"reason"`
}

// PlatformReport is one authenticated, read-only request to a platform.
type PlatformReport struct {
	// Platform is the platform's name (one, customerapi).
	Platform string `json:"platform"`
	// URL is the configured base URL.
	URL string `json:"url"`
	// OK is true when the platform answered the request.
	OK bool `json:"ok"`
	// Request says what was asked.
	Request string `json:"request"`
	// CredentialsRefused is true when the platform refused the API key,
	// password or token.
	CredentialsRefused bool `json:"credentials_refused,omitempty"`
	// Error is why the request failed.
	Error string `json:"error,omitempty"`
}

// ERPFailed reports whether the ERP check found a problem.
func (r Report) ERPFailed() bool { return !r.ERP.OK }

// PlatformsFailed reports whether a platform request failed.
func (r Report) PlatformsFailed() bool {
	return slices.ContainsFunc(r.Platforms, func(p PlatformReport) bool { return !p.OK })
}

// Refused is how many sampled rows a platform would refuse.
func (r Report) Refused() int {
	if r.ERP.Sample == nil {
		return 0
	}
	rows := map[string]bool{}
	for _, rec := range r.ERP.Sample.Records {
		rows[rec.Key+"\x00"+rec.Source] = true
	}
	return len(rows)
}

// Run checks the configuration against the ERP and the platforms: it opens
// the ERP and checks its tables and columns (or folders and an export's
// header), reads a sample of rows through the rules and each platform's
// Prepare, and makes one read-only authenticated request per platform. It
// writes nothing to the ERP or the platforms. The problems are in the
// Report; err is only a failure to check (ctx done).
func Run(ctx context.Context, opts Options) (Report, error) {
	if opts.Sample <= 0 {
		opts.Sample = DefaultSample
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := opts.File
	plats, reports := platforms(f.Connector(), opts.Version, log)
	var rep Report
	rep.ERP = checkERP(ctx, f, plats, opts.Sample, log)
	for i, p := range plats {
		reports[i] = p.probe(ctx, reports[i])
	}
	rep.Platforms = reports
	return rep, ctx.Err()
}

// checkERP opens the ERP, checks its layout and reads the sample.
func checkERP(ctx context.Context, f *config.File, plats []checked, n int, log *slog.Logger) ERPReport {
	rep := ERPReport{Adapter: f.ERP.Adapter}
	switch f.ERP.Adapter {
	case config.AdapterSQL:
		rep.Where = "table " + f.ERP.SQL.Table
	case config.AdapterFiles:
		rep.Where = "folder " + f.ERP.Files.Dir
		rep.Problems = folderProblems(f.ERP.Files)
		if len(rep.Problems) > 0 {
			// Opening would create the folders the check found missing.
			return rep
		}
	}
	a, err := f.OpenERP(ctx, log)
	if err != nil {
		rep.Problems = append(rep.Problems, problems(err)...)
		return rep
	}
	defer func() {
		if c, ok := a.(erp.Closer); ok {
			_ = c.Close()
		}
	}()
	if t, ok := a.(*sqlerp.Table); ok {
		if err := t.CheckSchema(ctx); err != nil {
			rep.Problems = append(rep.Problems, problems(err)...)
			return rep
		}
	}
	if f.ERP.Adapter == config.AdapterFiles {
		rep.Problems = append(rep.Problems, exportProblems(f.ERP.Files)...)
	}
	items, err := sample(ctx, a, n)
	if err != nil {
		rep.Problems = append(rep.Problems, problems(err)...)
		return rep
	}
	rep.Sample = judge(items, plats)
	rep.OK = len(rep.Problems) == 0
	return rep
}

// problems splits a schema error into its problems; other errors are one.
func problems(err error) []string {
	var se *sqlerp.SchemaError
	if errors.As(err, &se) {
		return slices.Clone(se.Problems)
	}
	return []string{err.Error()}
}

// sample reads the first n changes (a drop folder: the first n flagged
// customers it holds, without touching its files).
func sample(ctx context.Context, a erp.Adapter, n int) ([]erp.Item, error) {
	if _, ok := a.(*sqlerp.Table); !ok {
		if kl, ok := a.(erp.KeyLister); ok {
			keys, err := kl.ListKeys(ctx, "", n)
			if err != nil {
				return nil, fmt.Errorf("check: sample: %w", err)
			}
			items := make([]erp.Item, 0, len(keys))
			for _, k := range keys {
				it, err := a.Get(ctx, k)
				if err != nil {
					return nil, fmt.Errorf("check: sample: %w", err)
				}
				items = append(items, it)
			}
			return items, nil
		}
	}
	page, err := a.Changes(ctx, "", n)
	if err != nil {
		return nil, fmt.Errorf("check: sample: %w", err)
	}
	if len(page.Items) > n {
		page.Items = page.Items[:n]
	}
	return page.Items, nil
}

// judge runs every sampled row through each platform it is flagged for,
// the way a sync decides.
func judge(items []erp.Item, plats []checked) *Sample {
	s := &Sample{Rows: len(items), Accepted: map[string]int{}, Refused: map[string]int{}}
	for _, p := range plats {
		s.Accepted[string(p.p.Name())], s.Refused[string(p.p.Name())] = 0, 0
	}
	for _, it := range items {
		for _, p := range plats {
			name := string(p.p.Name())
			if !p.p.Wants(it.Customer) && !unreadable(it) {
				continue
			}
			op, reason, err := connector.Judge(p.p, it)
			switch {
			case err != nil:
				s.Refused[name]++
				s.Records = append(s.Records, RowReport{Key: it.Key, Source: it.Source, Platform: name, Reason: err.Error()})
			case op == connector.JudgeInvalid:
				s.Refused[name]++
				s.Records = append(s.Records, RowReport{Key: it.Key, Source: it.Source, Platform: name, Reason: reason})
			case op == connector.JudgeUpsert:
				s.Accepted[name]++
			}
		}
	}
	return s
}

// unreadable reports whether a row could not be read at all (no key, or
// no customer to tell the flags from): every platform refuses it.
func unreadable(it erp.Item) bool { return it.Key == "" || it.Raw != "" }

// checked is a configured platform with its read-only request.
type checked struct {
	p     platform.Platform
	probe func(ctx context.Context, r PlatformReport) PlatformReport
}

// platformError fills r from a failed request.
func platformError(r PlatformReport, err error) PlatformReport {
	r.OK = false
	r.CredentialsRefused = credentialsRefused(err)
	r.Error = strings.TrimSpace(err.Error())
	return r
}
