package check

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"unicode/utf8"

	"github.com/erpconnector/erpconnector/erp/fileerp"
)

// folderProblems checks the drop folder and its subfolders: each exists
// (a missing subfolder is created by the first run, so the folder must be
// writable then) and the connector can write in it.
func folderProblems(cfg fileerp.Config) []string {
	st, err := os.Stat(cfg.Dir)
	switch {
	case err != nil:
		return []string{fmt.Sprintf("dir: %v", err)}
	case !st.IsDir():
		return []string{fmt.Sprintf("dir: %s is not a folder", cfg.Dir)}
	}
	var out []string
	if err := writable(cfg.Dir); err != nil {
		out = append(out, fmt.Sprintf("dir: %s is not writable: %v", cfg.Dir, err))
	}
	for _, sub := range []string{fileerp.InboxDir, fileerp.ProcessedDir, fileerp.OutboxDir, fileerp.RejectedDir} {
		p := filepath.Join(cfg.Dir, sub)
		st, err := os.Stat(p)
		switch {
		case os.IsNotExist(err):
			continue // the first run creates it
		case err != nil:
			out = append(out, fmt.Sprintf("dir: %s: %v", sub, err))
		case !st.IsDir():
			out = append(out, fmt.Sprintf("dir: %s is not a folder", p))
		default:
			if err := writable(p); err != nil {
				out = append(out, fmt.Sprintf("dir: %s is not writable: %v", p, err))
			}
		}
	}
	return out
}

// writable creates and removes a hidden file in dir (the drop folder
// ignores hidden files).
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".erpconnector-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// exportProblems reads the header of the newest export in inbox/ (else
// processed/) and reports the configured columns it lacks: the key, the
// rules' columns, the flags and the deleted column. No export yet is no
// problem.
func exportProblems(cfg fileerp.Config) []string {
	file, format, ok := newestExport(cfg.Dir)
	if !ok {
		return nil
	}
	name := filepath.Join(filepath.Base(filepath.Dir(file)), filepath.Base(file))
	cols, err := exportColumns(file, format, cfg.Delimiter)
	if err != nil {
		return []string{fmt.Sprintf("export %s: %v", name, err)}
	}
	if cols == nil {
		return nil // empty
	}
	var out []string
	missing := func(key, col string) {
		if col != "" && !slices.Contains(cols, col) {
			out = append(out, fmt.Sprintf("%s: column %q not found in the export %s", key, col, name))
		}
	}
	missing("key_column", cfg.KeyColumn)
	for i, r := range cfg.Rules {
		missing(fmt.Sprintf("rules[%d].erp", i), r.ERP)
	}
	for i, fl := range cfg.Flags {
		missing(fmt.Sprintf("flags[%d].column", i), fl.Column)
	}
	missing("deleted_column", cfg.DeletedColumn)
	return out
}

// newestExport finds the newest export file of inbox/, else processed/.
func newestExport(dir string) (string, fileerp.Format, bool) {
	for _, sub := range []string{fileerp.InboxDir, fileerp.ProcessedDir} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			continue
		}
		var best string
		var bestFormat fileerp.Format
		var bestTime int64
		for _, e := range entries {
			f, ok := fileerp.FormatOf(e.Name())
			if !ok || e.IsDir() || e.Name()[0] == '.' {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			if t := info.ModTime().UnixNano(); best == "" || t > bestTime {
				best, bestFormat, bestTime = filepath.Join(dir, sub, e.Name()), f, t
			}
		}
		if best != "" {
			return best, bestFormat, true
		}
	}
	return "", 0, false
}

// exportColumns returns an export's columns: a CSV header, or the keys of
// a JSON Lines file's first record (nil for an empty file).
func exportColumns(path string, format fileerp.Format, delimiter string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if format == fileerp.CSV {
		comma := ','
		if delimiter != "" {
			comma, _ = utf8.DecodeRuneInString(delimiter)
		}
		return fileerp.CSVHeader(f, comma)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("first record: %w", err)
		}
		cols := make([]string, 0, len(rec))
		for k := range rec {
			cols = append(cols, k)
		}
		return cols, nil
	}
	return nil, sc.Err()
}
