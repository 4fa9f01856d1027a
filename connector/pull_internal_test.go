package connector

import (
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/mapping"
)

// TestSameERPRecordLeavesPlatformIDs: a customer read before its pending
// write-back landed and the same customer read after hold the same data
// (a re-flagged customer was adopted, then "pulled" with no field changed,
// now and then, before); any field of its data still tells them apart.
func TestSameERPRecordLeavesPlatformIDs(t *testing.T) {
	a := mapping.Customer{ERPKey: "C1", Name: "Agrorex Ltd", UpdatedAt: time.Unix(1, 0)}
	b := a
	b.PlatformIDs = mapping.PlatformIDs{ONe: "org:1", CustomerAPI: "x"}
	b.UpdatedAt = time.Unix(2, 0)
	if !sameERPRecord(a, b) {
		t.Error("platform ids or the change time made two records differ")
	}
	b.Name = "Agrorex Limited"
	if sameERPRecord(a, b) {
		t.Error("a renamed record is the same")
	}
}
