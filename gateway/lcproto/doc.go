// Package lcproto is LeanCloud's realtime protocol schema (GenericCommand
// and its sub-commands, proto2, package push_server.messages2), generated
// from message.proto.
//
// message.proto is copied unchanged from leancloud/js-realtime-sdk
// (proto/message.proto, commit 1c333f9c = v5.0.0-rc.8), © LeanCloud,
// under the MIT licence (NOTICE beside it). Its Go package is given on
// protoc's command line (--go_opt=M…) rather than by editing the file.
//
// message.pb.go is generated and committed, so building needs no protoc.
// To regenerate it (protoc 3.21+, protoc-gen-go v1.36.12 on PATH):
//
//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Mmessage.proto=github.com/parley-im/parley/gateway/lcproto;lcproto message.proto
package lcproto
