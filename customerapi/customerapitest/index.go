package customerapitest

import (
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/erpconnector/erpconnector/customerapi"
)

// Indexes of the state. They answer the look-ups that requests make (users
// by e-mail, phone and login id, an organisation's users and business units,
// organisations by name and company number, certificates by holding number
// and postcode) without scanning every record. Each look-up confirms its
// candidates with the comparison the server has always made, and where
// several records match returns the one the scan would have found first, so
// answers are exactly those of a scan. The indexes are not saved: the state
// builds them as records are made, changed and deleted, and restoreState
// builds them from the state file.

// foldKey returns s with every rune replaced by the smallest rune of its
// Unicode simple case folding orbit (and every invalid byte by U+FFFD, as
// the decoder reads it), so foldKey(a) == foldKey(b) exactly when
// strings.EqualFold(a, b): EqualFold compares rune by rune, two runes being
// equal when one is in the other's SimpleFold orbit. (A key of
// strings.ToLower would not do: it keeps "σ" and "ς" apart, which EqualFold
// holds equal, and makes "İ" and "i" one, which EqualFold holds apart.)
func foldKey(s string) string {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || 'a' <= c && c <= 'z' {
			break
		}
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldRune returns the smallest rune that strings.EqualFold holds equal to r.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		return r
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return least
}

// orgKey indexes organisations by what duplicateOrg compares: the trimmed
// name and the company number, both case-folded.
type orgKey struct{ name, number string }

// companyNumber is the company number duplicateOrg compares: the company's
// number, or else the organisation's CompanyNumber.
func (o *org) companyNumber() string {
	if o.o.Company != nil && o.o.Company.Number != "" {
		return o.o.Company.Number
	}
	return o.o.CompanyNumber
}

func dupKey(name, number string) orgKey {
	return orgKey{foldKey(strings.TrimSpace(name)), foldKey(number)}
}

// indexOrg files o under its current name and company number, moving it
// from the key it was filed under. Call it after changing either.
func (st *state) indexOrg(o *org) {
	k := dupKey(o.o.Name, o.companyNumber())
	if o.indexed {
		if k == o.key {
			return
		}
		st.unindexOrg(o)
	}
	st.orgsByKey[k] = append(st.orgsByKey[k], o)
	o.key, o.indexed = k, true
}

func (st *state) unindexOrg(o *org) {
	if !o.indexed {
		return
	}
	st.orgsByKey[o.key] = remove(st.orgsByKey[o.key], o)
	if len(st.orgsByKey[o.key]) == 0 {
		delete(st.orgsByKey, o.key)
	}
	o.indexed = false
}

// indexConns rebuilds o's look-up of its connections by organisation: the
// first connection to each, as conn would find it by a scan.
func (o *org) indexConns() {
	o.connTo = make(map[string]*connection, len(o.conns))
	for _, c := range o.conns {
		if o.connTo[c.orgID] == nil {
			o.connTo[c.orgID] = c
		}
	}
}

// addConn appends a connection of o.
func (o *org) addConn(c *connection) {
	o.conns = append(o.conns, c)
	if o.connTo == nil {
		o.connTo = map[string]*connection{}
	}
	if o.connTo[c.orgID] == nil {
		o.connTo[c.orgID] = c
	}
}

// indexUser files a new user (its ord set) under its e-mail address, phone,
// login id and organisation.
func (st *state) indexUser(u *user) {
	st.orgUsers[u.orgID] = insertByOrd(st.orgUsers[u.orgID], u)
	st.byAuthID[u.u.AuthPlatformID] = insertByOrd(st.byAuthID[u.u.AuthPlatformID], u)
	st.reindexUser(u)
}

// reindexUser files u under its current e-mail address and phone, moving it
// from those it was filed under. Call it after changing either.
func (st *state) reindexUser(u *user) {
	if k := foldKey(u.u.Email); !u.emailIndexed || k != u.emailKey {
		if u.emailIndexed {
			dropUser(st.byEmail, u.emailKey, u)
		}
		st.byEmail[k] = insertByOrd(st.byEmail[k], u)
		u.emailKey, u.emailIndexed = k, true
	}
	var p customerapi.Phone
	has := u.u.Phone != nil
	if has {
		p = *u.u.Phone
	}
	if has == u.phoneIndexed && p == u.phoneKey {
		return
	}
	if u.phoneIndexed {
		dropUser(st.byPhone, u.phoneKey, u)
	}
	if has {
		st.byPhone[p] = insertByOrd(st.byPhone[p], u)
	}
	u.phoneKey, u.phoneIndexed = p, has
}

func (st *state) unindexUser(u *user) {
	dropUser(st.orgUsers, u.orgID, u)
	dropUser(st.byAuthID, u.u.AuthPlatformID, u)
	if u.emailIndexed {
		dropUser(st.byEmail, u.emailKey, u)
		u.emailIndexed = false
	}
	if u.phoneIndexed {
		dropUser(st.byPhone, u.phoneKey, u)
		u.phoneIndexed = false
	}
}

// setEmail changes u's e-mail address.
func (st *state) setEmail(u *user, email string) {
	u.u.Email = email
	st.reindexUser(u)
}

// setPhone changes u's phone.
func (st *state) setPhone(u *user, p *customerapi.Phone) {
	u.u.Phone = p
	st.reindexUser(u)
}

// dropUser removes u from m[k], and the key when nothing is left under it.
func dropUser[K comparable](m map[K][]*user, k K, u *user) {
	if l := remove(m[k], u); len(l) > 0 {
		m[k] = l
	} else {
		delete(m, k)
	}
}

// insertByOrd inserts u into l, which is in creation (userList) order.
func insertByOrd(l []*user, u *user) []*user {
	i, _ := slices.BinarySearchFunc(l, u.ord, func(x *user, ord int) int { return x.ord - ord })
	return slices.Insert(l, i, u)
}

// remove returns l without x (the slice is changed in place).
func remove[T comparable](l []T, x T) []T {
	if i := slices.Index(l, x); i >= 0 {
		return slices.Delete(l, i, i+1)
	}
	return l
}

// addBU files a business unit under its organisation, in ordinal order
// (after units with the same ordinal).
func (st *state) addBU(b *bu) {
	l := st.busByOrg[b.orgID]
	i := sort.Search(len(l), func(i int) bool { return l[i].ordinal > b.ordinal })
	st.busByOrg[b.orgID] = slices.Insert(l, i, b)
}

// certIndex finds certificates (by position in state.certs) by the holding
// numbers and normalised postcodes of their sites, and by identifier.
type certIndex struct {
	byHolding  map[string][]int // site identifier → positions, ascending
	byPostcode map[string][]int // normPostcode(site postcode) → positions, ascending
	byID       map[string]int   // CertificateIdentifier → last position with it
}

// certKeys returns the distinct holding numbers and normalised postcodes of c's sites.
func certKeys(c customerapi.Certificate) (holdings, postcodes []string) {
	for _, site := range c.CertifiedSites {
		if site.SiteIdentifiers != nil && !slices.Contains(holdings, site.SiteIdentifiers.Identifier) {
			holdings = append(holdings, site.SiteIdentifiers.Identifier)
		}
		if pc := normPostcode(site.SitePostcode); !slices.Contains(postcodes, pc) {
			postcodes = append(postcodes, pc)
		}
	}
	return holdings, postcodes
}

func insertInt(l []int, i int) []int {
	at, found := slices.BinarySearch(l, i)
	if found {
		return l
	}
	return slices.Insert(l, at, i)
}

func removeInt(m map[string][]int, k string, i int) {
	l := m[k]
	if at, found := slices.BinarySearch(l, i); found {
		l = slices.Delete(l, at, at+1)
	}
	if len(l) == 0 {
		delete(m, k)
	} else {
		m[k] = l
	}
}

// setCerts replaces the certificates and rebuilds their index.
func (st *state) setCerts(certs []customerapi.Certificate) {
	st.certs = certs
	st.certIdx = certIndex{byHolding: map[string][]int{}, byPostcode: map[string][]int{}, byID: map[string]int{}}
	for i, c := range certs {
		st.indexCert(i, c)
	}
}

func (st *state) indexCert(i int, c customerapi.Certificate) {
	hs, pcs := certKeys(c)
	for _, h := range hs {
		st.certIdx.byHolding[h] = insertInt(st.certIdx.byHolding[h], i)
	}
	for _, pc := range pcs {
		st.certIdx.byPostcode[pc] = insertInt(st.certIdx.byPostcode[pc], i)
	}
	if c.CertificateIdentifier != "" {
		st.certIdx.byID[c.CertificateIdentifier] = i
	}
}

// putCert replaces the certificate at position i, or appends c with i ==
// len(st.certs). A replacement keeps the certificate's identifier.
func (st *state) putCert(i int, c customerapi.Certificate) {
	if i == len(st.certs) {
		st.certs = append(st.certs, c)
		st.indexCert(i, c)
		return
	}
	hs, pcs := certKeys(st.certs[i])
	for _, h := range hs {
		removeInt(st.certIdx.byHolding, h, i)
	}
	for _, pc := range pcs {
		removeInt(st.certIdx.byPostcode, pc, i)
	}
	st.certs[i] = c
	st.indexCert(i, c)
}
