package lcapi

import (
	"net/http"
)

// CORSHeaders are the request headers LeanCloud's browser SDKs send to
// /1.1, /1.2 and the RTM router (/v1/route): the server lets browsers on
// its allowed origins send them (api.Options.CORSHeaders), beside its own.
var CORSHeaders = []string{
	"X-LC-Id", "X-LC-Key", "X-LC-Sign", "X-LC-Session", "X-LC-IM-Session-Token", "X-LC-UA", "X-LC-Prod",
}

// errMasterFromBrowser refuses the master key in a cross-origin request.
// Parley keeps the master key out of browsers (X-Master-Key is not allowed
// cross-origin unless PARLEY_CORS_MASTER_KEY says so); X-LC-Key and
// X-LC-Sign carry either key, so a preflight cannot tell them apart and the
// request itself is refused instead. Browsers send Origin with every
// cross-origin request; backends do not.
var errMasterFromBrowser = &lcError{http.StatusUnauthorized, 119,
	"The master key is not accepted from a browser (a request with Origin); set PARLEY_CORS_MASTER_KEY to allow it.", nil}

// fromBrowser reports whether r came from a browser page of another origin.
func fromBrowser(r *http.Request) bool { return r.Header.Get("Origin") != "" }
