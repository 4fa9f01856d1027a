package fileerp

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxLine is the longest JSON Lines record (and CSV record) accepted.
const MaxLine = 1 << 20

// MaxRawRow bounds the text of an unreadable row kept for the operator.
const MaxRawRow = 1024

// RawLines returns the text of the given 1-based lines of r (each
// shortened to MaxRawRow bytes), for rows that could not be parsed.
func RawLines(r io.Reader, lines map[int]bool) map[int]string {
	out := make(map[int]string, len(lines))
	if len(lines) == 0 {
		return out
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLine+1)
	for n := 1; sc.Scan(); n++ {
		if lines[n] {
			b := sc.Bytes()
			out[n] = string(b[:min(len(b), MaxRawRow)])
			if len(out) == len(lines) {
				break
			}
		}
	}
	return out
}

// CSVHeader reads the header of a CSV export (nil for an empty file).
func CSVHeader(r io.Reader, comma rune) ([]string, error) {
	var header []string
	err := readCSV(r, comma, func(Row) {}, func(h []string) bool {
		header = h
		return false
	})
	return header, err
}

// LooksBinary reports whether the start of a file holds bytes no text
// export holds (NUL, or mostly invalid UTF-8).
func LooksBinary(head []byte) bool {
	if bytes.IndexByte(head, 0) >= 0 {
		return true
	}
	bad := 0
	for len(head) > 0 {
		r, n := utf8.DecodeRune(head)
		if r == utf8.RuneError && n == 1 && len(head) >= utf8.UTFMax {
			bad++
		}
		head = head[n:]
	}
	return bad > 8
}

// Row is one record of an export file: its column values by header name.
// A row that could not be parsed has Err set and possibly no values.
type Row struct {
	// Line is the 1-based line (CSV: record start line) in the file.
	Line int
	// Values maps column names to values.
	Values map[string]string
	// Err is the parse problem of this row, if any.
	Err error
	// Raw is the row's text when it could not be parsed (JSON Lines; CSV
	// rows get theirs from the file afterwards, see RawLines).
	Raw string
}

// Format is the kind of export file.
type Format int

// Export formats.
const (
	CSV Format = iota
	JSONLines
)

// FormatOf returns the format of a file name by extension; ok is false for
// names the drop folder ignores.
func FormatOf(name string) (Format, bool) {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".csv"):
		return CSV, true
	case strings.HasSuffix(lower, ".jsonl"), strings.HasSuffix(lower, ".ndjson"):
		return JSONLines, true
	}
	return 0, false
}

// ReadRows parses an export. CSV files are header-driven (the first record
// names the columns; a UTF-8 byte order mark is dropped); comma is the CSV
// field separator. A bad record becomes a Row with Err and reading goes on;
// only a failure of r itself or an unusable CSV header is returned as error.
func ReadRows(r io.Reader, f Format, comma rune, fn func(Row)) error {
	if f == JSONLines {
		return readJSONL(r, fn)
	}
	return readCSV(r, comma, fn, nil)
}

// readCSV reads a CSV export; header, when set, sees the header first and
// stops the reading when it returns false.
func readCSV(r io.Reader, comma rune, fn func(Row), header func([]string) bool) error {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	if comma != 0 {
		cr.Comma = comma
	}
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = false
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fileerp: csv header: %w", err)
	}
	seen := map[string]bool{}
	for i, h := range head {
		h = strings.TrimSpace(h)
		if h == "" {
			return fmt.Errorf("fileerp: csv header: column %d has no name", i+1)
		}
		if seen[h] {
			return fmt.Errorf("fileerp: csv header: column %q appears twice", h)
		}
		seen[h] = true
		head[i] = h
	}
	if header != nil && !header(head) {
		return nil
	}
	for {
		rec, err := cr.Read()
		line, _ := cr.FieldPos(0)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// The csv reader carries on with the next record.
				fn(Row{Line: pe.StartLine, Err: fmt.Errorf("csv line %d: %w", pe.StartLine, pe.Err)})
				continue
			}
			return fmt.Errorf("fileerp: csv: %w", err)
		}
		if len(rec) != len(head) {
			fn(Row{Line: line, Err: fmt.Errorf("csv line %d: %d fields, the header has %d", line, len(rec), len(head))})
			continue
		}
		if len(rec) == 1 && rec[0] == "" {
			continue
		}
		vals := make(map[string]string, len(head))
		for i, h := range head {
			vals[h] = rec[i]
		}
		fn(Row{Line: line, Values: vals})
	}
}

func readJSONL(r io.Reader, fn func(Row)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	line := 0
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			line++
			handleJSONLine(line, b, fn)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("fileerp: jsonl: %w", err)
		}
	}
}

func handleJSONLine(line int, b []byte, fn func(Row)) {
	b = bytes.TrimSpace(b)
	if line == 1 {
		b = bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF})
	}
	if len(b) == 0 {
		return
	}
	raw := string(b[:min(len(b), 2*MaxRawRow)])
	if len(b) > MaxLine {
		fn(Row{Line: line, Err: fmt.Errorf("jsonl line %d: longer than %d bytes", line, MaxLine), Raw: raw})
		return
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		fn(Row{Line: line, Err: fmt.Errorf("jsonl line %d: %w", line, err), Raw: raw})
		return
	}
	if dec.More() {
		fn(Row{Line: line, Err: fmt.Errorf("jsonl line %d: more than one JSON value", line), Raw: raw})
		return
	}
	if obj == nil {
		fn(Row{Line: line, Err: fmt.Errorf("jsonl line %d: not a JSON object", line), Raw: raw})
		return
	}
	vals := make(map[string]string, len(obj))
	for k, v := range obj {
		s, err := jsonString(v)
		if err != nil {
			fn(Row{Line: line, Err: fmt.Errorf("jsonl line %d: key %q: %w", line, k, err), Raw: raw})
			return
		}
		vals[k] = s
	}
	row := Row{Line: line, Values: vals, Raw: raw}
	if !utf8.Valid(b) {
		// The decoder would silently replace the bad bytes; refuse the row
		// but keep its values, so the error can name the customer.
		row.Err = fmt.Errorf("jsonl line %d: not valid UTF-8", line)
	}
	fn(row)
}

// jsonString turns a JSON value into the text a column would hold: arrays
// of scalars become ";"-separated lists, nested objects are refused.
func jsonString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil // invalid UTF-8 is reported by validation, on its field
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if _, nested := e.([]any); nested {
				return "", errors.New("nested arrays are not supported")
			}
			if _, nested := e.(map[string]any); nested {
				return "", errors.New("objects inside arrays are not supported")
			}
			s, _ := jsonString(e)
			parts = append(parts, s)
		}
		return strings.Join(parts, ";"), nil
	case map[string]any:
		return "", errors.New("nested objects are not supported")
	}
	return "", fmt.Errorf("unsupported JSON value %T", v)
}
