package connector

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/erpconnector/erpconnector/connector/state"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/queue"
)

// rejectType is the dead-letter type of ERP records that could not even be
// read (a broken export row, a file that is not an export, a row without a
// key): there is nothing to deliver, so they go straight to the dead
// letters, where the operator sees where they came from and their text.
const rejectType = "erp.reject"

// rejectPayload is what the dead letter of an unreadable record holds.
type rejectPayload struct {
	// Source is where the record came from ("customers.csv:12", or the
	// file's name when the whole file could not be read).
	Source string `json:"source"`
	// Raw is the record's text, shortened.
	Raw string `json:"raw,omitempty"`
	// Reason says why it could not be read.
	Reason string `json:"reason"`
}

// rejectKind is "row" for a record of a file or table, "file" for a whole
// file that could not be read.
func rejectKind(source string) string {
	i := strings.LastIndexByte(source, ':')
	if i < 0 || i == len(source)-1 || strings.Trim(source[i+1:], "0123456789") != "" {
		return "file"
	}
	return "row"
}

// rejections turns the items without a key into their dead letters.
func rejections(items []erp.Item) ([]queue.Job, error) {
	var jobs []queue.Job
	for _, it := range items {
		if it.Key != "" {
			continue
		}
		p := rejectPayload{Source: it.Source, Raw: it.Raw, Reason: "the record has no key"}
		if it.Err != nil {
			p.Reason = it.Err.Error()
		}
		id := p.Source
		if id == "" {
			sum := sha256.Sum256([]byte(p.Raw + "\x00" + p.Reason))
			id = hex.EncodeToString(sum[:8])
		}
		b, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("connector: encode rejection: %w", err)
		}
		jobs = append(jobs, queue.Job{Type: rejectType, Key: "erp:reject:" + id, Payload: b, LastError: p.Reason})
	}
	return jobs, nil
}

// reject records the page's unreadable records as dead letters in tx and
// returns how many it recorded for the first time, by kind.
func reject(tx *state.Tx, items []erp.Item) (map[string]int, error) {
	jobs, err := rejections(items)
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	counts := map[string]int{}
	for _, j := range jobs {
		n, err := tx.Bury(j)
		if err != nil {
			return nil, fmt.Errorf("connector: record rejected ERP record: %w", err)
		}
		var p rejectPayload
		_ = json.Unmarshal(j.Payload, &p)
		counts[rejectKind(p.Source)] += n
	}
	return counts, nil
}

// countRejected adds a committed page's rejections to the metrics.
func (m *metrics) countRejected(counts map[string]int) {
	for kind, n := range counts {
		m.rejected.WithLabelValues(kind).Add(float64(n))
	}
}
