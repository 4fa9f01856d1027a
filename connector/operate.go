package connector

import "context"

// The operator's actions that both the admin API and the status page
// offer, written once (pause and resume are SetPaused; a replay is
// ReplayDeadLetters).

// startSync starts the ERP scans and each platform's change source now, in
// the background (ErrPaused while the schedules are paused).
func (c *Connector) startSync() error {
	if c.Paused() {
		return ErrPaused
	}
	c.background("sync", func(ctx context.Context) error { return c.SyncOnce(ctx) })
	return nil
}

// startResync starts (or resumes) a full resync of a target (one,
// customer_api, or all / empty: every configured platform) in the
// background.
func (c *Connector) startResync(target string) error {
	targets, err := c.Targets(target)
	if err != nil {
		return err
	}
	c.background("resync", func(ctx context.Context) error { _, err := c.Resync(ctx, targets...); return err })
	return nil
}
