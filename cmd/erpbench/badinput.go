package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/erp/erpgen"
	"github.com/erpconnector/erpconnector/erp/fileerp"
	"github.com/erpconnector/erpconnector/erp/sqlerp"
	"github.com/erpconnector/erpconnector/internal/fault"
	"github.com/erpconnector/erpconnector/mapping"
	"github.com/erpconnector/erpconnector/queue"
)

// The bad-input soak runs two ERPs, each against a server, a state file and
// a connector run of its own (a connector takes in the platform records it
// does not know, so two ERPs on one server would trade rows): the SQL ERP,
// whose updated_at another tool has written in foreign notations, and a
// drop folder of exports with unreadable rows and files. Its figures are
// the two parts' sums; a violation names its part.

// badInputPageSize is the bad-input soak's ERP page size: small, so that
// the rows sharing a timestamp span several pages.
const badInputPageSize = 5

// badInputFileShare: one ERP record in badInputFileShare goes to the drop
// folder, the others to the SQL ERP.
const badInputFileShare = 5

// erpRejectType is the dead-letter type of the ERP records the connector
// could not read (rows without a key, unreadable rows and files).
const erpRejectType = "erp.reject"

// The notations of updated_at in the bad-input soak's SQL ERP.
const (
	// shapeNative is what the SQLite driver writes for a time.Time (RFC
	// 3339 with nanoseconds): the rows as InsertDemoRecords left them.
	shapeNative = "native"
	// shapeCurrentTimestamp is SQLite's CURRENT_TIMESTAMP text:
	// "2026-12-01 23:24:13", whole seconds, UTC.
	shapeCurrentTimestamp = "current_timestamp"
	// shapeISOZ is ISO 8601 with milliseconds and Z: "2026-12-01T23:24:13.123Z".
	shapeISOZ = "iso_ms_z"
	// shapeOffset is ISO 8601 with milliseconds and an offset, +02:00 or
	// -05:00: "2026-12-02T01:24:13.123+02:00".
	shapeOffset = "offset"
)

// badInputSoak is the bad-input soak: the SQL ERP part, then the drop
// folder part, each under broken answers from its server.
func badInputSoak(ctx context.Context, o chaosOptions, plat *chaosPlatform, n int, res *ChaosResult, out io.Writer) error {
	recs := chaosRecords(plat, n, o.seed, 10)
	nf := n / badInputFileShare
	sqlRecs, fileRecs := recs[:n-nf], recs[n-nf:]
	kinds := map[erpgen.Invalid]bool{}
	for _, r := range recs {
		if r.Invalid != "" {
			kinds[r.Invalid] = true
		}
	}
	res.InvalidKinds = len(kinds)
	res.ERPPageSize = badInputPageSize
	if want := len(plat.gen.Kinds); res.InvalidKinds != want {
		res.violate("invalid_kinds: the ERP holds %d of the generator's %d defect kinds for %s (need at least %d rows)",
			res.InvalidKinds, want, plat.label, 10*want)
	}
	var rules []fault.Rule
	for _, op := range plat.badInputOps {
		rules = append(rules,
			fault.Rule{Operation: op, Probability: 0.03, Malformed: true},
			fault.Rule{Operation: op, Probability: 0.03 / 0.97, Truncate: true})
	}

	part := ChaosResult{Records: len(sqlRecs), Violations: []string{}}
	err := badInputSQL(ctx, o, plat, sqlRecs, rules, &part, out)
	res.addPart("sql erp", part)
	if err != nil {
		return fmt.Errorf("sql erp: %w", err)
	}
	part = ChaosResult{Records: len(fileRecs), Violations: []string{}}
	err = badInputFiles(ctx, o, plat, fileRecs, rules, &part, out)
	res.addPart("drop folder", part)
	if err != nil {
		return fmt.Errorf("drop folder: %w", err)
	}
	if res.Faulted == 0 {
		res.violate("faulted: no answer was broken; the soak tested nothing")
	}
	return nil
}

// badInputSQL is the SQL ERP part of the bad-input soak.
func badInputSQL(ctx context.Context, o chaosOptions, plat *chaosPlatform, recs []erpgen.Record, rules []fault.Rule, res *ChaosResult, out io.Writer) error {
	e, closeEnv, err := newSQLSoakEnv(ctx, o, plat, soakBadInput, recs, func(doc map[string]any) {
		doc["erp"].(map[string]any)["page_size"] = badInputPageSize
	}, out)
	if err != nil {
		return err
	}
	defer closeEnv()
	e.passes = true
	e.describe(res)
	res.TimestampShapes, res.SharedTimestampMax, err = foreignTimestamps(ctx, e.erpPath, recs, e.seededAt, o.seed)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "ERP timestamps: updated_at by notation %v; up to %d rows share one instant; ERP page size %d\n",
		res.TimestampShapes, res.SharedTimestampMax, badInputPageSize)
	return e.badInputRun(ctx, rules, res, true)
}

// badInputFiles is the drop-folder part of the bad-input soak.
func badInputFiles(ctx context.Context, o chaosOptions, plat *chaosPlatform, recs []erpgen.Record, rules []fault.Rule, res *ChaosResult, out io.Writer) error {
	e, closeEnv, err := openSoakEnv(ctx, o, plat, soakBadInput+"-files", recs, out)
	if err != nil {
		return err
	}
	defer closeEnv()
	e.passes = true
	e.describe(res)
	e.drop, err = writeDropFolder(filepath.Join(e.dir, "exchange"), recs, o.seed)
	if err != nil {
		return err
	}
	res.FileExports, res.FileRows = len(e.drop.exports), len(recs)
	rows, files := e.drop.wantRejects()
	fmt.Fprintf(out, "drop folder: %d exports, %d rows with a key (%d deliberately invalid), %d unreadable rows, %d unreadable files\n",
		len(e.drop.exports), len(recs), len(e.invalid), rows, files)
	e.cfg, err = writeConfigWith(e.dir, "connector.yaml", e.srv.url, e.key, e.erpPath, e.statePath, o.concurrency, "",
		func(doc map[string]any) {
			plat.configure(doc, e.srv.url, e.key, o.concurrency)
			doc["erp"] = map[string]any{"adapter": "files", "page_size": badInputPageSize, "files": e.drop.config()}
		})
	if err != nil {
		return err
	}
	return e.badInputRun(ctx, rules, res, false)
}

// badInputRun runs the connector once on the part's ERP under the broken
// answers, then checks its passes over the ERP (each of them complete
// when allComplete, else the first) and the invariants.
func (e *soakEnv) badInputRun(ctx context.Context, rules []fault.Rule, res *ChaosResult, allComplete bool) error {
	if err := e.addRules(ctx, rules); err != nil {
		return err
	}
	rep, err := e.finish(ctx, "run1", res)
	if err != nil {
		return err
	}
	res.RejectedRowsMetric, res.RejectedFilesMetric = rep.Rejected["row"], rep.Rejected["file"]
	if err := e.clearRules(ctx); err != nil {
		return err
	}
	if _, err := e.readCounters(ctx, res); err != nil {
		return err
	}
	fmt.Fprintf(e.out, "badinput: %d requests, %d answers malformed or truncated\n", res.Requests, res.Faulted)
	if err := e.checkPasses(res, "run1", allComplete); err != nil {
		return err
	}
	return e.verify(ctx, res)
}

// addPart adds the figures of one part of the bad-input soak to r; its
// violations are named with the part.
func (r *ChaosResult) addPart(name string, p ChaosResult) {
	r.ValidRows += p.ValidRows
	r.InvalidRows += p.InvalidRows
	r.Runs += p.Runs
	r.Kills += p.Kills
	r.Clients += p.Clients
	r.DistinctExternalIDs += p.DistinctExternalIDs
	r.FarmRows += p.FarmRows
	r.FarmUnits += p.FarmUnits
	r.BoundRows += p.BoundRows
	r.DistinctONeIDs += p.DistinctONeIDs
	r.QueueLeft += p.QueueLeft
	r.DeadLetters += p.DeadLetters
	r.DeadLetterKeys += p.DeadLetterKeys
	r.Requests += p.Requests
	r.Faulted += p.Faulted
	r.Injected += p.Injected
	r.EarlyRetries += p.EarlyRetries
	r.Conflicts += p.Conflicts
	r.ListRequests += p.ListRequests
	r.BreakerOpened += p.BreakerOpened
	r.BreakerHalfOpened += p.BreakerHalfOpened
	r.BreakerClosed += p.BreakerClosed
	r.UpstreamPauses += p.UpstreamPauses
	if p.FinalExit != 0 {
		r.FinalExit = p.FinalExit
	}
	if p.TimestampShapes != nil {
		r.TimestampShapes = p.TimestampShapes
	}
	r.SharedTimestampMax = max(r.SharedTimestampMax, p.SharedTimestampMax)
	r.ERPPasses += p.ERPPasses
	r.PassItems += p.PassItems
	r.ReadAgain += p.ReadAgain
	r.FileExports += p.FileExports
	r.FileRows += p.FileRows
	r.RejectedRows += p.RejectedRows
	r.RejectedFiles += p.RejectedFiles
	r.RejectedRowsMetric += p.RejectedRowsMetric
	r.RejectedFilesMetric += p.RejectedFilesMetric
	r.OutboxIDs += p.OutboxIDs
	r.OutboxUpserts += p.OutboxUpserts
	for _, v := range p.Violations {
		r.Violations = append(r.Violations, name+": "+v)
	}
}

// foreignTimestamps rewrites the SQL ERP's updated_at as another tool
// would: as text in foreign notations (CURRENT_TIMESTAMP text, ISO with
// milliseconds and Z, ISO with an offset), a fifth of the rows left as
// the driver wrote them (all at seededAt), the others spread over
// len(recs)/25 instants, so that some 25 rows share each, in every
// notation an instant can take, in no relation to the key order. It
// returns the rows by notation and the most rows sharing one instant.
func foreignTimestamps(ctx context.Context, path string, recs []erpgen.Record, seededAt time.Time, seed uint64) (map[string]int, int, error) {
	db, _, err := openERPDB(path)
	if err != nil {
		return nil, 0, err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("erp timestamps: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	st, err := tx.PrepareContext(ctx, fmt.Sprintf(`UPDATE %q SET %q = ? WHERE %q = ?`, erpTable, erpgen.UpdatedAtColumn, erpgen.KeyColumn))
	if err != nil {
		return nil, 0, fmt.Errorf("erp timestamps: %w", err)
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(seed, 0x74696d65))
	groups := max(1, len(recs)/25)
	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	east, west := time.FixedZone("", 2*3600), time.FixedZone("", -5*3600)
	shapes := map[string]int{}
	shared := map[int64]int{}
	for _, r := range recs {
		g := rng.IntN(groups)
		at := base.Add(time.Duration(g) * time.Second)
		if g%2 == 1 {
			at = at.Add(123 * time.Millisecond)
		}
		var text, shape string
		switch rng.IntN(5) {
		case 0:
			shape = shapeNative
		case 1:
			if at.Nanosecond() == 0 {
				shape, text = shapeCurrentTimestamp, at.Format(time.DateTime)
				break
			}
			fallthrough
		case 2:
			shape, text = shapeISOZ, at.Format("2006-01-02T15:04:05.000Z")
		case 3:
			shape, text = shapeOffset, at.In(east).Format("2006-01-02T15:04:05.000-07:00")
		default:
			shape, text = shapeOffset, at.In(west).Format("2006-01-02T15:04:05.000-07:00")
		}
		shapes[shape]++
		if shape == shapeNative {
			shared[seededAt.UnixMilli()]++
			continue
		}
		shared[at.UnixMilli()]++
		if _, err := st.ExecContext(ctx, text, r.Key); err != nil {
			return nil, 0, fmt.Errorf("erp timestamps: %s: %w", r.Key, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, 0, fmt.Errorf("erp timestamps: %w", err)
	}
	most := 0
	for _, c := range shared {
		most = max(most, c)
	}
	return shapes, most, nil
}

// interleave appends good to lines with bad1 before good[at1] and bad2
// before good[at2] (at len(good): after the last), and tells mark the
// 1-based line number and text of each bad line.
func interleave(lines, good []string, at1 int, bad1 string, at2 int, bad2 string, mark func(line int, text string)) []string {
	for i := 0; i <= len(good); i++ {
		if i == at1 {
			lines = append(lines, bad1)
			mark(len(lines), bad1)
		}
		if i == at2 {
			lines = append(lines, bad2)
			mark(len(lines), bad2)
		}
		if i < len(good) {
			lines = append(lines, good[i])
		}
	}
	return lines
}

// dropFolder is the bad-input soak's drop-folder ERP and what the
// connector must make of it.
type dropFolder struct {
	dir     string
	exports []string
	// rejects are the unreadable rows and files, by the key of the dead
	// letter each must become.
	rejects map[string]wantReject
}

// wantReject is an unreadable row or file of the drop folder.
type wantReject struct {
	// source is the file, with ":<line>" for a row.
	source string
	// raw is the row's text as the dead letter must hold it.
	raw  string
	file bool
}

// The drop folder's delimiter, as in configs/files.example.yaml.
const dropComma = ';'

// exportColumns are the columns of the drop folder's exports: the demo
// layout's key, data, flag and deleted columns.
func exportColumns() []string {
	return slices.Concat([]string{erpgen.KeyColumn}, erpgen.Columns(), []string{erpgen.SyncONeColumn, erpgen.SyncCustomerAPI, erpgen.DeletedColumn})
}

// config is the drop folder's erp.files section: the demo layout.
func (d *dropFolder) config() map[string]any {
	cfg := d.adapterConfig()
	return map[string]any{
		"dir":            cfg.Dir,
		"key_column":     cfg.KeyColumn,
		"delimiter":      cfg.Delimiter,
		"deleted_column": cfg.DeletedColumn,
		"flags":          platformColumns(cfg.Flags),
		"write_back":     platformColumns(cfg.WriteBack),
		"rules":          cfg.Rules,
	}
}

// adapterConfig is the drop folder's adapter configuration.
func (d *dropFolder) adapterConfig() fileerp.Config {
	demo := sqlerp.DemoConfig("sqlite", "", erpTable)
	return fileerp.Config{Dir: d.dir, KeyColumn: erpgen.KeyColumn, Rules: erpgen.Rules(), Delimiter: string(dropComma),
		DeletedColumn: erpgen.DeletedColumn, Flags: demo.Flags, WriteBack: demo.WriteBack}
}

// wantRejects counts the unreadable rows and files.
func (d *dropFolder) wantRejects() (rows, files int) {
	for _, w := range d.rejects {
		if w.file {
			files++
		} else {
			rows++
		}
	}
	return rows, files
}

// writeDropFolder writes recs into dir's inbox as exports, with the shapes
// real ERPs get wrong among them:
//
//	customers-1.csv          a third of the rows, and a row with too few
//	                         fields, a row with an empty key and, last, a
//	                         row with a quote that never closes (a quoted
//	                         field runs on to the end of the file)
//	customers-2.csv          a third, as fileerp.WriteExport writes them
//	customers-3.jsonl        the rest as JSON Lines (but for the rows with
//	                         invalid UTF-8, which JSON cannot carry: they
//	                         go to customers-2.csv), and a line cut short
//	                         and a line that is no JSON object
//	customers-4-no-key.csv   an export without the key column
//	customers-5-binary.csv   an image, not an export
//
// The unreadable rows and the rows of the unreadable files are customers
// of their own (keys X…), never delivered.
func writeDropFolder(dir string, recs []erpgen.Record, seed uint64) (*dropFolder, error) {
	d := &dropFolder{dir: dir, rejects: map[string]wantReject{}}
	if err := os.MkdirAll(filepath.Join(dir, fileerp.InboxDir), 0o750); err != nil {
		return nil, fmt.Errorf("drop folder: %w", err)
	}
	cols := exportColumns()
	others := erpgen.New(erpgen.Options{Seed: seed ^ 0x66696c6573, KeyPrefix: "X"}).Records(5)
	third := len(recs) / 3
	part1, part2 := recs[:third], slices.Clone(recs[third:2*third])
	var part3 []erpgen.Record
	for _, r := range recs[2*third:] {
		if r.Invalid == erpgen.BadUTF8 {
			part2 = append(part2, r)
		} else {
			part3 = append(part3, r)
		}
	}
	row := func(name string, line int, text string) {
		source := fmt.Sprintf("%s:%d", name, line)
		d.rejects["erp:reject:"+source] = wantReject{source: source, raw: text[:min(len(text), fileerp.MaxRawRow)]}
	}
	write := func(name string, body []byte) error {
		d.exports = append(d.exports, name)
		if err := fileerp.WriteFileAtomic(filepath.Join(dir, fileerp.InboxDir, name), body); err != nil {
			return fmt.Errorf("drop folder: %w", err)
		}
		return nil
	}

	// customers-1.csv
	name := "customers-1.csv"
	header, err := csvLine(cols, nil)
	if err != nil {
		return nil, err
	}
	lines := []string{header}
	short, err := csvLine(cols[:4], others[0].Map())
	if err != nil {
		return nil, err
	}
	keyless := others[1].Map()
	keyless[erpgen.KeyColumn] = ""
	noKey, err := csvLine(cols, keyless)
	if err != nil {
		return nil, err
	}
	good := make([]string, len(part1))
	for i, r := range part1 {
		if good[i], err = csvLine(cols, r.Map()); err != nil {
			return nil, err
		}
	}
	lines = interleave(lines, good, min(3, len(part1)), short, len(part1)*2/3, noKey, func(line int, text string) { row(name, line, text) })
	// The name field opens a quote that no quote closes: the CSV reader
	// takes the rest of the file into it, so this row goes last.
	m := others[2].Map()
	before, err := csvLine(cols[:2], m)
	if err != nil {
		return nil, err
	}
	after, err := csvLine(cols[3:], m)
	if err != nil {
		return nil, err
	}
	open := before + string(dropComma) + `"` + strings.ReplaceAll(m["name"], `"`, "") + string(dropComma) + after
	lines = append(lines, open)
	row(name, len(lines), open)
	if err := write(name, []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		return nil, err
	}

	// customers-2.csv
	maps := make([]map[string]string, 0, len(part2))
	for _, r := range part2 {
		maps = append(maps, r.Map())
	}
	d.exports = append(d.exports, "customers-2.csv")
	if err := fileerp.WriteExport(dir, "customers-2.csv", cols, maps, dropComma); err != nil {
		return nil, fmt.Errorf("drop folder: %w", err)
	}

	// customers-3.jsonl
	name = "customers-3.jsonl"
	lines = lines[:0]
	cut := fmt.Sprintf(`{%q: %q, %q: %q, %q: "1"`, erpgen.KeyColumn, others[3].Key, "name", others[3].Value("name"), erpgen.SyncONeColumn)
	notObject := fmt.Sprintf(`[%q, %q]`, others[4].Key, others[4].Value("name"))
	good = make([]string, len(part3))
	for i, r := range part3 {
		b, err := json.Marshal(r.Map())
		if err != nil {
			return nil, fmt.Errorf("drop folder: %w", err)
		}
		good[i] = string(b)
	}
	lines = interleave(lines, good, min(2, len(part3)), cut, len(part3)*2/3, notObject, func(line int, text string) { row(name, line, text) })
	if err := write(name, []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		return nil, err
	}

	// customers-4-no-key.csv: the same layout without the key column.
	name = "customers-4-no-key.csv"
	lines = lines[:0]
	for _, r := range append([]map[string]string{nil}, others[0].Map(), others[1].Map()) {
		l, err := csvLine(cols[1:], r)
		if err != nil {
			return nil, err
		}
		lines = append(lines, l)
	}
	if err := write(name, []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		return nil, err
	}
	d.rejects["erp:reject:"+name] = wantReject{source: name, file: true}

	// customers-5-binary.csv: a PNG image's signature and bytes.
	name = "customers-5-binary.csv"
	img := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	rng := rand.New(rand.NewPCG(seed, 0x706e67))
	for range 2048 {
		img = append(img, byte(rng.IntN(256)))
	}
	if err := write(name, img); err != nil {
		return nil, err
	}
	d.rejects["erp:reject:"+name] = wantReject{source: name, file: true}
	return d, nil
}

// csvLine renders one CSV record of cols (their names when row is nil)
// without its line end; a value holding a line break is an error (the
// soak counts lines).
func csvLine(cols []string, row map[string]string) (string, error) {
	rec := slices.Clone(cols)
	if row != nil {
		for i, c := range cols {
			rec[i] = row[c]
		}
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Comma = dropComma
	if err := w.Write(rec); err != nil {
		return "", fmt.Errorf("drop folder: %w", err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return "", fmt.Errorf("drop folder: %w", err)
	}
	line := strings.TrimSuffix(b.String(), "\n")
	if strings.ContainsAny(line, "\r\n") {
		return "", fmt.Errorf("drop folder: a value of %q holds a line break", line)
	}
	return line, nil
}

// open opens the drop folder as the connector does (nothing moves until
// Changes is called).
func (d *dropFolder) open(ctx context.Context) (*fileerp.Folder, error) {
	f, err := fileerp.Open(ctx, d.adapterConfig(), nil)
	if err != nil {
		return nil, fmt.Errorf("verify: drop folder: %w", err)
	}
	return f, nil
}

// platformIDs reads the platform's id of every customer the ERP holds, by
// key: for the drop folder, its exports with the outbox's changes applied.
func (e *soakEnv) platformIDs(ctx context.Context) (map[string]string, error) {
	if e.drop == nil {
		return erpPlatformIDs(ctx, e.erpPath, e.p.idColumn)
	}
	f, err := e.drop.open(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := f.ListKeys(ctx, "", 1<<30)
	if err != nil {
		return nil, fmt.Errorf("verify: drop folder: %w", err)
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		it, err := f.Get(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("verify: drop folder: %w", err)
		}
		out[k] = it.Customer.PlatformIDs.Get(e.p.erpPlatform)
	}
	return out, nil
}

// customers reads every valid customer of the ERP, by key.
func (e *soakEnv) customers(ctx context.Context) (map[string]mapping.Customer, error) {
	if e.drop == nil {
		return erpCustomers(ctx, e.erpPath)
	}
	f, err := e.drop.open(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := f.ListKeys(ctx, "", 1<<30)
	if err != nil {
		return nil, fmt.Errorf("verify: drop folder: %w", err)
	}
	out := map[string]mapping.Customer{}
	for _, k := range keys {
		it, err := f.Get(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("verify: drop folder: %w", err)
		}
		if it.Err == nil {
			out[k] = it.Customer
		}
	}
	return out, nil
}

// verify checks the drop folder after the last run: each unreadable row
// and file exactly one erp.reject dead letter (rejects, by key) holding its
// source, its text and the reason, counted as such by the connector's
// metric (in res); each unreadable file in rejected/ beside its reason;
// the outbox holding platform ids only, for the valid rows, one id each.
func (d *dropFolder) verify(rejects map[string]queue.Job, p *chaosPlatform, valid map[string]bool, res *ChaosResult) error {
	var missing, wrong, stray, notMoved []string
	for key, w := range d.rejects {
		j, ok := rejects[key]
		if !ok {
			missing = append(missing, key)
			continue
		}
		if w.file {
			res.RejectedFiles++
		} else {
			res.RejectedRows++
		}
		var pl struct {
			Source string `json:"source"`
			Raw    string `json:"raw"`
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal(j.Payload, &pl); err != nil {
			wrong = append(wrong, fmt.Sprintf("%s: payload %q: %v", key, j.Payload, err))
			continue
		}
		switch {
		case pl.Source != w.source:
			wrong = append(wrong, fmt.Sprintf("%s: source %q, want %q", key, pl.Source, w.source))
		case pl.Raw != w.raw:
			wrong = append(wrong, fmt.Sprintf("%s: raw %q, want %q", key, pl.Raw, w.raw))
		case pl.Reason == "" || j.LastError != pl.Reason:
			wrong = append(wrong, fmt.Sprintf("%s: reason %q, last error %q", key, pl.Reason, j.LastError))
		}
		if !w.file {
			continue
		}
		moved := filepath.Join(d.dir, fileerp.RejectedDir, w.source)
		reason, err := os.ReadFile(moved + ".reason.txt")
		_, serr := os.Stat(moved)
		_, ierr := os.Stat(filepath.Join(d.dir, fileerp.InboxDir, w.source))
		switch {
		case serr != nil:
			notMoved = append(notMoved, fmt.Sprintf("%s: %v", w.source, serr))
		case err != nil || len(bytes.TrimSpace(reason)) == 0:
			notMoved = append(notMoved, fmt.Sprintf("%s: no reason beside it (%v)", w.source, err))
		case !errors.Is(ierr, fs.ErrNotExist):
			notMoved = append(notMoved, fmt.Sprintf("%s: still in %s/", w.source, fileerp.InboxDir))
		}
	}
	for key := range rejects {
		if _, ok := d.rejects[key]; !ok {
			stray = append(stray, key)
		}
	}
	rows, files := d.wantRejects()
	if len(missing) > 0 {
		res.violate("rejected: %d unreadable rows and files are not erp.reject dead letters (%s)", len(missing), sample(missing))
	}
	if len(wrong) > 0 {
		res.violate("rejected: %d erp.reject dead letters do not hold their source, text and reason (%s)", len(wrong), sample(wrong))
	}
	if len(stray) > 0 {
		res.violate("rejected: %d erp.reject dead letters for records the exports hold readable (%s)", len(stray), sample(stray))
	}
	if len(notMoved) > 0 {
		res.violate("rejected: %d unreadable files are not in %s/ with their reason (%s)", len(notMoved), fileerp.RejectedDir, sample(notMoved))
	}
	if res.RejectedRowsMetric != rows || res.RejectedFilesMetric != files {
		res.violate("rejected_total: %s counted %d rows and %d files, want %d and %d",
			metricERPRejected, res.RejectedRowsMetric, res.RejectedFilesMetric, rows, files)
	}
	return d.verifyOutbox(p, valid, res)
}

// verifyOutbox checks the changes the connector wrote to the outbox: the
// platform's ids, and rows that take the platform's own values back in,
// only for valid rows, one id each (the id the ERP reads back is checked
// with the other rows').
func (d *dropFolder) verifyOutbox(p *chaosPlatform, valid map[string]bool, res *ChaosResult) error {
	dir := filepath.Join(d.dir, fileerp.OutboxDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("verify: outbox: %w", err)
	}
	ids := map[string]map[string]bool{}
	var other, notValid []string
	for _, en := range entries {
		if en.IsDir() || !strings.HasSuffix(en.Name(), ".json") || strings.HasPrefix(en.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, en.Name()))
		if err != nil {
			return fmt.Errorf("verify: outbox: %w", err)
		}
		var ch fileerp.Change
		if err := json.Unmarshal(b, &ch); err != nil {
			other = append(other, fmt.Sprintf("%s: %v", en.Name(), err))
			continue
		}
		id := ch.ID
		switch {
		case ch.Op == "platform_id" && ch.Platform == p.erpPlatform && id != "":
			res.OutboxIDs++
		case ch.Op == "upsert" && ch.Key != "" && ch.Row[erpgen.KeyColumn] == ch.Key:
			// The platform's own values taken back in (a certificate's
			// status, a normalised phone number).
			res.OutboxUpserts++
			id = ch.Row[p.idColumn]
		default:
			other = append(other, fmt.Sprintf("%s: %s %s %s", en.Name(), ch.Op, ch.Key, ch.Platform))
			continue
		}
		if !valid[ch.Key] {
			notValid = append(notValid, fmt.Sprintf("%s (%s)", ch.Key, ch.Op))
		}
		if id == "" {
			continue
		}
		if ids[ch.Key] == nil {
			ids[ch.Key] = map[string]bool{}
		}
		ids[ch.Key][id] = true
	}
	var several []string
	for k, s := range ids {
		if len(s) > 1 {
			several = append(several, fmt.Sprintf("%s: %d ids", k, len(s)))
		}
	}
	if len(other) > 0 {
		res.violate("outbox: %d changes that are neither %s ids nor updates of a row (%s)", len(other), article(p.label), sample(other))
	}
	if len(notValid) > 0 {
		res.violate("outbox: %d changes for rows that are not valid (%s)", len(notValid), sample(notValid))
	}
	if len(several) > 0 {
		res.violate("outbox: %d rows have different ids written back (%s)", len(several), sample(several))
	}
	return nil
}

// passesPath is where the connector run tag records its ERP passes.
func (e *soakEnv) passesPath(tag string) string {
	return filepath.Join(e.dir, "erp-passes-"+tag+".json")
}

// checkPasses checks the ERP passes of the connector run tag: in each, no
// item more than once at one place (a row read twice, or a loop; a row the
// run rewrote meanwhile, taking the platform's values back in, is rightly
// read again at its new updated_at: res.ReadAgain counts those), none the
// ERP does not hold, and in the first (all of them when allComplete: each
// starts from the beginning) every row and unreadable record. A pass that
// ended in an error is named too.
func (e *soakEnv) checkPasses(res *ChaosResult, tag string, allComplete bool) error {
	b, err := os.ReadFile(e.passesPath(tag))
	if errors.Is(err, fs.ErrNotExist) {
		res.violate("erp_passes: connector %s recorded no ERP passes", tag)
		return nil
	}
	if err != nil {
		return fmt.Errorf("erp passes: %w", err)
	}
	var passes []erpPass
	if err := json.Unmarshal(b, &passes); err != nil {
		return fmt.Errorf("erp passes: %w", err)
	}
	want := map[string]bool{}
	for k := range e.valid {
		want[k] = true
	}
	for k := range e.invalid {
		want[k] = true
	}
	if e.drop != nil {
		for _, w := range e.drop.rejects {
			want["reject:"+w.source] = true
		}
	}
	if len(passes) == 0 {
		res.violate("erp_passes: connector %s made no pass over the ERP", tag)
	}
	for i, p := range passes {
		res.ERPPasses++
		var twice, unknown, skipped []string
		for id, n := range p.Items {
			res.PassItems += n
			places := max(1, p.Places[id])
			res.ReadAgain += places - 1
			if n > places {
				twice = append(twice, fmt.Sprintf("%s %d times at %d places", id, n, places))
			}
			if !want[id] {
				unknown = append(unknown, id)
			}
		}
		if i == 0 || allComplete {
			for id := range want {
				if p.Items[id] == 0 {
					skipped = append(skipped, id)
				}
			}
		}
		name := fmt.Sprintf("pass %d of connector %s (%d pages)", i+1, tag, p.Pages)
		if p.Err != "" {
			res.violate("erp_passes: %s ended in an error: %s", name, p.Err)
		}
		if len(twice) > 0 {
			res.violate("erp_passes: %s returned %d items more than once at one place (%s)", name, len(twice), sample(twice))
		}
		if len(skipped) > 0 {
			res.violate("erp_passes: %s skipped %d of the ERP's %d records (%s)", name, len(skipped), len(want), sample(skipped))
		}
		if len(unknown) > 0 {
			res.violate("erp_passes: %s returned %d items the ERP does not hold (%s)", name, len(unknown), sample(unknown))
		}
	}
	return nil
}
