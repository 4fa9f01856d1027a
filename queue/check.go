package queue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// The state file is checked before bbolt maps it. bbolt trusts the file: a
// page id past the end of a truncated file faults (SIGBUS), a damaged page
// header trips an assertion, and either happens in a goroutine of bbolt's
// own (Open rebuilds the freelist by walking every page, because the store
// does not sync the freelist), where no recover can catch it. The check
// below reads the file with plain reads, never through the mapping, and
// validates what bbolt will rely on:
//
//   - the meta pages (magic, version, checksum) and the page size, chosen
//     the way bbolt chooses them;
//   - the file size against the high-water mark of the meta in use (a
//     truncated file);
//   - every page reachable from the root, following bbolt's own walk: each
//     page in bounds, naming itself, of the expected type, referenced once,
//     its elements, keys and values inside the page, keys in order within
//     the page and within the range the parent gives it; inline buckets and
//     the freelist page (when synced) included.
//
// This is the walk bbolt itself makes at every open of this store (see
// freepages in bbolt's db.go), made first with bounds checks: it reads
// every page in use once, which costs about as much as bbolt's own walk
// (see BenchmarkOpen in queue/open_test.go). It does not check what is
// inside values beyond bucket headers; CheckFile and Store.Check also
// decode every job record.

// bbolt's on-disk format (version 2), native byte order.
const (
	boltMagic         = 0xED0CDAED
	boltVersion       = 2
	pageHeaderSize    = 16
	elementSize       = 16 // branch and leaf page elements alike
	metaSize          = 64
	bucketHeaderSize  = 16
	flagBranch        = 0x01
	flagLeaf          = 0x02
	flagMeta          = 0x04
	flagFreelist      = 0x10
	bucketLeafFlag    = 0x01
	pgidNoFreelist    = ^uint64(0)
	minPageSize       = 1024
	maxPageSize       = 1 << 24
	maxProblemsListed = 5
)

var ne = binary.NativeEndian

var errNoMagic = errors.New("no bbolt magic number")

// meta is a decoded bbolt meta page.
type meta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64 // high-water mark: pages [0, pgid) are in use or free
	txid     uint64
	err      error
}

func decodeMeta(b []byte) meta {
	if len(b) < pageHeaderSize+metaSize {
		return meta{err: errors.New("short page")}
	}
	m := b[pageHeaderSize : pageHeaderSize+metaSize]
	out := meta{pageSize: ne.Uint32(m[8:]), root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]),
		pgid: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}
	h := fnv.New64a()
	h.Write(m[:56])
	switch {
	case ne.Uint32(m[0:]) != boltMagic:
		out.err = errNoMagic
	case ne.Uint32(m[4:]) != boltVersion:
		out.err = fmt.Errorf("format version %d, want %d", ne.Uint32(m[4:]), boltVersion)
	case ne.Uint64(m[56:]) != h.Sum64():
		out.err = errors.New("checksum mismatch")
	}
	return out
}

// CheckReport describes a state file that passed the check.
type CheckReport struct {
	// Path is the file checked.
	Path string `json:"path"`
	// Size is the file's size in bytes.
	Size int64 `json:"size"`
	// PageSize is bbolt's page size.
	PageSize int `json:"page_size"`
	// Pages is the high-water mark (pages in use or free).
	Pages uint64 `json:"pages"`
	// PagesInUse is how many pages the data uses.
	PagesInUse uint64 `json:"pages_in_use"`
	// TxID is the last committed transaction.
	TxID uint64 `json:"txid"`
	// Buckets counts buckets at every depth; Keys counts the other entries.
	Buckets int `json:"buckets"`
	Keys    int `json:"keys"`
	// Jobs counts job records (every one decoded); Dead counts dead letters.
	Jobs int `json:"jobs"`
	Dead int `json:"dead_letters"`
	// Notes are findings bbolt copes with on its own (a torn meta page
	// write, where the other meta page is used).
	Notes []string `json:"notes,omitempty"`
}

// checker walks a bbolt file with plain reads.
type checker struct {
	r        io.ReaderAt
	data     []byte // the file mapped read-only, when it could be
	pageSize int
	hwm      uint64
	seen     []uint64 // bitset of pages reached
	problems []string
	nproblem int
	rep      *CheckReport
}

func (c *checker) problem(format string, args ...any) {
	c.nproblem++
	if len(c.problems) < maxProblemsListed {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

// failed reports whether the walk found enough to stop.
func (c *checker) failed() bool { return c.nproblem > 0 }

// mark records pages [id, id+n] as reached and reports a page reached twice.
func (c *checker) mark(id uint64, overflow uint64, from string) bool {
	for p := id; p <= id+overflow; p++ {
		w, bit := p/64, uint64(1)<<(p%64)
		if c.seen[w]&bit != 0 {
			c.problem("page %d is referenced twice (again from %s)", p, from)
			return false
		}
		c.seen[w] |= bit
		c.rep.PagesInUse++
	}
	return true
}

// readPage returns page id with its overflow pages, after checking its
// header.
func (c *checker) readPage(id uint64, from string) []byte {
	if id < 2 || id >= c.hwm {
		c.problem("%s points to page %d, outside the file's pages 2..%d", from, id, c.hwm-1)
		return nil
	}
	buf, err := c.read(id, 1)
	if err != nil {
		c.problem("page %d: read: %v", id, err)
		return nil
	}
	if got := ne.Uint64(buf[0:]); got != id {
		c.problem("page %d (in %s) was overwritten: its header names page %d", id, from, got)
		return nil
	}
	overflow := uint64(ne.Uint32(buf[12:]))
	if overflow >= c.hwm-id {
		c.problem("page %d: %d overflow pages run past the last page %d", id, overflow, c.hwm-1)
		return nil
	}
	if !c.mark(id, overflow, from) {
		return nil
	}
	if overflow > 0 {
		if buf, err = c.read(id, overflow+1); err != nil {
			c.problem("page %d: read %d overflow pages: %v", id, overflow, err)
			return nil
		}
	}
	return buf
}

// read returns n pages from page id on, from the mapping when there is one.
func (c *checker) read(id, n uint64) ([]byte, error) {
	off, end := id*uint64(c.pageSize), (id+n)*uint64(c.pageSize)
	if c.data != nil {
		if end > uint64(len(c.data)) {
			return nil, io.ErrUnexpectedEOF
		}
		return c.data[off:end:end], nil
	}
	buf := make([]byte, end-off)
	if _, err := c.r.ReadAt(buf, int64(off)); err != nil {
		return nil, err
	}
	return buf, nil
}

// element returns the key and value of element i of page p (value nil for
// branch pages), checking that both lie inside the page.
func element(p []byte, i int, leaf bool) (key, value []byte, flags uint32, child uint64, err error) {
	off := pageHeaderSize + i*elementSize
	e := p[off : off+elementSize]
	var pos, ksize, vsize uint64
	if leaf {
		flags, pos, ksize, vsize = ne.Uint32(e[0:]), uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
	} else {
		pos, ksize, child = uint64(ne.Uint32(e[0:])), uint64(ne.Uint32(e[4:])), ne.Uint64(e[8:])
	}
	start := uint64(off) + pos
	if end := start + ksize + vsize; end > uint64(len(p)) || start < uint64(pageHeaderSize) {
		return nil, nil, 0, 0, fmt.Errorf("element %d lies outside its page (bytes %d..%d of %d)", i, start, end, len(p))
	}
	key = p[start : start+ksize]
	if leaf {
		value = p[start+ksize : start+ksize+vsize]
	}
	return key, value, flags, child, nil
}

// tree walks the page tree rooted at id, whose keys must lie in [lo, hi)
// (nil: unbounded), and returns the last key it holds.
func (c *checker) tree(id uint64, lo, hi []byte, path string) []byte {
	p := c.readPage(id, desc(path))
	if p == nil {
		return nil
	}
	return c.node(p, id, lo, hi, path)
}

// node checks one page (or an inline bucket's page) and what it points to.
func (c *checker) node(p []byte, id uint64, lo, hi []byte, path string) []byte {
	name := func() string {
		if id == 0 {
			return "inline page"
		}
		return fmt.Sprintf("page %d", id)
	}
	flags, count := ne.Uint16(p[8:]), int(ne.Uint16(p[10:]))
	leaf := flags == flagLeaf
	if flags != flagLeaf && flags != flagBranch {
		c.problem("%s (%s): not a tree page (type flags %#x)", name(), desc(path), flags)
		return nil
	}
	if !leaf && count == 0 {
		c.problem("%s (%s): branch page without elements", name(), desc(path))
		return nil
	}
	if pageHeaderSize+count*elementSize > len(p) {
		c.problem("%s (%s): %d elements do not fit in %d bytes", name(), desc(path), count, len(p))
		return nil
	}
	prev := lo
	for i := 0; i < count && !c.failed(); i++ {
		key, value, eflags, child, err := element(p, i, leaf)
		if err != nil {
			c.problem("%s (%s): %v", name(), desc(path), err)
			return nil
		}
		if (i == 0 && prev != nil && bytes.Compare(prev, key) > 0) || (i > 0 && bytes.Compare(prev, key) >= 0) ||
			(hi != nil && bytes.Compare(key, hi) >= 0) {
			c.problem("%s (%s): key %d (%q) out of order", name(), desc(path), i, truncKey(key))
			return nil
		}
		if !leaf {
			next := hi
			if i+1 < count {
				nk, _, _, _, err := element(p, i+1, false)
				if err != nil {
					c.problem("%s (%s): %v", name(), desc(path), err)
					return nil
				}
				next = nk
			}
			prev = c.tree(child, key, next, path)
			if prev == nil {
				// An empty subtree (only legitimate as an empty leaf).
				prev = key
			}
			continue
		}
		prev = key
		if eflags&bucketLeafFlag == 0 {
			c.rep.Keys++
			continue
		}
		c.rep.Buckets++
		sub := truncKey(key)
		if path != "" {
			sub = path + "/" + sub
		}
		c.bucket(value, sub)
	}
	if c.failed() {
		return nil
	}
	if leaf && count == 0 {
		return nil
	}
	return prev
}

// bucket checks a bucket from its value in the parent's leaf.
func (c *checker) bucket(v []byte, path string) {
	if len(v) < bucketHeaderSize {
		c.problem("%s: bucket header of %d bytes", desc(path), len(v))
		return
	}
	root := ne.Uint64(v[0:])
	if root != 0 {
		c.tree(root, nil, nil, path)
		return
	}
	inline := v[bucketHeaderSize:]
	if len(inline) < pageHeaderSize {
		c.problem("%s: inline page of %d bytes", desc(path), len(inline))
		return
	}
	if ne.Uint16(inline[8:]) != flagLeaf {
		c.problem("%s: inline page is not a leaf (type flags %#x)", desc(path), ne.Uint16(inline[8:]))
		return
	}
	c.node(inline, 0, nil, nil, path)
}

// desc names a bucket by its path ("" is the root bucket).
func desc(path string) string {
	if path == "" {
		return "the root bucket"
	}
	return "bucket " + path
}

// freelist checks a synced freelist page; its pages must not be in use.
func (c *checker) freelist(id uint64) []uint64 {
	p := c.readPage(id, "the meta page's freelist")
	if p == nil {
		return nil
	}
	if f := ne.Uint16(p[8:]); f != flagFreelist {
		c.problem("freelist page %d: type flags %#x", id, f)
		return nil
	}
	idx, count := uint64(0), uint64(ne.Uint16(p[10:]))
	if count == 0xFFFF {
		if len(p) < pageHeaderSize+8 {
			c.problem("freelist page %d: short", id)
			return nil
		}
		idx, count = 1, ne.Uint64(p[pageHeaderSize:])
	}
	if count > uint64(len(p)-pageHeaderSize)/8 || pageHeaderSize+(idx+count)*8 > uint64(len(p)) {
		c.problem("freelist page %d: %d ids do not fit", id, count)
		return nil
	}
	ids := make([]uint64, count)
	for i := range ids {
		ids[i] = ne.Uint64(p[pageHeaderSize+(idx+uint64(i))*8:])
		if ids[i] < 2 || ids[i] >= c.hwm {
			c.problem("freelist page %d: free page %d outside the file's pages", id, ids[i])
			return nil
		}
	}
	return ids
}

func truncKey(k []byte) string {
	s := string(k)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// checkFile runs the structural check on an open file.
func checkFile(f *os.File, rep *CheckReport) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	rep.Path, rep.Size = f.Name(), fi.Size()
	size := fi.Size()
	if size == 0 {
		return errors.New("the file is empty")
	}
	// The page size, found the way bbolt finds it: from meta page 0, else
	// from meta page 1 at each possible offset, else the OS page size.
	var first [0x1000]byte
	n0, _ := f.ReadAt(first[:], 0)
	m0 := decodeMeta(first[:n0])
	pageSize := 0
	if n0 == len(first) && m0.err == nil {
		pageSize = int(m0.pageSize)
	} else {
		readable := n0 == len(first)
		for i := 0; i <= 14 && pageSize == 0; i++ {
			pos := int64(1024) << i
			if pos >= size-1024 {
				break
			}
			var b [0x1000]byte
			n, err := f.ReadAt(b[:], pos)
			if err == nil || (errors.Is(err, io.EOF) && int64(n) == size-pos) {
				readable = true
				if m := decodeMeta(b[:n]); m.err == nil {
					pageSize = int(m.pageSize)
				}
			}
		}
		if pageSize == 0 {
			if !readable {
				return fmt.Errorf("not a bbolt state file (%d bytes, no meta page)", size)
			}
			pageSize = os.Getpagesize()
		}
	}
	if pageSize < minPageSize || pageSize > maxPageSize || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("meta page gives a page size of %d bytes", pageSize)
	}
	rep.PageSize = pageSize
	if size < 2*int64(pageSize) {
		return fmt.Errorf("truncated: %d bytes, shorter than the two meta pages (%d bytes)", size, 2*pageSize)
	}
	metas := [2]meta{}
	for i := range metas {
		b := make([]byte, pageSize)
		if _, err := f.ReadAt(b, int64(i*pageSize)); err != nil {
			return fmt.Errorf("meta page %d: %w", i, err)
		}
		metas[i] = decodeMeta(b)
	}
	// bbolt uses the valid meta with the higher transaction id.
	use := 0
	if metas[1].txid > metas[0].txid {
		use = 1
	}
	if metas[use].err != nil {
		use = 1 - use
	}
	if metas[use].err != nil {
		if metas[0].err == errNoMagic && metas[1].err == errNoMagic {
			return fmt.Errorf("not a bbolt state file: no meta page has bbolt's magic number")
		}
		return fmt.Errorf("both meta pages are invalid (page 0: %v; page 1: %v)", metas[0].err, metas[1].err)
	}
	if o := metas[1-use]; o.err != nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("meta page %d is invalid (%v): bbolt uses meta page %d, the state of transaction %d", 1-use, o.err, use, metas[use].txid))
	}
	m := metas[use]
	if int(m.pageSize) != pageSize {
		return fmt.Errorf("meta page %d gives a page size of %d bytes, the file uses %d", use, m.pageSize, pageSize)
	}
	rep.TxID, rep.Pages = m.txid, m.pgid
	if m.pgid < 3 || m.pgid > uint64(size)/uint64(pageSize) {
		if m.pgid >= 3 && m.pgid <= (1<<62)/uint64(pageSize) {
			return fmt.Errorf("truncated: %d bytes, the state needs %d (%d pages of %d bytes)", size, m.pgid*uint64(pageSize), m.pgid, pageSize)
		}
		return fmt.Errorf("meta page %d gives %d pages", use, m.pgid)
	}
	return walk(f, pageSize, m.root, m.pgid, m.freelist, rep)
}

// walk checks the page tree of the root bucket (root page id) below the
// high-water mark hwm. The file is mapped read-only when it can be (no
// read call per page); every access stays inside the pages [0, hwm), which
// the caller has checked the file holds, and a fault (the file cut while
// it is read) panics, recovered here, rather than crashing the process.
func walk(f *os.File, pageSize int, root, hwm, freelist uint64, rep *CheckReport) (err error) {
	c := &checker{r: f, pageSize: pageSize, hwm: hwm, seen: make([]uint64, hwm/64+1), rep: rep}
	if data, unmap, err := mapFile(f, int(hwm)*pageSize); err == nil {
		defer unmap()
		c.data = data
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("reading the file failed: %v", r)
		}
	}()
	c.seen[0] |= 3 // the meta pages
	rep.PagesInUse = 2
	var free []uint64
	if freelist != pgidNoFreelist {
		free = c.freelist(freelist)
	}
	if !c.failed() {
		c.tree(root, nil, nil, "")
	}
	for _, id := range free {
		if c.failed() {
			break
		}
		if c.seen[id/64]&(1<<(id%64)) != 0 {
			c.problem("page %d is both free and in use", id)
		}
	}
	if !c.failed() {
		return nil
	}
	msg := strings.Join(c.problems, "; ")
	if more := c.nproblem - len(c.problems); more > 0 {
		msg += fmt.Sprintf("; and %d more", more)
	}
	return errors.New(msg)
}
