// Package openapi holds the OpenAPI documents generated from the api
// package's operations, committed so that SDK generators need no Go; the
// test in this package fails when they are stale. Regenerate them, and the
// Go client in ./client, with `go generate ./...`.
package openapi

//go:generate go run ../cmd/parley openapi -out .
//go:generate go tool oapi-codegen -config client/oapi-codegen.yaml openapi-3.0.yaml
