package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/erpconnector/erpconnector/connector"
)

// progressEvery is how often a resync off a terminal prints a line.
const progressEvery = 2 * time.Second

// resyncProgress shows how far a resync is, platform by platform (a resync
// of all goes through them one at a time): on a terminal a bar counting the
// records read, ended with a newline once the platform's records are read
// or the resync stops; otherwise a plain line every progressEvery and one
// when the records are read.
type resyncProgress struct {
	w     io.Writer
	tty   bool
	every time.Duration

	mu       sync.Mutex // update, end and the logs come from several goroutines
	line     string     // the bar's text, as last drawn
	platform string     // of the pass shown
	shown    bool       // a pass is shown: its bar drawn or a line printed
	ended    bool       // and its line ended
	done     int        // records read, as last told
	bar      *progressbar.ProgressBar
	known    bool // the bar counts up to a known total
	last     time.Time
}

// newResyncProgress draws on stderr when it is a terminal and the output
// is text.
func (g *globals) newResyncProgress() *resyncProgress {
	f, ok := g.stderr.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd())) && !g.json()
	return &resyncProgress{w: g.stderr, tty: tty, every: progressEvery}
}

// update shows rs; it is the progress callback of ResyncTarget.
func (p *resyncProgress) update(rs connector.ResyncStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown && (rs.Platform != p.platform || rs.RecordsDone < p.done || p.ended && rs.Progress < 1) {
		p.endLine() // another pass begins
		p.shown, p.ended, p.bar = false, false, nil
	}
	if p.ended {
		return
	}
	if !p.shown {
		if rs.Progress >= 1 {
			return // a pass already over (or the last resync's) has nothing to show
		}
		p.shown, p.platform, p.last = true, rs.Platform, time.Time{}
	}
	p.done = rs.RecordsDone
	if p.tty {
		p.draw(rs)
	} else {
		p.print(rs)
	}
	if rs.Progress >= 1 {
		p.endLine()
	}
}

func (p *resyncProgress) draw(rs connector.ResyncStatus) {
	if p.bar == nil {
		p.known = rs.RecordsTotal > 0
		total := -1
		if p.known {
			total = rs.RecordsTotal
		}
		// No spinner of its own: its goroutine would write on after the
		// bar's line is ended (it stops only on a full bar).
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(p.w), progressbar.OptionSetWidth(20),
			progressbar.OptionThrottle(0), progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetSpinnerChangeInterval(0))
	}
	if p.known && rs.RecordsDone > p.bar.GetMax() {
		p.bar.ChangeMax(rs.RecordsDone) // more records than the plan counted
	}
	p.line = progressLine(rs)
	p.bar.Describe(p.line)
	switch {
	case rs.Progress >= 1 && p.known:
		_ = p.bar.Finish()
	case rs.Progress >= 1:
		_ = p.bar.Exit()
	default:
		_ = p.bar.Set(rs.RecordsDone)
	}
}

func (p *resyncProgress) print(rs connector.ResyncStatus) {
	if rs.Progress < 1 && !p.last.IsZero() && time.Since(p.last) < p.every {
		return
	}
	line := progressLine(rs)
	if rs.Progress >= 1 {
		line += " (all read)"
	}
	fmt.Fprintln(p.w, line)
	p.last = time.Now()
}

// end ends the bar's line, if one is drawn and not yet ended: once the
// resync returns, done or interrupted, so that what follows starts on a
// line of its own.
func (p *resyncProgress) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLine()
}

func (p *resyncProgress) endLine() {
	if p.shown && !p.ended && p.tty {
		fmt.Fprintln(p.w)
	}
	p.ended = p.shown
}

// logs is where the logs go while the resync runs: on a terminal a log
// line clears the bar first and the bar is drawn again under it, so that no
// log line starts in the middle of the bar.
func (p *resyncProgress) logs() io.Writer { return progressLogs{p} }

type progressLogs struct{ p *resyncProgress }

func (l progressLogs) Write(b []byte) (int, error) {
	p := l.p
	p.mu.Lock()
	defer p.mu.Unlock()
	drawn := p.bar != nil && !p.ended
	if drawn {
		_ = p.bar.Clear()
	}
	n, err := p.w.Write(b)
	if drawn {
		p.bar.Describe(p.line)
	}
	return n, err
}

// progressLine says how many records a resync pass has read.
func progressLine(rs connector.ResyncStatus) string {
	what := fmt.Sprintf("%d records read", rs.RecordsDone)
	if rs.RecordsTotal > 0 {
		what = fmt.Sprintf("%d/%d records read", rs.RecordsDone, max(rs.RecordsTotal, rs.RecordsDone))
	}
	return fmt.Sprintf("resync %s: %s, %d jobs queued", cmp.Or(rs.Platform, "all"), what, rs.Queued)
}
