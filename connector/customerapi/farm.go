package customerapi

import (
	"context"
	"fmt"

	capi "github.com/erpconnector/erpconnector/customerapi"

	"github.com/erpconnector/erpconnector/internal/apierr"
	"github.com/erpconnector/erpconnector/mapping"
)

// pushFarm sends a farm customer's farm business unit in organisation
// orgID: an update of cur (the unit read with the organisation), else a
// create; a unit the platform refuses as a duplicate, or one that is gone,
// is looked up by name and adopted. It returns the unit as the platform
// answered it.
func (p *Platform) pushFarm(ctx context.Context, orgID string, cur *capi.BusinessUnit, c mapping.Customer) (*capi.BusinessUnit, error) {
	c.PlatformIDs.CustomerAPI = orgID
	if cur != nil {
		u, err := p.updateFarm(ctx, cur, c)
		if err == nil || !apierr.IsNotFound(err) {
			return u, err
		}
		p.log.Info("farm business unit is gone; creating it again", "erp_key", c.ERPKey, "business_unit_id", cur.ID)
	}
	req, _ := mapping.ToCustomerAPIFarm(c)
	created, err := p.api.CreateBusinessUnit(ctx, req)
	if err == nil {
		return created, nil
	}
	if !apierr.IsConflict(err) {
		return nil, err
	}
	u, ferr := p.findFarm(ctx, orgID, c.Name)
	if ferr != nil {
		return nil, ferr
	}
	if u == nil {
		return nil, err
	}
	p.log.Info("adopting the farm business unit", "erp_key", c.ERPKey, "business_unit_id", u.ID)
	return p.updateFarm(ctx, u, c)
}

// updateFarm updates a farm business unit with c's farm, keeping what the
// platform holds beside it (the business's location and management tags),
// and returns the unit as the platform answered it.
func (p *Platform) updateFarm(ctx context.Context, u *capi.BusinessUnit, c mapping.Customer) (*capi.BusinessUnit, error) {
	patch, _ := mapping.ToCustomerAPIFarmPatch(c)
	if b := u.Business; b != nil && patch.Business != nil {
		patch.Business.LocationTag, patch.Business.ManagementTag = b.LocationTag, b.ManagementTag
	}
	updated, err := p.api.UpdateBusinessUnit(ctx, u.ID, patch)
	if err != nil {
		return nil, err
	}
	return updated, nil
}

// findFarm returns the farm business unit of an organisation (the one
// named name first), or nil.
func (p *Platform) findFarm(ctx context.Context, orgID, name string) (*capi.BusinessUnit, error) {
	units, err := p.api.BusinessUnits(ctx, orgID, nil)
	if err != nil {
		return nil, fmt.Errorf("customerapi: look up the farm of organisation %s: %w", orgID, err)
	}
	return mapping.FarmBusinessUnit(units.BusinessUnits, name), nil
}
