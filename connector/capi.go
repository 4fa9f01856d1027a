package connector

import (
	"context"
	"errors"

	bolt "go.etcd.io/bbolt"

	"github.com/erpconnector/erpconnector/erp"
	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/queue"
)

// Job types of the Customer API pipelines.
const (
	jobCAPIPush = "capi.push" // ERP → Customer API: organisation (+ farm business unit)
	jobCAPIPull = "capi.pull" // Customer API → ERP: one organisation
	jobCAPICert = "capi.cert" // Red Tractor certificate enrichment of one ERP customer
)

// errCAPINotBuilt is returned while the Customer API pipelines are being built.
var errCAPINotBuilt = errors.New("connector: the Customer API pipeline is not built yet")

func (c *Connector) planCAPI(tx *bolt.Tx, it erp.Item, kind scanKind, lane queue.Lane) (*queue.Job, error) {
	return nil, nil
}

func (c *Connector) pullCAPI(ctx context.Context) (int, error) { return 0, errCAPINotBuilt }

func (c *Connector) refreshCertificates(ctx context.Context) (int, error) { return 0, errCAPINotBuilt }

func (c *Connector) handleCAPI(ctx context.Context, job queue.Job) error {
	return apierr.Permanently(errCAPINotBuilt)
}
