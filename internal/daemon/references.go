package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/config"
	"github.com/erpconnector/erpconnector/oneapi"
	"github.com/erpconnector/erpconnector/oneapi/oneapitest"
)

// References are the embedded reference servers of a demo configuration.
type References struct {
	one     *oneapitest.Server
	cust    *customerapitest.Server
	servers []*http.Server
}

// StartReferences serves the reference servers a configuration asks for
// (reference.enabled) and points the configuration at their bound
// addresses. Without them it returns References that hold nothing.
func StartReferences(f *config.File, log *slog.Logger) (*References, error) {
	r := &References{}
	if !f.Reference.Enabled {
		return r, nil
	}
	ref := f.Reference
	dir := filepath.Dir(f.Connector().StatePath)
	var oneURL, custURL string
	if ref.ONeListen != "" {
		one, err := oneapitest.NewServer(oneapitest.Options{Tenants: map[string]string{ref.ONeTenant: ref.ONeAPIKey},
			Seed: ref.Seed, StatePath: filepath.Join(dir, "reference-one.json"), Logger: log})
		if err != nil {
			return nil, fmt.Errorf("ONe reference API: %w", err)
		}
		r.one = one
		if oneURL, err = r.serve("ONe reference API", ref.ONeListen, one, log); err != nil {
			r.Close(context.Background())
			return nil, err
		}
	}
	if ref.CustomerListen != "" {
		cust, err := customerapitest.Open(customerapitest.Options{Users: map[string]string{ref.CustomerUser: ref.CustomerPassword},
			Seed: ref.Seed, StatePath: filepath.Join(dir, "reference-customer.json"), Logger: log})
		if err != nil {
			r.Close(context.Background())
			return nil, fmt.Errorf("Customer reference API: %w", err)
		}
		r.cust = cust
		if custURL, err = r.serve("Customer reference API", ref.CustomerListen, r.cust, log); err != nil {
			r.Close(context.Background())
			return nil, err
		}
	}
	f.SetReferenceURLs(oneURL, custURL)
	return r, nil
}

func (r *References) serve(name, addr string, h http.Handler, log *slog.Logger) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s: listen %s: %w", name, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	r.servers = append(r.servers, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("reference server stopped", "server", name, "err", err)
		}
	}()
	url := "http://" + ln.Addr().String()
	log.Info("reference server listening", "server", name, "url", url)
	return url, nil
}

// Close stops the servers and saves their data.
func (r *References) Close(ctx context.Context) {
	for _, s := range r.servers {
		_ = s.Shutdown(ctx)
	}
	if r.one != nil {
		_ = r.one.Close()
	}
	if r.cust != nil {
		_ = r.cust.Close()
	}
}

// registerStorefrontClients registers n demo clients through the reference
// storefront, so the demo shows customers flowing from ONe into the ERP.
func (r *References) registerStorefrontClients(tenant string, n int, log *slog.Logger) {
	if r.one == nil || n <= 0 {
		return
	}
	names := []string{"Sklep Ogrodniczy Zielony Zakątek", "Hurtownia Budowlana Mur-Bud", "Piekarnia Pod Lipami",
		"Kwiaciarnia Różany Ogród", "Apteka Pod Orłem"}
	for i := range n {
		name := names[i%len(names)]
		phone := "+48 22 100 20 " + fmt.Sprintf("%02d", i%100)
		w := oneapi.ClientWrite{CustomerType: oneapi.CustomerCompany, Name: name, Tin: fmt.Sprintf("52130172%02d", i%100), TinCode: "PL",
			Phone: phone,
			Address: &oneapi.Address{City: "Warszawa", Country: "Polska", ExternalID: fmt.Sprintf("web-%d", i), Name: name,
				Phone: phone, Street: fmt.Sprintf("Marszałkowska %d", 10+i), ZipCode: "00-590"}}
		resp, err := r.one.StorefrontCreate(tenant, oneapi.ContextApplication, w)
		if err != nil {
			log.Error("demo storefront registration", "err", err)
			continue
		}
		log.Info("demo: a customer registered in the ONe storefront", "client_id", resp.ClientID, "name", name)
	}
}

// publishFarmCertificates publishes Red Tractor certificates on the reference
// Customer API for two of every three demo farms, so the demo shows
// certificate status flowing into the ERP (the others come back Expired).
func (r *References) publishFarmCertificates(ctx context.Context, a erp.Adapter, log *slog.Logger) {
	lister, ok := a.(erp.KeyLister)
	if r.cust == nil || !ok {
		return
	}
	keys, err := lister.ListKeys(ctx, "", 10000)
	if err != nil {
		log.Warn("demo certificates", "err", err)
		return
	}
	n := 0
	for i, key := range keys {
		it, err := a.Get(ctx, key)
		if err != nil || it.Customer.Farm.HoldingNumber == "" || i%3 == 0 {
			continue
		}
		f := it.Customer.Farm
		r.cust.AddCertificates(customerapi.Certificate{
			CertificateStatus:      customerapi.CertificateValid,
			CertificateIdentifier:  fmt.Sprintf("DEMO%06d.%s", i, strings.ReplaceAll(f.HoldingNumber, "/", "")),
			CertificateEnterprises: []customerapi.CertificateEnterprise{{EnterpriseIdentifier: fmt.Sprintf("ENT%06d", i), Enterprise: "Combinable Crops"}},
			CertificateExpiryDate:  time.Now().UTC().AddDate(0, 8, 0).Format("2006-01-02") + "T00:00:00.000+00:00",
			CertifiedSites: []customerapi.CertifiedSite{{
				SiteIdentifiers: &customerapi.SiteIdentifier{IdentifierType: "holdingno", Identifier: f.HoldingNumber},
				IsPrimary:       true, SiteCountry: "GBR", SitePostcode: it.Customer.Billing.Postcode,
				SiteName: it.Customer.Name, SiteAddress: it.Customer.Billing.Street + ", " + it.Customer.Billing.Postcode,
			}},
		})
		n++
	}
	if n > 0 {
		log.Info("demo: Red Tractor certificates published for the demo farms", "farms", n)
	}
}
