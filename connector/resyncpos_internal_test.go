package connector

import "testing"

// TestResyncPosition: the two-walk position reads back what it recorded
// (cursors and keys of any text), and the one-walk-after-the-other form an
// older build recorded resumes at the same place.
func TestResyncPosition(t *testing.T) {
	for _, p := range []resyncPos{
		{},
		{Platform: "7", ERP: "C-1001"},
		{Platform: `a:b"c`, PlatformDone: false, ERP: "walks:x", ERPDone: true},
		{PlatformDone: true, ERP: "ü ß\x01"},
		{PlatformDone: true, ERPDone: true},
	} {
		got, err := parseResyncPos(p.String())
		if err != nil || got != p {
			t.Errorf("%+v recorded as %q reads back as %+v, %v", p, p.String(), got, err)
		}
	}
	for recorded, want := range map[string]resyncPos{
		"":                  {},
		"platform:":         {},
		"platform:12":       {Platform: "12"},
		"platform:eyJ:x":    {Platform: "eyJ:x"},
		"erp:":              {PlatformDone: true},
		"erp:C-1001":        {PlatformDone: true, ERP: "C-1001"},
		"deletes:":          {PlatformDone: true, ERPDone: true},
		"deletes:~":         {PlatformDone: true, ERPDone: true},
		`walks:{"erp":"K"}`: {ERP: "K"},
	} {
		got, err := parseResyncPos(recorded)
		if err != nil || got != want {
			t.Errorf("%q reads as %+v, %v; want %+v", recorded, got, err, want)
		}
	}
	for _, bad := range []string{"walks:{", "walks:", "pages:3"} {
		if p, err := parseResyncPos(bad); err == nil {
			t.Errorf("%q read as %+v without an error", bad, p)
		}
	}
}
