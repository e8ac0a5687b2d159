package events

import (
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Under concurrent publishing, taking, trimming, resuming and ending, every
// event a stream takes is one addressed to its client, in seq order: an
// event slot emptied while a queue still referred to it, and reused, would
// hand a session someone else's event. Run with -race.
func TestEventTableUnderConcurrentUse(t *testing.T) {
	h, clk := newTestHub(t, Options{ReplayEvents: 32, RoomHardCap: 1 << 20, RoomNormalWater: 1 << 20, RoomLowWater: 1 << 20})
	const clients, perClient, publishers, rounds = 6, 2, 4, 1500
	client := func(i int) string { return fmt.Sprintf("c%d", i) }
	addressed := func(to []string) string { return "," + strings.Join(to, ",") + "," }

	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, clients*perClient)
	for c := range clients {
		for k := range perClient {
			wg.Add(1)
			go func(id, sid string, seed int64) {
				defer wg.Done()
				r := rand.New(rand.NewSource(seed))
				last := ""
				for {
					select {
					case <-stop:
						return
					default:
					}
					st, hello, err := h.Attach(sid, id, last)
					if err != nil {
						errs <- err
						return
					}
					h.JoinRoom(sid, id, "room")
					cursor := uint64(0)
					for range 1 + r.Intn(40) {
						items, err := st.Take(nil, 1+r.Intn(16))
						for _, it := range items {
							data := string(it.Event.Data())
							if !strings.Contains(data, `"room"`) && !strings.Contains(data, ","+id+",") {
								errs <- fmt.Errorf("%s (%s) took %s", sid, id, data)
								return
							}
							if it.Seq <= cursor {
								errs <- fmt.Errorf("%s took seq %d after %d", sid, it.Seq, cursor)
								return
							}
							cursor = it.Seq
							last = idString(st.Epoch(), it.Seq)
						}
						if err != nil {
							break
						}
						runtime.Gosched()
					}
					st.Close()
					switch r.Intn(10) {
					case 0:
						h.EndSession(sid, nil) // a new session of the same id next time
						last = ""
					case 1:
						last = hello.ID
					}
				}
			}(client(c), fmt.Sprintf("s%d-%d", c, k), int64(c*perClient+k))
		}
	}
	var pub sync.WaitGroup
	for p := range publishers {
		pub.Add(1)
		go func(p int) {
			defer pub.Done()
			r := rand.New(rand.NewSource(int64(100 + p)))
			for n := range rounds {
				var to []string
				for c := range clients {
					if r.Intn(2) == 0 {
						to = append(to, client(c))
					}
				}
				switch r.Intn(3) {
				case 0:
					h.Publish(MustNew("m", map[string]any{"to": addressed(to), "n": n}), to, "")
				case 1:
					shared := MustNew("m", map[string]any{"to": addressed(to), "n": n})
					var ds []Delivery
					for _, c := range to {
						own := MustNew("u", map[string]any{"to": addressed([]string{c}), "n": n})
						ds = append(ds, Delivery{ClientID: c, Events: []*Event{shared, own}})
					}
					h.PublishEach(ds, "")
				default:
					h.PublishRoom("room", MustNew("r", map[string]any{"room": true, "n": n}), PriorityNormal, "")
				}
			}
		}(p)
	}
	pub.Wait()
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrShutdown) {
			t.Error(err)
		}
	}

	// Everything forgotten, every slot comes back.
	h.mu.RLock()
	var sids []string
	for sid := range h.sessions {
		sids = append(sids, sid)
	}
	h.mu.RUnlock()
	for _, sid := range sids {
		h.EndSession(sid, nil)
	}
	clk.Add(time.Hour)
	h.Sweep()
	for deadline := time.Now().Add(10 * time.Second); h.table.held() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d slots still held after every session was forgotten", h.table.held())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// idString is the id of event seq as a string (Last-Event-ID).
func idString(epoch string, seq uint64) string {
	return string(AppendID(nil, epoch, seq))
}
