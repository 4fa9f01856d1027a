// Package fileerp is the ERP adapter for a drop folder: the ERP exports
// customers as CSV or JSON Lines files into inbox/, the adapter reads them
// (header-driven, through the same field rules as every adapter), and moves
// each file to processed/ once the connector has durably taken in all of
// its rows (that is, when it is called with a cursor past the file). What
// flows back to the ERP, customers registered on the platforms and platform
// ids, is written to outbox/ as one JSON file per change, atomically (temp
// file, fsync, rename), for the ERP to import.
//
// The ERP must write exports atomically too: files whose names start with
// "." or "~" or end in .tmp, .part or .partial are never read, and
// Config.MinAge can hold back files that were modified too recently.
//
// Lookups by key are served from an index built from processed/, inbox/ and
// outbox/ when the adapter opens, and kept current as files are read and
// written.
package fileerp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/internal/problem"
	"github.com/erpconnector/erpconnector/mapping"
)

// Sub-directories of the drop folder.
const (
	InboxDir     = "inbox"
	ProcessedDir = "processed"
	OutboxDir    = "outbox"
	// RejectedDir receives export files that cannot be read at all, each
	// with a <name>.reason.txt beside it.
	RejectedDir = "rejected"
)

// DefaultPageSize is used when Changes is called with limit <= 0.
const DefaultPageSize = 500

// Config describes the drop folder and the export layout.
type Config struct {
	// Dir is the drop folder; inbox/, processed/ and outbox/ are created in it.
	Dir string `mapstructure:"dir"`
	// KeyColumn is the column holding the customer key.
	KeyColumn string `mapstructure:"key_column"`
	// Rules map export columns to canonical fields.
	Rules []mapping.FieldRule `mapstructure:"rules"`
	// Flags are the per-platform "send to" columns.
	Flags []erp.PlatformColumn `mapstructure:"flags"`
	// DeletedColumn marks deleted customers (optional).
	DeletedColumn string `mapstructure:"deleted_column"`
	// WriteBack are the columns platform ids are exported under (in the
	// outbox files, and read back from exports that carry them).
	WriteBack []erp.PlatformColumn `mapstructure:"write_back"`
	// Delimiter is the CSV field separator (default ",").
	Delimiter string `mapstructure:"delimiter"`
	// IncludeUnflagged makes Changes return rows without any flag too.
	IncludeUnflagged bool `mapstructure:"include_unflagged"`
	// MinAge holds back inbox files modified less than this long ago.
	MinAge time.Duration `mapstructure:"min_age"`
}

// Validate reports every problem of the configuration at once, each a
// *problem.Problem whose path is the key inside this section (dir,
// flags[0].column, rules[3]).
func (c Config) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) { errs = append(errs, problem.New(path, format, args...)) }
	if c.Dir == "" {
		add("dir", "is required")
	}
	if strings.TrimSpace(c.KeyColumn) == "" {
		add("key_column", "is required")
	}
	if len(c.Flags) == 0 {
		add("flags", "at least one flag column is required")
	}
	for _, list := range []struct {
		key  string
		cols []erp.PlatformColumn
	}{{"flags", c.Flags}, {"write_back", c.WriteBack}} {
		for i, f := range list.cols {
			if !f.Platform.Valid() {
				add(fmt.Sprintf("%s[%d].platform", list.key, i), "unknown platform %q", f.Platform)
			}
			if strings.TrimSpace(f.Column) == "" {
				add(fmt.Sprintf("%s[%d].column", list.key, i), "is required")
			}
		}
	}
	if c.Delimiter != "" && utf8.RuneCountInString(c.Delimiter) != 1 {
		add("delimiter", "%q must be one character", c.Delimiter)
	}
	if c.MinAge < 0 {
		add("min_age", "must not be negative, got %s (0 holds nothing back)", c.MinAge)
	}
	if _, err := mapping.CompileRules(c.Rules); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Folder is the drop-folder adapter. It is safe for concurrent use.
type Folder struct {
	cfg   Config
	rules *mapping.Rules
	comma rune
	log   *slog.Logger
	now   func() time.Time

	mu    sync.Mutex
	index map[string]erp.Item // latest known state per key
	// indexed records which export files the index holds, by name, with
	// their size and modification time when read.
	indexed map[string]stamp
	cache   struct {
		name    string
		modTime time.Time
		size    int64
		items   []fileItem
	}
	seq uint64
}

type stamp struct {
	size    int64
	modTime time.Time
}

// fileItem is one parsed row: the item and whether Changes returns it.
type fileItem struct {
	item    erp.Item
	include bool
}

var (
	_ erp.Adapter   = (*Folder)(nil)
	_ erp.Counter   = (*Folder)(nil)
	_ erp.KeyLister = (*Folder)(nil)
	_ erp.Holder    = (*Folder)(nil)
)

// HeldFields implements erp.Holder: the fields the rules target.
func (f *Folder) HeldFields() []string { return f.rules.Fields() }

// Open creates the sub-directories if needed and builds the key index.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Folder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("fileerp: %w", err)
	}
	rules, err := mapping.CompileRules(cfg.Rules)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	comma := ','
	if cfg.Delimiter != "" {
		comma, _ = utf8.DecodeRuneInString(cfg.Delimiter)
	}
	f := &Folder{cfg: cfg, rules: rules, comma: comma, log: log.With("component", "fileerp"), now: time.Now,
		index: map[string]erp.Item{}, indexed: map[string]stamp{}}
	for _, d := range []string{InboxDir, ProcessedDir, OutboxDir, RejectedDir} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o750); err != nil {
			return nil, fmt.Errorf("fileerp: open: %w", err)
		}
	}
	if err := f.rebuild(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

// rebuild fills the index from processed/ and inbox/ exports, then replays outbox/.
func (f *Folder) rebuild(ctx context.Context) error {
	if err := f.indexDir(ctx, ProcessedDir); err != nil {
		return err
	}
	if err := f.indexDir(ctx, InboxDir); err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(f.cfg.Dir, OutboxDir))
	if err != nil {
		return fmt.Errorf("fileerp: open: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(f.cfg.Dir, OutboxDir, e.Name()))
		if err != nil {
			return fmt.Errorf("fileerp: open: %w", err)
		}
		var ch Change
		if err := json.Unmarshal(b, &ch); err != nil {
			f.log.Warn("cannot read outbox file", "file", e.Name(), "err", err)
			continue
		}
		f.apply(ch)
		if n, err := strconv.ParseUint(strings.SplitN(e.Name(), "-", 3)[1], 10, 64); err == nil && n > f.seq {
			f.seq = n
		}
	}
	return nil
}

// indexDir adds the export files of a sub-directory that the index does not
// hold yet, in name order. f.mu must be held (or the folder not yet shared).
func (f *Folder) indexDir(ctx context.Context, sub string) error {
	names, err := f.exportFiles(sub, sub == InboxDir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("fileerp: index: %w", err)
		}
		path := filepath.Join(f.cfg.Dir, sub, n)
		info, err := os.Stat(path)
		if err != nil {
			continue
		}
		st := stamp{size: info.Size(), modTime: info.ModTime()}
		if old, ok := f.indexed[n]; ok && old == st {
			continue
		}
		items, err := f.parseFile(path)
		if err != nil {
			f.log.Warn("cannot read export file", "file", n, "err", err)
			continue
		}
		for _, it := range items {
			f.remember(it.item)
		}
		f.indexed[n] = st
	}
	return nil
}

// refresh indexes inbox files that arrived since the last look. f.mu must be held.
func (f *Folder) refresh(ctx context.Context) error {
	return f.indexDir(ctx, InboxDir)
}

func ignored(name string) bool {
	lower := strings.ToLower(name)
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~") {
		return true
	}
	for _, s := range []string{".tmp", ".part", ".partial", ".crdownload"} {
		if strings.HasSuffix(lower, s) {
			return true
		}
	}
	_, ok := FormatOf(name)
	return !ok
}

// exportFiles lists the readable export files of a sub-directory in name order.
func (f *Folder) exportFiles(sub string, applyAge bool) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(f.cfg.Dir, sub))
	if err != nil {
		return nil, apierr.At(erp.System, apierr.Temporarily(fmt.Errorf("fileerp: list %s: %w", sub, err)))
	}
	var out []string
	for _, e := range entries {
		if !e.Type().IsRegular() || ignored(e.Name()) {
			continue
		}
		if applyAge && f.cfg.MinAge > 0 {
			info, err := e.Info()
			if err != nil || f.now().Sub(info.ModTime()) < f.cfg.MinAge {
				continue
			}
		}
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out, nil
}

// parseFile reads one export into items.
func (f *Folder) parseFile(path string) ([]fileItem, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	format, _ := FormatOf(path)
	base := filepath.Base(path)
	if err := f.checkFile(file, format); err != nil {
		return nil, err
	}
	var items []fileItem
	unread := map[int]bool{}
	err = ReadRows(file, format, f.comma, func(r Row) {
		it := f.rowItem(base, r)
		if it.item.Source != "" && it.item.Raw == "" {
			unread[r.Line] = true
		}
		items = append(items, it)
	})
	if err != nil || len(unread) == 0 {
		return items, err
	}
	// The text of rows the CSV reader could not give back, for the operator.
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return items, nil
	}
	raw := RawLines(file, unread)
	for i := range items {
		it := &items[i].item
		if _, line, ok := strings.Cut(it.Source, base+":"); ok && it.Raw == "" {
			if n, err := strconv.Atoi(line); err == nil {
				it.Raw = erp.ShortRaw(raw[n])
			}
		}
	}
	return items, nil
}

// checkFile refuses a file no export can be: a binary file, or a CSV
// export without the key column. It leaves the file at its start.
func (f *Folder) checkFile(file *os.File, format Format) error {
	head := make([]byte, 8<<10)
	n, err := io.ReadFull(file, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	if LooksBinary(head[:n]) {
		return errors.New("the file is binary, not a CSV or JSON Lines export")
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if format == CSV {
		header, err := CSVHeader(file, f.comma)
		if err != nil {
			return err
		}
		if header != nil && !slices.Contains(header, f.cfg.KeyColumn) {
			return fmt.Errorf("the export has no column %q (the customer key)", f.cfg.KeyColumn)
		}
		if _, err := file.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	return nil
}

// rowItem turns one export row into an item.
func (f *Folder) rowItem(file string, r Row) fileItem {
	source := fmt.Sprintf("%s:%d", file, r.Line)
	if r.Err != nil && r.Values == nil {
		return fileItem{item: erp.Item{Source: source, Raw: erp.ShortRaw(r.Raw),
			Err: apierr.Permanently(fmt.Errorf("fileerp: %s: %w", source, r.Err))}, include: true}
	}
	key := strings.TrimSpace(r.Values[f.cfg.KeyColumn])
	if key == "" && r.Line > 0 {
		return fileItem{item: erp.Item{Source: source, Raw: erp.ShortRaw(r.Raw),
			Err: apierr.Permanently(fmt.Errorf("fileerp: %s: the key column %q is empty", source, f.cfg.KeyColumn))}, include: true}
	}
	cols := f.rules.Columns()
	vals := make([]string, len(cols))
	for i, col := range cols {
		vals[i] = r.Values[col]
	}
	c, ferrs := f.rules.Apply(vals)
	c.ERPKey = key
	for _, fc := range f.cfg.Flags {
		v, ok := r.Values[fc.Column]
		if !ok {
			continue
		}
		b, err := mapping.ParseBool(v)
		if err != nil {
			ferrs = append(ferrs, apierr.FieldError{Field: "flags." + string(fc.Platform), Message: err.Error()})
		}
		switch fc.Platform {
		case mapping.PlatformONe:
			c.Flags.ONe = c.Flags.ONe || b
		case mapping.PlatformCustomerAPI:
			c.Flags.CustomerAPI = c.Flags.CustomerAPI || b
		}
	}
	if f.cfg.DeletedColumn != "" {
		b, err := mapping.ParseBool(r.Values[f.cfg.DeletedColumn])
		if err != nil {
			ferrs = append(ferrs, apierr.FieldError{Field: "deleted", Message: err.Error()})
		}
		c.Deleted = b
	}
	for _, w := range f.cfg.WriteBack {
		c.PlatformIDs.Set(w.Platform, strings.TrimSpace(r.Values[w.Column]))
	}
	it := erp.Item{Key: key, Customer: c}
	// The core check only: each platform checks the fields it receives in
	// its Prepare, and the engine keeps of the rules' field errors those a
	// platform receives (mapping.ValidationError.For).
	if err := mapping.ValidateCore(c); err != nil {
		var ve *mapping.ValidationError
		if errors.As(err, &ve) {
			ve.Fields = append(ferrs, ve.Fields...)
		}
		it.Err = err
	} else if len(ferrs) > 0 && !c.Deleted {
		it.Err = &mapping.ValidationError{Key: key, Fields: ferrs}
	}
	if r.Err != nil {
		it.Err = apierr.Permanently(fmt.Errorf("fileerp: %s: %w", file, r.Err))
	}
	return fileItem{item: it, include: f.cfg.IncludeUnflagged || c.Flags.Any() || c.Deleted || key == ""}
}

// remember records the latest state of a key; platform ids the row does
// not carry are kept from what was known. f.mu must be held (or the folder
// not yet shared).
func (f *Folder) remember(it erp.Item) {
	if it.Key == "" {
		return
	}
	if old, ok := f.index[it.Key]; ok {
		for _, p := range []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI} {
			if it.Customer.PlatformIDs.Get(p) == "" {
				it.Customer.PlatformIDs.Set(p, old.Customer.PlatformIDs.Get(p))
			}
		}
	}
	f.index[it.Key] = it
}

// position is the decoded cursor.
type position struct {
	// File is the inbox file being read and Row the rows of it already returned.
	File string `json:"f,omitempty"`
	Row  int    `json:"r,omitempty"`
	// Done are the files fully returned; a call with this cursor moves them to processed/.
	Done []string `json:"d,omitempty"`
}

func encodePos(p position) string {
	if p.File == "" && len(p.Done) == 0 {
		return ""
	}
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePos(s string) (position, error) {
	var p position
	if s == "" {
		return p, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil || p.Row < 0 {
		return position{}, apierr.Permanently(fmt.Errorf("fileerp: changes: malformed cursor"))
	}
	for _, n := range append(slices.Clone(p.Done), p.File) {
		if strings.ContainsAny(n, `/\`) || n == ".." {
			return position{}, apierr.Permanently(fmt.Errorf("fileerp: changes: malformed cursor"))
		}
	}
	return p, nil
}

// Changes implements erp.Adapter. The cursor names the file and row reached;
// files it marks done are moved to processed/ first, since a caller only
// passes a cursor on after the rows before it are durably handled.
func (f *Folder) Changes(ctx context.Context, cursor string, limit int) (erp.Page, error) {
	if err := ctx.Err(); err != nil {
		return erp.Page{}, fmt.Errorf("fileerp: changes: %w", err)
	}
	if limit <= 0 {
		limit = DefaultPageSize
	}
	pos, err := decodePos(cursor)
	if err != nil {
		return erp.Page{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range pos.Done {
		if err := f.moveProcessed(n); err != nil {
			return erp.Page{}, err
		}
	}
	if err := f.refresh(ctx); err != nil {
		return erp.Page{}, err
	}
	names, err := f.exportFiles(InboxDir, true)
	if err != nil {
		return erp.Page{}, err
	}
	page := erp.Page{}
	next := position{}
	for fi, name := range names {
		if err := ctx.Err(); err != nil {
			return erp.Page{}, fmt.Errorf("fileerp: changes: %w", err)
		}
		items, err := f.cachedParse(name)
		if err != nil {
			// A file that cannot be read at all goes to rejected/ with its
			// reason, and is reported once, as an item without a key.
			if rerr := f.reject(name, err); rerr != nil {
				return erp.Page{}, rerr
			}
			page.Items = append(page.Items, erp.Item{Source: name,
				Err: apierr.Permanently(fmt.Errorf("fileerp: %s: cannot be read, moved to %s/: %w", name, RejectedDir, err))})
			continue
		}
		start := 0
		if name == pos.File {
			start = min(pos.Row, len(items))
		}
		i := start
		for ; i < len(items) && len(page.Items) < limit; i++ {
			if items[i].include {
				page.Items = append(page.Items, items[i].item)
			}
		}
		if i < len(items) {
			next.File, next.Row = name, i
			page.More = true
			break
		}
		next.Done = append(next.Done, name)
		if len(page.Items) >= limit {
			page.More = fi+1 < len(names)
			break
		}
	}
	page.Cursor = encodePos(next)
	return page, nil
}

func (f *Folder) cachedParse(name string) ([]fileItem, error) {
	path := filepath.Join(f.cfg.Dir, InboxDir, name)
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	c := &f.cache
	if c.name == name && c.modTime.Equal(info.ModTime()) && c.size == info.Size() {
		return c.items, nil
	}
	items, err := f.parseFile(path)
	if err != nil {
		return nil, err
	}
	c.name, c.modTime, c.size, c.items = name, info.ModTime(), info.Size(), items
	return items, nil
}

// moveProcessed moves an inbox file to processed/ (a no-op when it is gone).
func (f *Folder) moveProcessed(name string) error {
	src := filepath.Join(f.cfg.Dir, InboxDir, name)
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	dst := filepath.Join(f.cfg.Dir, ProcessedDir, name)
	for i := 1; ; i++ {
		if _, err := os.Stat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = filepath.Join(f.cfg.Dir, ProcessedDir, fmt.Sprintf("%s.%d", name, i))
	}
	if err := os.Rename(src, dst); err != nil {
		return apierr.At(erp.System, apierr.Temporarily(fmt.Errorf("fileerp: move %s to processed: %w", name, err)))
	}
	if f.cache.name == name {
		f.cache.name, f.cache.items = "", nil
	}
	f.log.Info("export file processed", "file", name)
	return syncDir(filepath.Join(f.cfg.Dir, ProcessedDir))
}

// reject moves an export file that cannot be read to rejected/, with a
// <name>.reason.txt saying why.
func (f *Folder) reject(name string, why error) error {
	src := filepath.Join(f.cfg.Dir, InboxDir, name)
	dst := filepath.Join(f.cfg.Dir, RejectedDir, name)
	for i := 1; ; i++ {
		if _, err := os.Stat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = filepath.Join(f.cfg.Dir, RejectedDir, fmt.Sprintf("%s.%d", name, i))
	}
	reason := fmt.Sprintf("%s was moved here from %s/ on %s: it cannot be read.\nReason: %v\n"+
		"Fix the export and drop it into %s/ again.\n", name, InboxDir, f.now().UTC().Format(time.RFC3339), why, InboxDir)
	if err := WriteFileAtomic(dst+".reason.txt", []byte(reason)); err != nil {
		return apierr.At(erp.System, apierr.Temporarily(fmt.Errorf("fileerp: reject %s: %w", name, err)))
	}
	if err := os.Rename(src, dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return apierr.At(erp.System, apierr.Temporarily(fmt.Errorf("fileerp: move %s to rejected: %w", name, err)))
	}
	if f.cache.name == name {
		f.cache.name, f.cache.items = "", nil
	}
	f.log.Warn("export file rejected", "file", name, "moved_to", filepath.Base(dst), "reason", why)
	return syncDir(filepath.Join(f.cfg.Dir, RejectedDir))
}

// Get implements erp.Adapter.
func (f *Folder) Get(ctx context.Context, key string) (erp.Item, error) {
	if err := ctx.Err(); err != nil {
		return erp.Item{}, fmt.Errorf("fileerp: get: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refresh(ctx); err != nil {
		return erp.Item{}, err
	}
	it, ok := f.index[key]
	if !ok {
		return erp.Item{}, erp.NotFound("fileerp: get", key)
	}
	it.Customer = it.Customer.Clone()
	return it, nil
}

// Change is one outbox file: a change for the ERP to import.
type Change struct {
	// Op is "upsert", "platform_id", "unlink" or "delete".
	Op string `json:"op"`
	// Key is the customer's ERP key.
	Key string `json:"key"`
	// Row holds the customer's columns (upsert only), in the export layout.
	Row map[string]string `json:"row,omitempty"`
	// Platform and Column name the write-back target (platform_id, unlink).
	Platform mapping.Platform `json:"platform,omitempty"`
	Column   string           `json:"column,omitempty"`
	// ID is the platform id (platform_id).
	ID string `json:"id,omitempty"`
	// At is when the connector wrote the change.
	At time.Time `json:"at"`
}

// apply updates the index with a change. f.mu must be held (or the folder
// not yet shared).
func (f *Folder) apply(ch Change) {
	switch ch.Op {
	case "upsert":
		fi := f.rowItem(OutboxDir, Row{Values: ch.Row})
		f.remember(fi.item)
	case "platform_id", "unlink", "delete":
		it, ok := f.index[ch.Key]
		if !ok {
			return
		}
		switch ch.Op {
		case "platform_id":
			it.Customer.PlatformIDs.Set(ch.Platform, ch.ID)
		case "unlink":
			it.Customer.PlatformIDs.Set(ch.Platform, "")
		case "delete":
			it.Customer.Deleted = true
			it.Err = nil
		}
		f.index[ch.Key] = it
	}
}

// writeChange writes ch to outbox/ atomically and applies it. f.mu must be held.
func (f *Folder) writeChange(ctx context.Context, ch Change) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ch.At = f.now().UTC()
	b, err := json.MarshalIndent(ch, "", "  ")
	if err != nil {
		return err
	}
	f.seq++
	name := fmt.Sprintf("%s-%09d-%s.json", ch.At.Format("20060102T150405.000000000Z"), f.seq, ch.Op)
	if err := WriteFileAtomic(filepath.Join(f.cfg.Dir, OutboxDir, name), append(b, '\n')); err != nil {
		return apierr.At(erp.System, apierr.Temporarily(err))
	}
	f.apply(ch)
	return nil
}

// WriteFileAtomic writes data to path so that readers see either nothing or
// the whole file: a temp file in the same directory, fsync, rename, fsync of
// the directory.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("fileerp: write %s: %w", filepath.Base(path), err)
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("fileerp: write %s: %w", filepath.Base(path), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("fileerp: write %s: %w", filepath.Base(path), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("fileerp: write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("fileerp: write %s: %w", filepath.Base(path), err)
	}
	done = true
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return apierr.At(erp.System, apierr.Temporarily(fmt.Errorf("fileerp: sync %s: %w", dir, err)))
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return apierr.At(erp.System, apierr.Temporarily(fmt.Errorf("fileerp: sync %s: %w", dir, err)))
	}
	return nil
}

// Upsert implements erp.Adapter: it writes an "upsert" change to outbox/.
// Flags already known for the customer are kept.
func (f *Folder) Upsert(ctx context.Context, c mapping.Customer) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refresh(ctx); err != nil {
		return "", err
	}
	if c.ERPKey == "" {
		c.ERPKey = f.findByPlatformID(c)
		if c.ERPKey == "" {
			c.ERPKey = erp.NewKey(c)
		}
	}
	c.Deleted = false
	// The ERP receives every field the rules map: all of them are checked,
	// but a value the ERP holds already and the write leaves alone is not
	// the write's doing (mapping.ValidateChange).
	var before *mapping.Customer
	if old, ok := f.index[c.ERPKey]; ok {
		before = &old.Customer
	}
	if err := mapping.ValidateChange(before, c); err != nil {
		return "", fmt.Errorf("fileerp: upsert: %w", err)
	}
	if old, ok := f.index[c.ERPKey]; ok {
		c.Flags.ONe = c.Flags.ONe || old.Customer.Flags.ONe
		c.Flags.CustomerAPI = c.Flags.CustomerAPI || old.Customer.Flags.CustomerAPI
		for _, p := range []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI} {
			if c.PlatformIDs.Get(p) == "" {
				c.PlatformIDs.Set(p, old.Customer.PlatformIDs.Get(p))
			}
		}
	}
	row := map[string]string{f.cfg.KeyColumn: c.ERPKey}
	cols, writable := f.rules.Columns(), f.rules.Writable()
	for i, v := range f.rules.Values(c) {
		// The columns only expressions read are left alone: a computed
		// field cannot be written back.
		if _, dup := row[cols[i]]; !dup && writable[i] {
			row[cols[i]] = v
		}
	}
	for _, fc := range f.cfg.Flags {
		on := (fc.Platform == mapping.PlatformONe && c.Flags.ONe) || (fc.Platform == mapping.PlatformCustomerAPI && c.Flags.CustomerAPI)
		row[fc.Column] = boolText(on)
	}
	for _, w := range f.cfg.WriteBack {
		row[w.Column] = c.PlatformIDs.Get(w.Platform)
	}
	if f.cfg.DeletedColumn != "" {
		row[f.cfg.DeletedColumn] = "0"
	}
	if err := f.writeChange(ctx, Change{Op: "upsert", Key: c.ERPKey, Row: row}); err != nil {
		return "", fmt.Errorf("fileerp: upsert %q: %w", c.ERPKey, err)
	}
	return c.ERPKey, nil
}

func boolText(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (f *Folder) findByPlatformID(c mapping.Customer) string {
	var found []string
	for k, it := range f.index {
		for _, p := range []mapping.Platform{mapping.PlatformONe, mapping.PlatformCustomerAPI} {
			if id := c.PlatformIDs.Get(p); id != "" && it.Customer.PlatformIDs.Get(p) == id {
				found = append(found, k)
			}
		}
	}
	if len(found) == 0 {
		return ""
	}
	slices.Sort(found)
	return found[0]
}

func (f *Folder) writeBackColumn(op string, p mapping.Platform) (string, error) {
	for _, w := range f.cfg.WriteBack {
		if w.Platform == p {
			return w.Column, nil
		}
	}
	return "", apierr.Permanently(fmt.Errorf("fileerp: %s: no write-back column for platform %q: %w", op, p, erp.ErrUnsupported))
}

func (f *Folder) keyChange(ctx context.Context, op string, ch Change) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.refresh(ctx); err != nil {
		return err
	}
	if _, ok := f.index[ch.Key]; !ok {
		return erp.NotFound("fileerp: "+op, ch.Key)
	}
	if err := f.writeChange(ctx, ch); err != nil {
		return fmt.Errorf("fileerp: %s %q: %w", op, ch.Key, err)
	}
	return nil
}

// SetPlatformID implements erp.Adapter: it writes a "platform_id" change to outbox/.
func (f *Folder) SetPlatformID(ctx context.Context, key string, p mapping.Platform, id string) error {
	col, err := f.writeBackColumn("set platform id", p)
	if err != nil {
		return err
	}
	return f.keyChange(ctx, "set platform id", Change{Op: "platform_id", Key: key, Platform: p, Column: col, ID: id})
}

// Unlink implements erp.Adapter: it writes an "unlink" change to outbox/.
func (f *Folder) Unlink(ctx context.Context, key string, p mapping.Platform) error {
	col, err := f.writeBackColumn("unlink", p)
	if err != nil {
		return err
	}
	return f.keyChange(ctx, "unlink", Change{Op: "unlink", Key: key, Platform: p, Column: col})
}

// MarkDeleted implements erp.Adapter: it writes a "delete" change to outbox/.
func (f *Folder) MarkDeleted(ctx context.Context, key string) error {
	if f.cfg.DeletedColumn == "" {
		return apierr.Permanently(fmt.Errorf("fileerp: mark deleted: no deleted column: %w", erp.ErrUnsupported))
	}
	return f.keyChange(ctx, "mark deleted", Change{Op: "delete", Key: key, Column: f.cfg.DeletedColumn})
}

// CountFlagged implements erp.Counter over the known customers.
func (f *Folder) CountFlagged(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, it := range f.index {
		if it.Customer.Flags.Any() && !it.Customer.Deleted {
			n++
		}
	}
	return n, nil
}

// ListKeys implements erp.KeyLister over the known flagged customers.
func (f *Folder) ListKeys(ctx context.Context, after string, limit int) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = DefaultPageSize
	}
	f.mu.Lock()
	var keys []string
	for k, it := range f.index {
		if k > after && it.Customer.Flags.Any() {
			keys = append(keys, k)
		}
	}
	f.mu.Unlock()
	slices.Sort(keys)
	if len(keys) > limit {
		keys = keys[:limit]
	}
	return keys, nil
}

// WriteExport writes rows as a CSV export into the inbox atomically (the
// way an ERP should), with the given columns as header. It serves the demo
// and tests.
func WriteExport(dir, name string, columns []string, rows []map[string]string, comma rune) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if comma != 0 {
		w.Comma = comma
	}
	if err := w.Write(columns); err != nil {
		return err
	}
	rec := make([]string, len(columns))
	for _, r := range rows {
		for i, c := range columns {
			rec[i] = r[c]
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, InboxDir, name), buf.Bytes())
}
