package customerapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/erpconnector/erpconnector/internal/apierr"
)

// ErrChallenge is returned when login meets a challenge the client cannot answer
// (for example NEW_PASSWORD_REQUIRED without Credentials.NewPassword).
var ErrChallenge = errors.New("login challenge not answered")

// TokenSource holds the client's bearer token. It logs in on first use,
// refreshes ahead of expiry, and lets any number of concurrent callers share
// one login or refresh. It is safe for concurrent use.
type TokenSource struct {
	c             *Client
	refreshBefore time.Duration

	mu       sync.Mutex
	creds    Credentials
	access   string
	refresh  string
	expiry   time.Time
	inflight *tokenCall
}

type tokenCall struct {
	done   chan struct{}
	access string
	err    error
}

func newTokenSource(c *Client, creds Credentials, refreshBefore time.Duration) *TokenSource {
	return &TokenSource{c: c, creds: creds, refreshBefore: refreshBefore}
}

// String never shows a token.
func (ts *TokenSource) String() string { return "customerapi.TokenSource{redacted}" }

// Token returns a valid access token, logging in or refreshing when the
// current one is missing or about to expire. Concurrent callers share one
// login or refresh.
func (ts *TokenSource) Token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	if ts.access != "" && ts.c.now().Before(ts.expiry) {
		t := ts.access
		ts.mu.Unlock()
		return t, nil
	}
	call := ts.inflight
	if call == nil {
		call = &tokenCall{done: make(chan struct{})}
		ts.inflight = call
		refresh := ts.refresh
		creds := ts.creds
		ts.mu.Unlock()
		// The fetch outlives any one caller's cancellation: others may wait on it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ts.c.hc.Timeout*2+time.Second)
		go func() {
			defer cancel()
			ts.fetch(fctx, call, refresh, creds)
		}()
	} else {
		ts.mu.Unlock()
	}
	select {
	case <-call.done:
		return call.access, call.err
	case <-ctx.Done():
		return "", fmt.Errorf("token: %w", ctx.Err())
	}
}

// Invalidate marks token as refused, so the next Token call fetches a new
// one. A token other than the current one is ignored (it was already replaced).
func (ts *TokenSource) Invalidate(token string) {
	ts.mu.Lock()
	if token != "" && token == ts.access {
		ts.access = ""
	}
	ts.mu.Unlock()
}

func (ts *TokenSource) fetch(ctx context.Context, call *tokenCall, refresh string, creds Credentials) {
	var tok *Tokens
	var err error
	if refresh != "" {
		tok, err = ts.c.RefreshTokens(ctx, refresh)
		if err != nil {
			st := apierr.StatusOf(err)
			if st == http.StatusUnauthorized || st == http.StatusBadRequest || st == http.StatusForbidden {
				ts.c.log.DebugContext(ctx, "refresh refused, logging in again", "status", st)
				tok, err = nil, nil
			}
		}
	}
	if tok == nil && err == nil {
		tok, creds, err = ts.login(ctx, creds)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.inflight = nil
	if err != nil {
		if st := apierr.StatusOf(err); st == http.StatusUnauthorized || st == http.StatusForbidden ||
			st == http.StatusBadRequest || errors.Is(err, ErrChallenge) {
			// The user, password or API token is refused.
			err = apierr.CredentialsRefused(err)
		}
		call.err = fmt.Errorf("token: %w", err)
		ts.c.log.DebugContext(ctx, "token fetch failed", "err", err)
		close(call.done)
		return
	}
	ts.creds = creds
	ts.access = tok.Access
	if tok.Refresh != "" {
		ts.refresh = tok.Refresh
	}
	life := time.Duration(tok.ExpiresIn * float64(time.Second))
	ahead := ts.refreshBefore
	if ahead <= 0 {
		ahead = min(life/10, time.Minute)
	}
	ts.expiry = ts.c.now().Add(life - ahead)
	call.access = tok.Access
	ts.c.log.DebugContext(ctx, "token obtained", "expires_in", life)
	close(call.done)
}

func (ts *TokenSource) login(ctx context.Context, creds Credentials) (*Tokens, Credentials, error) {
	if creds.APIToken != "" {
		p, err := ts.c.AuthenticateAPIToken(ctx, creds.APIToken)
		if err != nil {
			return nil, creds, err
		}
		if p.Tokens == nil || p.Tokens.Access == "" {
			return nil, creds, apierr.Permanently(errors.New("api token authentication returned no tokens"))
		}
		return p.Tokens, creds, nil
	}
	lr, err := ts.c.Login(ctx, LoginRequest{Username: creds.Username, Password: creds.Password})
	if err != nil && creds.NewPassword != "" && apierr.StatusOf(err) == http.StatusUnauthorized {
		// The challenge may have been answered already: the new password is the password now.
		lr, err = ts.c.Login(ctx, LoginRequest{Username: creds.Username, Password: creds.NewPassword})
		if err == nil {
			creds.Password, creds.NewPassword = creds.NewPassword, ""
		}
	}
	if err != nil {
		return nil, creds, err
	}
	if lr.Challenge != nil && lr.Tokens == nil {
		if lr.Challenge.ChallengeName != ChallengeNewPasswordRequired || creds.NewPassword == "" {
			return nil, creds, apierr.Permanently(fmt.Errorf("%w: %s", ErrChallenge, lr.Challenge.ChallengeName))
		}
		lr, err = ts.c.Login(ctx, LoginRequest{Username: creds.Username, Password: creds.Password, NewPassword: creds.NewPassword})
		if err != nil {
			return nil, creds, err
		}
		creds.Password, creds.NewPassword = creds.NewPassword, ""
	}
	if lr.Tokens == nil || lr.Tokens.Access == "" {
		return nil, creds, apierr.Permanently(errors.New("login returned no tokens"))
	}
	return lr.Tokens, creds, nil
}
