package oneapi_test

import (
	"fmt"
	"strings"
)

func fmtV(v any) string { return fmt.Sprintf("%v %+v %s", v, v, v) }

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
