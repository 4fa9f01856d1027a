package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/erpconnector/erpconnector/internal/check"
	"github.com/erpconnector/erpconnector/mapping"
)

func newFieldsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "fields",
		Short: "List the canonical fields a rule may target, their type, the platform fields they become and which platform requires them",
		Long: `List every canonical field a field rule may target (erp.sql.rules,
erp.files.rules): its type (text, bool, number, list, date), the JSON paths
it becomes in what the connector sends to ONe and to the Customer API
("organisation." the organisation, "farm." the farm business unit), and the
platforms that refuse an otherwise complete customer without it ("one
unless billing.phone": ONe refuses a customer without it only when that
field is missing too).

The platform fields and the requirements are found by asking the mapping
and the platforms' own validation, so they are what a sync does.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := check.Fields()
			if err != nil {
				return err
			}
			return g.print(cat, func(w io.Writer) { printFields(w, cat) })
		},
	}
}

func printFields(w io.Writer, cat []mapping.FieldInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "field\ttype\trequired by\tONe\tCustomer API")
	dash := func(xs []string) string {
		if len(xs) == 0 {
			return "-"
		}
		return strings.Join(xs, ", ")
	}
	for _, fi := range cat {
		req := make([]string, 0, len(fi.RequiredBy)+len(fi.RequiredUnless))
		for _, p := range fi.RequiredBy {
			req = append(req, string(p))
		}
		for _, p := range slices.Sorted(maps.Keys(fi.RequiredUnless)) {
			req = append(req, string(p)+" unless "+strings.Join(fi.RequiredUnless[p], " or "))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", fi.Field, fi.Type, dash(req), dash(fi.ONe), dash(fi.CustomerAPI))
	}
	_ = tw.Flush()
}
