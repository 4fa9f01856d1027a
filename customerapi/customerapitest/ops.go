package customerapitest

import "net/http"

// operations lists every operation of the contract with its handler.
func (s *Server) operations() []route {
	G, P, U, A, D := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
	req, opt := authRequired, authOptional
	return []route{
		// Business.
		{"getRedTractorCertificates", G, "/v1/red-tractor/certificates", req, s.getRedTractorCertificates},
		{"getBusiness", G, "/v1/businesses/{id}", opt, s.getBusiness},
		{"getBusinessesByBusinessUnitIds", G, "/v1/businesses", opt, s.getBusinessesByBusinessUnitIDs},
		// Business units.
		{"createBusinessUnit", P, "/v1/business-units", req, s.createBusinessUnit},
		{"getBusinessUnitsSummary", G, "/v1/organisations/{id}/business-units/summary", req, s.getBusinessUnitsSummary},
		{"getOrganisationBusinessUnits", G, "/v1/organisations/{id}/business-units", req, s.getOrganisationBusinessUnits},
		{"updateBusinessUnit", A, "/v1/business-units/{id}", req, s.updateBusinessUnit},
		{"importBusinessUnits", P, "/v1/business-units/import", req, s.importBusinessUnits},
		// Business connections.
		{"createBusinessConnection", P, "/v1/business-connections", req, s.createBusinessConnection},
		{"getBusinessConnections", G, "/v1/business-connections", req, s.getBusinessConnections},
		{"checkBusinessConnectionExists", P, "/v1/business-connections/check", req, s.checkBusinessConnection},
		{"checkBusinessConnectionInNetwork", P, "/v1/business-connections/in-network", req, s.inNetwork},
		{"deleteBusinessConnection", D, "/v1/business-connections/{id}", req, s.deleteBusinessConnection},
		{"addBusinessConnectionRelationship", P, "/v1/business-connections/{id}/relationships/{relationship}", req, s.addRelationship},
		{"connectBusinessConnectionContact", P, "/v1/business-connections/{id}/contacts/{userId}", req, s.connectContact},
		{"disconnectBusinessConnectionContact", D, "/v1/business-connections/{id}/contacts/{userId}", req, s.disconnectContact},
		// Cognito administration.
		{"createCognitoAdminUser", P, "/v1/admin/cognito-users", req, s.createCognitoAdminUser},
		{"swapUserPool", P, "/v1/auth/swap-pool", opt, s.swapUserPool},
		{"syncOrganisationUsersToCognito", P, "/v1/organisations/{id}/cognito-sync", req, s.cognitoSync},
		// Organisations.
		{"createOrganisation", P, "/v1/organisations", req, s.createOrganisation},
		{"listOrganisations", G, "/v1/organisations", req, s.listOrganisations},
		{"getOrganisationsByIds", G, "/v1/organisations/by-ids", req, s.getOrganisationsByIDs},
		{"getCurrentOrganisation", G, "/v1/organisations/me", req, s.getCurrentOrganisation},
		{"getOrganisation", G, "/v1/organisations/{id}", req, s.getOrganisation},
		{"updateOrganisation", A, "/v1/organisations/{id}", req, s.updateOrganisation},
		{"updateOrganisationAdvancePay", U, "/v1/organisations/{id}/advance-pay", req, s.updateAdvancePay},
		{"importOrganisations", P, "/v1/organisations/import", req, s.importOrganisations},
		{"importPreferences", P, "/v1/organisations/preferences/import", req, s.importPreferences(false)},
		{"setPreferences", P, "/v1/organisations/preferences/set", req, s.importPreferences(true)},
		{"importFinmidAccountStatus", P, "/v1/organisations/finmid-status/import", req, s.importFinmid},
		{"changeOrganisationOwner", U, "/v1/organisations/me/owner", req, s.changeOwner},
		// Users.
		{"listUsers", G, "/v1/users", req, s.listUsers},
		{"createUser", P, "/v1/users", req, s.createUser},
		{"getCurrentUser", G, "/v1/users/me", opt, s.getCurrentUser},
		{"patchUser", A, "/v1/users/{id}", req, s.patchUser},
		{"verifyAttributeUpdate", P, "/v1/users/me/verify-attribute", req, s.verifyAttribute},
		{"findUsersByPreferences", G, "/v1/users/by-preferences", req, s.usersByPreferences},
		{"setBuyerPreferences", U, "/v1/users/me/buyer-preferences", req, s.setBuyerPreferences},
		{"lookupUserByTelephone", P, "/v1/users/lookup-by-phone", req, s.lookupByPhone},
		// Organisation modules.
		{"activateOrganisation", P, "/v1/organisations/{id}/activate", req, s.activateOrganisation},
		{"addOrganisationModule", P, "/v1/organisations/{id}/modules", req, s.addModule},
		{"removeOrganisationModule", P, "/v1/organisations/{id}/modules/remove", req, s.removeModule},
		{"requestOrganisationModule", P, "/v1/organisations/{id}/modules/request", req, s.requestModule},
		// Profile and user look-ups.
		{"getProfile", G, "/v1/profile", req, s.getProfile},
		{"getUsersByIds", G, "/v1/users/by-ids", req, s.usersByIDs},
		{"getUserSummariesByIds", G, "/v1/users/summaries", req, s.usersByIDs},
		{"getUsersByRoles", G, "/v1/users/by-roles", req, s.usersByRoles},
		{"getUsersByCommodityRegions", G, "/v1/users/by-commodity-regions", req, s.usersByCommodityRegions},
		{"getUserBasicInfo", G, "/v1/users/{id}/basic", req, s.userBasic},
		{"authenticateApiTokenViaUsers", P, "/v1/users/api-tokens/authenticate", opt, s.authenticateAPIToken},
		{"generateApiTokenViaUsers", P, "/v1/users/api-tokens", req, s.generateAPIToken},
		{"requestFullAccount", P, "/v1/users/full-account-requests", opt, s.requestFullAccount},
		// Auth.
		{"generateApiToken", P, "/v1/auth/api-tokens", req, s.generateAPIToken},
		{"adminResetPassword", P, "/v1/auth/admin/reset-password", req, s.adminResetPassword},
		{"adminSetPassword", P, "/v1/auth/admin/set-password", req, s.adminSetPassword},
		{"login", P, "/v1/auth/login", opt, s.login},
		{"changePassword", P, "/v1/auth/change-password", req, s.changePassword},
		{"forgottenPassword", P, "/v1/auth/forgotten-password", opt, s.forgottenPassword},
		{"resetPassword", P, "/v1/auth/reset-password", opt, s.resetPassword},
		{"refreshTokens", P, "/v1/auth/refresh", opt, s.refreshTokens},
		{"confirmSignup", P, "/v1/auth/confirm-signup", opt, s.confirmSignup},
		{"sendMagicLink", P, "/v1/auth/magic-link", opt, s.sendMagicLink},
		{"verifyMagicLink", P, "/v1/auth/magic-link/verify", opt, s.verifyMagicLink},
		{"authenticateApiToken", P, "/v1/auth/api-tokens/authenticate", opt, s.authenticateAPIToken},
		{"changeMarketplacePassword", P, "/v1/auth/marketplace/change-password", opt, s.changeMarketplacePassword},
		// System.
		{"updateSystemSettings", U, "/v1/system/settings", req, s.updateSystemSettings},
	}
}
