package mapping

import (
	"slices"
	"strings"
)

// Group is an ownership group: the canonical fields that one side (the ERP
// or the platforms) owns together.
type Group string

// The ownership groups.
const (
	GroupMaster     Group = "master"     // names, tax ids, billing address, phone, e-mails, currency, tax, status
	GroupCommercial Group = "commercial" // account manager, warehouses, segments, payment terms, payer, blockade, bank
	GroupAdditional Group = "additional" // tenant-configured additional fields
	GroupContact    Group = "contact"    // the administrator contact
	GroupFarm       Group = "farm"       // holding, assurance, location, certificates
)

// Groups lists the ownership groups.
var Groups = []Group{GroupMaster, GroupCommercial, GroupAdditional, GroupContact, GroupFarm}

// Owner is the side that owns a group.
type Owner string

// Owners.
const (
	OwnerERP      Owner = "erp"
	OwnerPlatform Owner = "platform"
)

// Ownership says who owns each group. A group not listed is the ERP's,
// except the contact: the first user is created on the platform and
// managed there.
type Ownership map[Group]Owner

// Of returns the owner of g.
func (o Ownership) Of(g Group) Owner {
	if v, ok := o[g]; ok {
		return v
	}
	if g == GroupContact {
		return OwnerPlatform
	}
	return OwnerERP
}

// Held says which canonical fields an ERP holds: those its field rules
// map. A field the ERP does not hold is never taken from the ERP's (empty)
// value: what the platform holds there is carried over.
type Held struct {
	all   bool
	names map[string]bool
}

// HoldsAll is the Held of an ERP that holds every canonical field.
func HoldsAll() Held { return Held{all: true} }

// HeldFields returns the Held of an ERP whose rules target fields (as in
// FieldRule.Field: "name", "billing.city", "invoice_emails",
// "additional.regon", …).
func HeldFields(fields []string) Held {
	h := Held{names: map[string]bool{}}
	for _, f := range fields {
		h.names[f] = true
		if f == invoiceEmailsField {
			h.names["invoice_email"], h.names["additional_invoice_emails"] = true, true
		}
	}
	return h
}

// Holds reports whether the ERP holds the canonical field name.
func (h Held) Holds(name string) bool { return h.all || h.names[name] }

// Terms are what the pure merge logic needs to know of the configuration:
// who owns each group and which fields the ERP holds.
type Terms struct {
	Own  Ownership
	Held Held
}

// additionalAll names the additional fields as a whole in a Carried.
const additionalAll = "additional"

// Carried is one field a platform carries, or several fields the platform
// keeps together (then Copy moves them together).
type Carried struct {
	// Names are the canonical field names (as rules name them); the first
	// decides for all when Copy is set. "additional" stands for every
	// additional field, each decided by its own name.
	Names []string
	// Group is the ownership group.
	Group Group
	// Optional fields may be missing from a platform record (the Customer
	// API keeps them on a farm business unit, which an organisation need
	// not have): a partial record leaves them alone.
	Optional bool
	// Copy moves the fields from src to dst (nil: each name by itself).
	Copy func(dst *Customer, src Customer)
}

// Carrier describes the canonical fields one platform carries and the few
// ways it differs from a plain copy. Its methods are the whole of the
// ownership logic: where echo suppression, merges and full writes decide
// which side a value comes from.
type Carrier struct {
	// Fields are the fields the platform carries.
	Fields []Carried
	// FixView adjusts a view: values the platform fills in by itself when
	// the ERP sends none count as the ERP's (empty) value.
	FixView func(view *Customer, erpRec, plat Customer)
	// FixMerge adjusts a merge result.
	FixMerge func(m *Customer, erpRec, plat Customer)
	// Same reports whether two customers send the platform the same thing:
	// a merge keeps the ERP's form of a value the platform holds in
	// another notation. Nil: every difference counts.
	Same func(a, b Customer) bool
}

// apply copies from src into dst every carried field for which take
// holds; partial leaves optional fields alone.
func (cr *Carrier) apply(dst *Customer, src Customer, partial bool, take func(name string, g Group) bool) {
	for _, f := range cr.Fields {
		if f.Optional && partial {
			continue
		}
		switch {
		case f.Copy != nil:
			if take(f.Names[0], f.Group) {
				f.Copy(dst, src)
			}
		case len(f.Names) == 1 && f.Names[0] == additionalAll:
			dst.AdditionalFields = mergeAdditional(dst.AdditionalFields, src.AdditionalFields,
				func(name string) bool { return take(additionalPrefix+name, f.Group) })
		default:
			for _, n := range f.Names {
				if take(n, f.Group) {
					copyNamed(dst, src, n)
				}
			}
		}
	}
}

// mergeAdditional keeps the fields of dst that take refuses and adds those
// of src that it takes.
func mergeAdditional(dst, src []AdditionalField, take func(name string) bool) []AdditionalField {
	var out []AdditionalField
	for _, f := range dst {
		if !take(f.Name) {
			out = append(out, f)
		}
	}
	for _, f := range src {
		if take(f.Name) {
			out = append(out, f)
		}
	}
	return out
}

// View is what the platform holds for a bound customer, in the ERP's
// terms: the ERP record with every field the platform carries and the ERP
// holds taken from the platform record plat. Its hash equals the hash of
// the ERP record exactly when the platform agrees with everything the ERP
// would send. partial says plat lacks the optional fields.
func (cr *Carrier) View(erpRec, plat Customer, partial bool, t Terms) Customer {
	v := erpRec.Clone()
	cr.apply(&v, plat, partial, func(name string, _ Group) bool { return t.Held.Holds(name) })
	if cr.FixView != nil {
		cr.FixView(&v, erpRec, plat)
	}
	v.Normalize()
	return v
}

// Merge applies a platform record to the ERP record by ownership: fields of
// groups the platform owns (and the ERP holds) come from the platform, the
// rest stay as the ERP has them.
func (cr *Carrier) Merge(erpRec, plat Customer, partial bool, t Terms) Customer {
	m := erpRec.Clone()
	for _, f := range cr.Fields {
		if f.Optional && partial || t.Own.Of(f.Group) != OwnerPlatform {
			continue
		}
		one := Carrier{Fields: []Carried{f}}
		cand := m.Clone()
		one.apply(&cand, plat, partial, func(name string, _ Group) bool { return t.Held.Holds(name) })
		if cr.Same == nil || !cr.Same(cand, m) {
			m = cand
		}
	}
	if cr.FixMerge != nil {
		cr.FixMerge(&m, erpRec, plat)
	}
	m.Normalize()
	return m
}

// Overlay is what a full write sends for the ERP record: the ERP's values,
// with every field the ERP does not hold, or whose group the platform
// owns, carried over from the platform record as it was read. A full write
// built from it never erases what the platform holds and the ERP does not.
func (cr *Carrier) Overlay(erpRec, plat Customer, partial bool, t Terms) Customer {
	o := erpRec.Clone()
	cr.apply(&o, plat, partial, func(name string, g Group) bool {
		return !t.Held.Holds(name) || t.Own.Of(g) == OwnerPlatform
	})
	o.Normalize()
	return o
}

// CarriesOver reports whether an Overlay can differ from the ERP record at
// all: whether a full write needs the platform's record first.
func (cr *Carrier) CarriesOver(t Terms) bool {
	for _, f := range cr.Fields {
		if t.Own.Of(f.Group) == OwnerPlatform {
			return true
		}
		for _, n := range f.Names {
			if n == additionalAll {
				if !t.Held.all {
					return true
				}
				continue
			}
			if !t.Held.Holds(n) {
				return true
			}
		}
	}
	return false
}

// copyNamed copies the canonical field name from src into dst.
func copyNamed(dst *Customer, src Customer, name string) {
	if name == invoiceEmailsField {
		copyNamed(dst, src, "invoice_email")
		copyNamed(dst, src, "additional_invoice_emails")
		return
	}
	if a, ok := strings.CutPrefix(name, additionalPrefix); ok {
		dst.AdditionalFields = mergeAdditional(dst.AdditionalFields, src.AdditionalFields,
			func(n string) bool { return n == a })
		return
	}
	d, ok := lookupField(name)
	if !ok {
		return
	}
	switch d.kind {
	case kindString, kindDate:
		*d.str(dst) = *d.str(&src)
	case kindBool:
		*d.bln(dst) = *d.bln(&src)
	case kindFloat:
		*d.flt(dst) = clonePtr(*d.flt(&src))
	case kindList:
		*d.list(dst) = slices.Clone(*d.list(&src))
	}
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// Differences names the canonical fields the platform carries whose values
// differ between a and b (for logs and plans).
func (cr *Carrier) Differences(a, b Customer) []string {
	var out []string
	for _, f := range cr.Fields {
		for _, n := range f.Names {
			x, y := a.Clone(), b.Clone()
			var zx, zy Customer
			if n == additionalAll {
				zx.AdditionalFields, zy.AdditionalFields = x.AdditionalFields, y.AdditionalFields
			} else {
				copyNamed(&zx, x, n)
				copyNamed(&zy, y, n)
			}
			zx.Normalize()
			zy.Normalize()
			hx, _ := ContentHash(zx)
			hy, _ := ContentHash(zy)
			if hx != hy {
				out = append(out, n)
			}
		}
	}
	return out
}
