// Package oneapi is a typed client (API) for the ONe platform's clients integration
// API (account module): list, create, get, full update, delete, the partial
// updates, the first user, users and the client synchronization feed.
//
// The read model (Client, with billingAddress, invoiceEmail and firstUser)
// and the write model (ClientWrite, with address, invoice and admin) are
// distinct types, as they are on the platform. The client never retries on
// its own: the queue owns retries. Every failure is an *APIError or a
// transport error, classified by apierr.Classify.
package oneapi
