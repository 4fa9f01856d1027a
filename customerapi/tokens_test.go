package customerapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/erpconnector/erpconnector/customerapi"
	"github.com/erpconnector/erpconnector/customerapi/customerapitest"
	"github.com/erpconnector/erpconnector/internal/apierr"
)

func TestAPITokenFlow(t *testing.T) {
	f := newFixture(t, true, customerapitest.Options{TokenTTL: time.Minute})
	owner := f.owner()
	ctx := context.Background()
	ownerID := f.srv.UserID(ownerEmail)

	tok, err := owner.GenerateAPIToken(ctx, customerapi.GenerateAPITokenRequest{UserID: ownerID, Hours: 24, Roles: []string{"owner"}})
	if err != nil || tok == "" {
		t.Fatalf("generate: %q, %v", tok, err)
	}
	c := f.client(customerapi.Credentials{APIToken: tok})
	p, err := c.Profile(ctx)
	if err != nil || p.User.ID != ownerID {
		t.Fatalf("profile via api token = %+v, %v", p, err)
	}
	if f.count("authenticateApiToken") != 1 {
		t.Fatalf("authenticateApiToken = %d", f.count("authenticateApiToken"))
	}
	// Expiry of the session: the client refreshes with the refresh token it got.
	f.cliClock.Advance(2 * time.Minute)
	f.srvClock.Advance(2 * time.Minute)
	if _, err := c.Profile(ctx); err != nil {
		t.Fatal(err)
	}
	if f.count("refreshTokens") != 1 {
		t.Fatalf("refreshTokens = %d", f.count("refreshTokens"))
	}

	// A read-only ApiToken can read but not write: 403.
	if _, _, err := f.srv.AddUser(customerapitest.UserSpec{}); err == nil {
		t.Fatal("AddUser without email must fail")
	}
	uid, _, err := f.srv.AddUser(customerapitest.UserSpec{Email: "reader@example.com", Password: "Read3rPass", Roles: []string{"readonly"},
		OrganisationID: f.srv.OrganisationID(ownerEmail)})
	if err != nil {
		t.Fatal(err)
	}
	ro, err := owner.GenerateAPIToken(ctx, customerapi.GenerateAPITokenRequest{UserID: uid, Hours: 1, Roles: []string{"readonly"}})
	if err != nil {
		t.Fatal(err)
	}
	reader := f.client(customerapi.Credentials{APIToken: ro})
	if _, err := reader.ListOrganisations(ctx, customerapi.OrganisationQuery{}); err != nil {
		t.Fatalf("read-only list: %v", err)
	}
	name := "Renamed"
	_, err = reader.UpdateOrganisation(ctx, f.srv.OrganisationID(ownerEmail), customerapi.UpdateOrganisationRequest{Name: &name})
	if apierr.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("read-only write: %v", err)
	}
	// Roles the user does not hold cannot be put into a token.
	if _, err := owner.GenerateAPIToken(ctx, customerapi.GenerateAPITokenRequest{UserID: uid, Hours: 1, Roles: []string{"owner"}}); apierr.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("escalating token: %v", err)
	}
	// Another organisation's owner cannot mint tokens for this user.
	other := f.client(customerapi.Credentials{Username: otherEmail, Password: otherPass})
	if _, err := other.GenerateAPIToken(ctx, customerapi.GenerateAPITokenRequest{UserID: uid, Hours: 1, Roles: []string{"readonly"}}); apierr.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("foreign token: %v", err)
	}
	// An ApiToken expires after its hours.
	f.srvClock.Advance(2 * time.Hour)
	f.cliClock.Advance(2 * time.Hour)
	late := f.client(customerapi.Credentials{APIToken: ro})
	if _, err := late.Profile(ctx); apierr.StatusOf(err) != http.StatusUnauthorized {
		t.Fatalf("expired api token: %v", err)
	}
}

// TestSecretsNeverShown drives logins, refreshes, 401 retries and failures
// with debug logging on and checks no password or token leaks.
func TestSecretsNeverShown(t *testing.T) {
	f := newFixture(t, true, customerapitest.Options{TokenTTL: time.Minute})
	ctx := context.Background()
	owner := f.owner()
	tok, err := owner.GenerateAPIToken(ctx, customerapi.GenerateAPITokenRequest{UserID: f.srv.UserID(ownerEmail), Hours: 1, Roles: []string{"owner"}})
	if err != nil {
		t.Fatal(err)
	}
	creds := customerapi.Credentials{Username: ownerEmail, Password: ownerPass, NewPassword: "S3cretNew!"}
	c := f.client(creds)
	var errs []string
	if _, err := c.Profile(ctx); err != nil {
		t.Fatal(err)
	}
	f.srvClock.Advance(2 * time.Minute)
	if _, err := c.Profile(ctx); err != nil {
		t.Fatal(err)
	}
	bad := f.client(customerapi.Credentials{Username: ownerEmail, Password: "Wr0ngPassword!"})
	if _, err := bad.Profile(ctx); err != nil {
		errs = append(errs, err.Error())
	}
	badTok := f.client(customerapi.Credentials{APIToken: tok + "x"})
	if _, err := badTok.Profile(ctx); err != nil {
		errs = append(errs, err.Error())
	}
	down, _ := customerapi.New(customerapi.Options{BaseURL: "http://127.0.0.1:1", Credentials: creds, Timeout: time.Second})
	if _, err := down.Profile(ctx); err != nil {
		errs = append(errs, err.Error())
	}
	shown := strings.Join(errs, "\n") + "\n" + logsOf(f) + "\n" +
		fmt.Sprintf("%v %+v %#v %s", creds, creds, creds, customerapi.Credentials{APIToken: tok}) +
		fmt.Sprintf("%v %+v", customerapi.Tokens{Access: "at_visible", Refresh: "rt_visible"}, customerapi.LoginRequest{Username: "u", Password: "Wr0ngPassword!"}) +
		fmt.Sprintf("%v", c.Tokens())
	if len(errs) != 3 {
		t.Fatalf("want three failures, got %v", errs)
	}
	if !strings.Contains(logsOf(f), "token") {
		t.Fatal("expected debug logs about tokens (the test must look at something)")
	}
	for _, secret := range []string{ownerPass, "S3cretNew!", "Wr0ngPassword!", tok, "at_", "rt_", "hat_", "at_visible"} {
		if strings.Contains(shown, secret) {
			t.Errorf("secret %q shown in:\n%s", secret, shown)
		}
	}
}

func logsOf(f *fixture) string {
	logMu.Lock()
	defer logMu.Unlock()
	return f.logs.String()
}
