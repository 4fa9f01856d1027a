package connector

import (
	"github.com/erpconnector/erpconnector/connector/platform"
	"github.com/erpconnector/erpconnector/erp"
)

// What a push does with one ERP record on one platform (Judge).
const (
	// JudgeUpsert: the platform receives the record (created or updated).
	JudgeUpsert = opUpsert
	// JudgeUnflag: the record is not flagged for the platform, or deleted.
	JudgeUnflag = opUnflag
	// JudgeInvalid: the record is refused before it is sent (a dead letter).
	JudgeInvalid = opInvalid
)

// Judge reports what a sync does with the ERP record it on p, the way the
// push decides it: JudgeUpsert, JudgeUnflag, or JudgeInvalid with the
// reason (the record's own error, or p's Prepare's field errors). err is a
// failure of Prepare that is not about the record.
func Judge(p platform.Platform, it erp.Item) (op, reason string, err error) {
	pp, err := classify(&site{p: p}, it)
	if err != nil {
		return "", "", err
	}
	return pp.Op, pp.Reason, nil
}
