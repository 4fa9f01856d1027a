// Package check holds what the erpconnector fields and check commands do:
// the field catalog as the platforms' own Prepare sees it, and the checks of
// a configuration against the ERP and the platforms before a first run.
package check

import (
	"github.com/erpconnector/erpconnector/connector/customerapi"
	"github.com/erpconnector/erpconnector/connector/one"
	"github.com/erpconnector/erpconnector/mapping"
)

// Prepares returns the platforms' Prepare as catalog probes, so that the
// catalog says what a sync would refuse.
func Prepares() []mapping.Probe {
	o := one.New(nil, one.Options{})
	c := customerapi.New(nil, customerapi.Options{})
	return []mapping.Probe{
		{Platform: o.Name(), Sample: mapping.SampleONe(), Check: func(cu mapping.Customer) error {
			_, err := o.Prepare(cu)
			return err
		}},
		{Platform: c.Name(), Sample: mapping.SampleCustomerAPI(), Check: func(cu mapping.Customer) error {
			_, err := c.Prepare(cu)
			return err
		}},
	}
}

// Fields is the field catalog: every canonical field, its type, the
// platform fields it becomes and the platforms whose Prepare requires it.
func Fields() ([]mapping.FieldInfo, error) { return mapping.Catalog(Prepares()) }
