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
	t := &tape{r: br}
	cr := newCSVReader(t, comma)
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
	t.drop(cr.InputOffset())
	return readCSVRecords(cr, t, head, comma, 0, fn)
}

func newCSVReader(r io.Reader, comma rune) *csv.Reader {
	cr := csv.NewReader(r)
	if comma != 0 {
		cr.Comma = comma
	}
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = false
	return cr
}

// readCSVRecords reads the records after the header; lineBase is added to
// the reader's line numbers. A record with the wrong number of fields that
// spans several lines is most likely a quote that never closes, which
// swallowed the rows after it: its first line is rejected and the lines
// after it are read again as records of their own, so no row goes with it.
func readCSVRecords(cr *csv.Reader, t *tape, head []string, comma rune, lineBase int, fn func(Row)) error {
	for {
		start := cr.InputOffset()
		rec, err := cr.Read()
		line, _ := cr.FieldPos(0)
		line += lineBase
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				// The csv reader carries on with the next record.
				fn(Row{Line: pe.StartLine + lineBase, Err: fmt.Errorf("csv line %d: %w", pe.StartLine+lineBase, pe.Err)})
				continue
			}
			return fmt.Errorf("fileerp: csv: %w", err)
		}
		end := cr.InputOffset()
		if last, _ := cr.FieldPos(len(rec) - 1); last+lineBase > line {
			// A record over several lines: a quoted line break, or a quote
			// that never closes and swallowed the rows after it.
			raw := bytes.Clone(t.between(start, end))
			if _, rest, _ := bytes.Cut(raw, []byte("\n")); len(rec) != len(head) || holdsRecords(rest, comma, len(head)) {
				fn(Row{Line: line, Err: fmt.Errorf("csv line %d: a quote that never closes (%d fields, the header has %d)", line, len(rec), len(head))})
				t.drop(end)
				inner := &tape{r: bytes.NewReader(rest)}
				if err := readCSVRecords(newCSVReader(inner, comma), inner, head, comma, line, fn); err != nil {
					return err
				}
				continue
			}
		}
		if len(rec) != len(head) {
			fn(Row{Line: line, Err: fmt.Errorf("csv line %d: %d fields, the header has %d", line, len(rec), len(head))})
			t.drop(end)
			continue
		}
		t.drop(end)
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

// holdsRecords reports whether any of the lines of text, read alone, is a
// whole record of n fields: text a quote swallowed, not a quoted line break.
func holdsRecords(text []byte, comma rune, n int) bool {
	for line := range bytes.SplitSeq(text, []byte("\n")) {
		if rec, err := newCSVReader(bytes.NewReader(line), comma).Read(); err == nil && len(rec) == n {
			return true
		}
	}
	return false
}

// tape keeps the bytes a csv.Reader has read and not yet handed back as
// records, so that a record's text can be read again.
type tape struct {
	r    io.Reader
	buf  []byte
	base int64 // input offset of buf[0]
}

func (t *tape) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

// between returns the input bytes [from, to).
func (t *tape) between(from, to int64) []byte { return t.buf[from-t.base : to-t.base] }

// drop lets the input before offset upto go (the memory is reused once
// most of the buffer is behind it).
func (t *tape) drop(upto int64) {
	if n := int(upto - t.base); n > 32<<10 && n > len(t.buf)/2 {
		t.buf = append(t.buf[:0], t.buf[n:]...)
		t.base = upto
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
