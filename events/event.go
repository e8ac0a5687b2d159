// Package events is the hub that delivers events to client sessions: it keeps
// each session's numbered event log (the replay buffer that doubles as its
// bounded outbound queue), fans events out to the sessions of the clients
// they are for, and hands them to whatever writes them to the network. It
// knows nothing about SQL, and SSE is only one possible writer of its streams.
//
// Code from above it (the rules in handlers, the SSE writer in api, the
// server's wiring) runs on the hub's goroutines, against the import
// direction:
//
//   - Options.OnGone runs on the janitor goroutine (or Hub.Sweep's caller),
//     once for each session whose stream stayed away past the offline
//     grace, with no lock of the hub held. The next sweep, and the presence
//     of other clients, wait for it: the server's starts a goroutine for the
//     session's will message (handlers.Service.SessionGone) and returns.
//   - The Writer given to Stream.SetWriter runs on a hub worker, with no
//     lock of the hub or of the session held; it takes the events with
//     Stream.TakeDirect, which takes the session's lock. A few workers serve
//     every stream, so it never blocks: it writes what the socket takes at
//     once, only try-locks its stream's own writer, and leaves the rest to
//     the stream's goroutine (Stream.Notify).
//   - Event.OnWritten runs on whichever goroutine flushed the event to a
//     session's connection (the stream's own, or a worker through its
//     Writer), possibly holding that stream writer's lock. It must not block
//     nor write to a stream: handlers' delivery receipt starts a goroutine
//     for its database write.
package events

import (
	"encoding/json"
	"fmt"
)

// Event is an encoded event, ready to be written to any number of streams.
// It is encoded once, whatever the number of recipients.
type Event struct {
	Name  Name
	frame []byte // "event: <name>\ndata: <json>\n\n"
	// OnWritten, if set, is called by a stream's writer once the event has
	// been flushed to the connection of a session of clientID (delivery
	// receipts). It must not block.
	OnWritten func(clientID string)
}

// New encodes an event with its JSON data.
func New(name Name, data any) (*Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("events: encode %s: %w", name, err)
	}
	return NewRaw(name, b), nil
}

// NewRaw wraps data that is already one line of JSON.
func NewRaw(name Name, data []byte) *Event {
	frame := make([]byte, 0, len(name)+len(data)+16)
	frame = append(frame, "event: "...)
	frame = append(frame, name...)
	frame = append(frame, "\ndata: "...)
	frame = append(frame, data...)
	frame = append(frame, "\n\n"...)
	return &Event{Name: name, frame: frame}
}

// MustNew is New for data that always encodes (the hub's own event types).
func MustNew(name Name, data any) *Event {
	ev, err := New(name, data)
	if err != nil {
		panic(err)
	}
	return ev
}

// Frame is the event's SSE frame without its id line.
func (e *Event) Frame() []byte { return e.frame }

// Data is the event's JSON data.
func (e *Event) Data() []byte {
	return e.frame[len("event: ")+len(e.Name)+len("\ndata: ") : len(e.frame)-2]
}

// Size is the encoded size, used to bound queues by bytes.
func (e *Event) Size() int { return len(e.frame) }
