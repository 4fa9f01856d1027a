package customerapitest

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/erpconnector/erpconnector/customerapi"
)

// checkPassword applies the platform's password policy: at least 8
// characters with an upper-case letter, a lower-case letter and a digit.
func checkPassword(f *fieldErrs, field, p string) {
	if p == "" {
		f.add(field, "is required")
		return
	}
	var up, low, dig bool
	for _, r := range p {
		up = up || unicode.IsUpper(r)
		low = low || unicode.IsLower(r)
		dig = dig || unicode.IsDigit(r)
	}
	if len(p) < 8 || !up || !low || !dig {
		f.add(field, "must have at least 8 characters with upper-case, lower-case and a digit")
	}
}

func (st *state) findLogin(username string) *user {
	username = strings.TrimSpace(username)
	if u := st.userByEmail(username); u != nil {
		return u
	}
	// The first user (in userList order) with this login id or user id.
	var first *user
	for _, u := range st.byAuthID[username] {
		if u.u.AuthPlatformID == username {
			first = u
			break
		}
	}
	if u := st.users[username]; u != nil && (first == nil || u.ord < first.ord) {
		first = u
	}
	if first != nil {
		return first
	}
	if p, err := customerapi.ParsePhone(username, ""); err == nil {
		return st.userByPhone(p)
	}
	return nil
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ *caller) {
	var req customerapi.LoginRequest
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("username", req.Username)
	f.required("password", req.Password)
	if f.write(w) {
		return
	}
	u := s.st.findLogin(req.Username)
	if u == nil || u.password != req.Password {
		writeErr(w, http.StatusUnauthorized, "incorrect username or password")
		return
	}
	if u.pending {
		forbidden(w, "user is not confirmed")
		return
	}
	if u.temporary {
		if req.NewPassword == "" {
			ok(w, customerapi.LoginResponse{Challenge: &customerapi.AuthChallenge{
				Session:       s.st.secret("sess_"),
				ChallengeName: customerapi.ChallengeNewPasswordRequired,
				ChallengeParameters: customerapi.ChallengeParameters{
					MissingAttributes: []string{}, AuthPlatformID: u.u.AuthPlatformID},
			}})
			return
		}
		checkPassword(&f, "newPassword", req.NewPassword)
		if f.write(w) {
			return
		}
		u.password, u.temporary = req.NewPassword, false
	}
	t := s.st.issue(u, u.u.Roles)
	ok(w, customerapi.LoginResponse{Tokens: &t})
}

func (s *Server) refreshTokens(w http.ResponseWriter, r *http.Request, _ *caller) {
	var req struct {
		Refresh string `json:"refresh"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("refresh", req.Refresh)
	if f.write(w) {
		return
	}
	sess := s.st.refreshes[req.Refresh]
	if sess == nil || !s.now().Before(sess.expires) {
		writeErr(w, http.StatusUnauthorized, "invalid refresh token")
		return
	}
	u := s.st.users[sess.userID]
	if u == nil {
		writeErr(w, http.StatusUnauthorized, "invalid refresh token")
		return
	}
	t := s.st.issue(u, sess.roles)
	delete(s.st.refreshes, t.Refresh)
	t.Refresh = req.Refresh
	ok(w, customerapi.LoginResponse{Tokens: &t})
}

func (s *Server) authenticateAPIToken(w http.ResponseWriter, r *http.Request, _ *caller) {
	var req struct {
		Token string `json:"token"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("token", req.Token)
	if f.write(w) {
		return
	}
	at := s.st.apiTokens[req.Token]
	if at == nil || !s.now().Before(at.expires) {
		writeErr(w, http.StatusUnauthorized, "invalid or expired api token")
		return
	}
	u := s.st.users[at.userID]
	if u == nil {
		writeErr(w, http.StatusUnauthorized, "invalid or expired api token")
		return
	}
	t := s.st.issue(u, at.roles)
	p := s.profile(&caller{u: u, orgID: u.orgID, roles: at.roles})
	p.Tokens = &t
	ok(w, p)
}

func (s *Server) generateAPIToken(w http.ResponseWriter, r *http.Request, c *caller) {
	var req customerapi.GenerateAPITokenRequest
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("userId", req.UserID)
	if req.Hours <= 0 || req.Hours > 24*366 {
		f.add("hours", "must be more than 0 and at most 8784")
	}
	if len(req.Roles) == 0 {
		f.add("roles", "is required")
	}
	if f.write(w) {
		return
	}
	u := s.userFor(w, c, req.UserID)
	if u == nil {
		return
	}
	if u.id != c.u.id && !(c.owner() && (u.orgID == c.orgID || c.admin())) {
		forbidden(w, "only the user or a team owner may generate its api tokens")
		return
	}
	for i, role := range req.Roles {
		if !slices.Contains(u.u.Roles, role) || (!c.owner() && !slices.Contains(c.roles, role)) {
			f.add("roles["+itoa(i)+"]", "the user does not hold role "+role)
		}
	}
	if len(f) > 0 {
		refhttpFieldErrs(w, http.StatusForbidden, "roles not held", f)
		return
	}
	tok := s.st.secret("hat_")
	s.st.apiTokens[tok] = &apiToken{userID: u.id, roles: slices.Clone(req.Roles),
		expires: s.now().Add(time.Duration(req.Hours * float64(time.Hour)))}
	ok(w, customerapi.Message{Message: tok, Status: "ok"})
}

func (s *Server) adminResetPassword(w http.ResponseWriter, r *http.Request, c *caller) {
	var req struct {
		Username string `json:"username"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("username", req.Username)
	if f.write(w) {
		return
	}
	if !c.admin() {
		forbidden(w, "administrators only")
		return
	}
	u := s.st.findLogin(req.Username)
	if u == nil {
		writeErr(w, http.StatusNotFound, "user not found")
		return
	}
	u.password, u.temporary = "Tmp"+s.st.digits(6)+"x", true
	s.st.send(u.u.Email, "temporary-password", u.password, "Your temporary password")
	msg(w, "password reset; a temporary password was sent")
}

func (s *Server) adminSetPassword(w http.ResponseWriter, r *http.Request, c *caller) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("username", req.Username)
	checkPassword(&f, "password", req.Password)
	if f.write(w) {
		return
	}
	if !c.admin() {
		forbidden(w, "administrators only")
		return
	}
	u := s.st.findLogin(req.Username)
	if u == nil {
		writeErr(w, http.StatusNotFound, "user not found")
		return
	}
	u.password, u.temporary = req.Password, false
	msg(w, "password set")
}

type changePasswordRequest struct {
	Email              string `json:"email"`
	OldPassword        string `json:"oldPassword"`
	NewPassword        string `json:"newPassword"`
	ConfirmNewPassword string `json:"confirmNewPassword"`
}

func (s *Server) checkChange(w http.ResponseWriter, req changePasswordRequest, u *user) bool {
	var f fieldErrs
	f.required("oldPassword", req.OldPassword)
	checkPassword(&f, "newPassword", req.NewPassword)
	if req.ConfirmNewPassword != req.NewPassword {
		f.add("confirmNewPassword", "must equal newPassword")
	}
	if len(f) == 0 && (u == nil || u.password != req.OldPassword) {
		f.add("oldPassword", "is not the current password")
	}
	return !f.write(w)
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, c *caller) {
	var req changePasswordRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Email != "" && !strings.EqualFold(req.Email, c.u.u.Email) {
		forbidden(w, "may only change your own password")
		return
	}
	if !s.checkChange(w, req, c.u) {
		return
	}
	c.u.password, c.u.temporary = req.NewPassword, false
	msg(w, "password changed")
}

func (s *Server) changeMarketplacePassword(w http.ResponseWriter, r *http.Request, _ *caller) {
	var req changePasswordRequest
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("email", req.Email)
	if f.write(w) {
		return
	}
	u := s.st.userByEmail(req.Email)
	if !s.checkChange(w, req, u) {
		return
	}
	u.password, u.temporary = req.NewPassword, false
	t := s.st.issue(u, u.u.Roles)
	ok(w, customerapi.LoginResponse{Tokens: &t})
}

func (s *Server) forgottenPassword(w http.ResponseWriter, r *http.Request, _ *caller) {
	var req struct {
		Username string `json:"username"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("username", req.Username)
	if f.write(w) {
		return
	}
	if u := s.st.findLogin(req.Username); u != nil {
		u.resetCode = s.st.digits(6)
		s.st.send(u.u.Email, "reset-password", u.resetCode, "Your password reset code")
	}
	// The same answer whether or not the user exists.
	msg(w, "if the user exists, a reset code was sent")
}

func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request, _ *caller) {
	var req struct {
		Username         string `json:"username"`
		Password         string `json:"password"`
		PasswordConfirm  string `json:"passwordConfirm"`
		ConfirmationCode string `json:"confirmationCode"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("username", req.Username)
	checkPassword(&f, "password", req.Password)
	if req.PasswordConfirm != req.Password {
		f.add("passwordConfirm", "must equal password")
	}
	f.required("confirmationCode", req.ConfirmationCode)
	if f.write(w) {
		return
	}
	u := s.st.findLogin(req.Username)
	if u == nil || u.resetCode == "" || u.resetCode != req.ConfirmationCode {
		f.add("confirmationCode", "is invalid or expired")
		f.write(w)
		return
	}
	u.password, u.temporary, u.resetCode = req.Password, false, ""
	msg(w, "password reset")
}

func (s *Server) confirmSignup(w http.ResponseWriter, r *http.Request, _ *caller) {
	var req struct {
		Username         string `json:"username"`
		ConfirmationCode string `json:"confirmationCode"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("username", req.Username)
	f.required("confirmationCode", req.ConfirmationCode)
	if f.write(w) {
		return
	}
	u := s.st.findLogin(req.Username)
	if u == nil || !u.pending || u.signup != req.ConfirmationCode {
		f.add("confirmationCode", "is invalid, or the user is already confirmed")
		f.write(w)
		return
	}
	u.pending, u.signup = false, ""
	u.u.Status = "active"
	msg(w, "signup confirmed")
}

func (s *Server) sendMagicLink(w http.ResponseWriter, r *http.Request, _ *caller) {
	var req struct {
		ID       string `json:"id"`
		Redirect string `json:"redirect"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("id", req.ID)
	if u, err := url.Parse(req.Redirect); req.Redirect == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		f.add("redirect", "must be an absolute http(s) URL")
	}
	if f.write(w) {
		return
	}
	u := s.st.users[req.ID]
	if u == nil {
		writeErr(w, http.StatusNotFound, "user not found")
		return
	}
	lookup := s.st.id("ml-")
	s.st.magic[lookup] = u.id
	s.st.send(u.u.Email, "magic-link", lookup, req.Redirect+"?id="+lookup)
	msg(w, "magic link sent")
}

func (s *Server) verifyMagicLink(w http.ResponseWriter, r *http.Request, _ *caller) {
	var req struct {
		ID string `json:"id"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("id", req.ID)
	if f.write(w) {
		return
	}
	if _, found := s.st.magic[req.ID]; !found {
		f.add("id", "is invalid or already used")
		f.write(w)
		return
	}
	delete(s.st.magic, req.ID)
	msg(w, "magic link verified")
}

var emailRE = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

func (s *Server) createCognitoAdminUser(w http.ResponseWriter, r *http.Request, c *caller) {
	var req struct {
		Email      string `json:"email"`
		Password   string `json:"password"`
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
		Readonly   *bool  `json:"readonly"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	if !emailRE.MatchString(req.Email) {
		f.add("email", "must be an email address")
	}
	checkPassword(&f, "password", req.Password)
	f.required("givenName", req.GivenName)
	f.required("familyName", req.FamilyName)
	if req.Readonly == nil {
		f.add("readonly", "is required")
	}
	if f.write(w) {
		return
	}
	if !c.admin() {
		forbidden(w, "administrators only")
		return
	}
	if s.st.userByEmail(req.Email) != nil {
		writeErr(w, http.StatusConflict, "a user with this email already exists")
		return
	}
	roles := []string{"admin"}
	if *req.Readonly {
		roles = []string{"readonly"}
	}
	u := s.st.newUser(c.orgID, req.Email, req.GivenName, req.FamilyName, roles)
	u.password, u.pending, u.signup = req.Password, true, s.st.digits(6)
	u.u.Status = "pending"
	s.st.send(u.u.Email, "signup", u.signup, "Confirm your account")
	msg(w, "admin user created; confirmation code sent")
}

func (s *Server) swapUserPool(w http.ResponseWriter, r *http.Request, _ *caller) {
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	f.required("username", req.Username)
	if f.write(w) {
		return
	}
	type result struct {
		Status        string `json:"status"`
		Authenticated bool   `json:"authenticated"`
		ID            string `json:"id,omitempty"`
	}
	u := s.st.findLogin(req.Username)
	switch {
	case u == nil:
		ok(w, result{Status: "not-found"})
	case req.Password != "" && req.Password == u.password:
		u.swapped = true
		ok(w, result{Status: "swapped", Authenticated: true, ID: u.id})
	default:
		ok(w, result{Status: "found", ID: u.id})
	}
}

func (s *Server) cognitoSync(w http.ResponseWriter, r *http.Request, c *caller) {
	o := s.orgFor(w, c, r.PathValue("id"))
	if o == nil {
		return
	}
	if !c.owner() {
		forbidden(w, "team owners or administrators only")
		return
	}
	n := 0
	for _, u := range s.st.orgUsers[o.id] {
		u.swapped = true
		n++
	}
	o.syncs++
	msg(w, "synced "+itoa(n)+" users")
}

func (s *Server) updateSystemSettings(w http.ResponseWriter, r *http.Request, c *caller) {
	var req struct {
		Logging *struct {
			Level  string `json:"level"`
			Filter string `json:"filter"`
		} `json:"logging"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	if req.Logging == nil {
		f.add("logging", "is required")
	} else if !slices.Contains([]string{"debug", "info", "warn", "error"}, req.Logging.Level) {
		f.add("logging.level", "must be one of debug, info, warn, error")
	}
	if f.write(w) {
		return
	}
	if !c.admin() {
		forbidden(w, "administrators only")
		return
	}
	s.st.logLevel, s.st.logFilter = req.Logging.Level, req.Logging.Filter
	msg(w, "settings updated")
}

func (s *Server) requestFullAccount(w http.ResponseWriter, r *http.Request, _ *caller) {
	var req struct {
		RequestType   string  `json:"requestType"`
		FirstName     string  `json:"firstName"`
		LastName      string  `json:"lastName"`
		BusinessName  string  `json:"businessName"`
		CompanyNumber *string `json:"companyNumber"`
		EmailAddress  string  `json:"emailAddress"`
		Phone         *string `json:"phone"`
	}
	if !decode(w, r, &req) {
		return
	}
	var f fieldErrs
	if req.RequestType != "account" && req.RequestType != "tradingBuyerAccount" {
		f.add("requestType", "must be one of account, tradingBuyerAccount")
	}
	f.required("firstName", req.FirstName)
	f.required("lastName", req.LastName)
	f.required("businessName", req.BusinessName)
	if !emailRE.MatchString(req.EmailAddress) {
		f.add("emailAddress", "must be an email address")
	}
	phone := ""
	if req.Phone != nil && *req.Phone != "" {
		if p, err := customerapi.ParsePhone(*req.Phone, ""); err != nil {
			f.add("phone", err.Error())
		} else {
			phone = p.String()
		}
	}
	if f.write(w) {
		return
	}
	cn := ""
	if req.CompanyNumber != nil {
		cn = *req.CompanyNumber
	}
	s.st.fullAccountRequests = append(s.st.fullAccountRequests, map[string]string{
		"requestType": req.RequestType, "firstName": req.FirstName, "lastName": req.LastName,
		"businessName": req.BusinessName, "companyNumber": cn, "emailAddress": req.EmailAddress, "phone": phone})
	s.st.send(req.EmailAddress, "full-account-request", "", "We received your request")
	msg(w, "request received")
}
