package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHistIndexIsMonotonicAndTight(t *testing.T) {
	prev := -1
	for v := int64(0); v < 1<<22; v += 1 + v/200 {
		i := histIndex(v)
		if i < prev {
			t.Fatalf("index of %d is %d, below the index %d of a smaller value", v, i, prev)
		}
		prev = i
		if mid := histValue(i); v >= histLinear && (mid < float64(v)*0.98 || mid > float64(v)*1.02) {
			t.Fatalf("bucket middle %.0f is more than 2%% away from %d", mid, v)
		}
	}
	if i := histIndex(1<<63 - 1); i >= histBuckets {
		t.Fatalf("largest value lands in bucket %d of %d", i, histBuckets)
	}
}

func TestHistQuantiles(t *testing.T) {
	var h Hist
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 500}, {0.99, 990}, {1, 1000}} {
		if got := h.Quantile(c.q); got < c.want*0.98 || got > c.want*1.02 {
			t.Errorf("q%.2f = %.1f ms, want about %.0f", c.q, got, c.want)
		}
	}
	var m Hist
	m.Merge(&h)
	m.Merge(&h)
	if m.Count() != 2000 || m.MaxMs() != 1000 {
		t.Errorf("merged: count %d max %.0f", m.Count(), m.MaxMs())
	}
}

func TestSendTimeRoundTrip(t *testing.T) {
	body := appendBody(nil, 1712345678901234567)
	var msg struct {
		Type int    `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || msg.Type != -1 {
		t.Fatalf("body %s: %v", body, err)
	}
	// As the server echoes it inside a message event.
	line := []byte(`data: {"conversationId":"c","message":{"id":"x","from":"a","type":-1,"text":"` + msg.Text + `","timestamp":1}}` + "\n")
	if got := sendTime(line); got != 1712345678901234567 {
		t.Fatalf("sendTime = %d", got)
	}
	if got := sendTime([]byte(`data: {"text":"hello"}`)); got != 0 {
		t.Fatalf("sendTime of a foreign message = %d", got)
	}
}

// The stream reader counts message frames sent inside the window, whatever
// the way frames are split across reads, and ignores everything else.
func TestReceiverParsesFrames(t *testing.T) {
	now := time.Now()
	w := newWindow(now.Add(-time.Minute), 2*time.Minute)
	in := appendBody(nil, now.UnixNano())
	var msg struct{ Text string }
	json.Unmarshal(in, &msg)
	frame := "id: e.2\nevent: message\ndata: {\"message\":{\"type\":-1,\"text\":\"" + msg.Text + "\"}}\n\n"
	old := "id: e.3\nevent: message\ndata: {\"message\":{\"type\":-1,\"text\":\"@1000 old\"}}\n\n"
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/event-stream")
		fl := rw.(http.Flusher)
		io.WriteString(rw, "retry: 2000\nid: e.1\nevent: hello\ndata: {}\n\n")
		fl.Flush()
		all := ": ping\n\n" + frame + old + "id: e.4\nevent: invited\ndata: {\"text\":\"@5\"}\n\n" + frame
		for i := 0; i < len(all); i += 7 {
			io.WriteString(rw, all[i:min(i+7, len(all))])
			fl.Flush()
		}
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := newClient(srv.URL, "", 1)
	r, err := c.OpenStream(t.Context(), "token", w)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.delivered.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	tot := streamTotals([]*Receiver{r})
	if tot.Delivered != 2 || tot.Messages != 3 || tot.Resets != 0 || tot.Latency.Count() != 2 || tot.Events != 5 {
		t.Fatalf("delivered %d, messages %d, resets %d, latencies %d, events %d; want 2, 3, 0, 2, 5",
			tot.Delivered, tot.Messages, tot.Resets, tot.Latency.Count(), tot.Events)
	}
}

func TestReportEndsWithOneJSONLine(t *testing.T) {
	r := &Report{Scenario: "send"}
	r.Param("duration", "10s")
	r.Metric("ops_per_sec", "sends", 1234.5678, "msgs/s")
	r.Metric("p99_ms", "", 1.23456, "ms")
	r.TargetFigure("at least 1,000", "ops_per_sec", 1000, false)
	r.TargetFigure("needs a missing figure", "nope", 1, false)
	var b strings.Builder
	r.WriteTable(&b)
	if strings.Contains(b.String(), "p99_ms") || !strings.Contains(b.String(), "1,235") {
		t.Errorf("table:\n%s", b.String())
	}
	var got map[string]any
	if err := json.Unmarshal(r.JSON(), &got); err != nil {
		t.Fatalf("%s: %v", r.JSON(), err)
	}
	if got["ops_per_sec"] != 1235.0 || got["p99_ms"] != 1.235 || len(got["targets"].(map[string]any)) != 1 {
		t.Errorf("json: %s", r.JSON())
	}
}

// Every query of the query scenario is valid JSON, and the skewed topic
// weights make the first topic common and the last one rare.
func TestQueryScenarioQueries(t *testing.T) {
	for _, k := range queryKinds("qc00001") {
		var v map[string]any
		if err := json.Unmarshal([]byte(k.where), &v); err != nil {
			t.Errorf("%s: %s: %v", k.key, k.where, err)
		}
	}
	var sum float64
	for _, w := range queryTopicWeights {
		sum += w
	}
	if first, last := queryTopicWeights[0]/sum, queryTopicWeights[len(queryTopicWeights)-1]/sum; first < 0.2 || last > 0.002 {
		t.Errorf("topic shares: first %.3f, last %.4f", first, last)
	}
}

func TestNewScenariosRegistered(t *testing.T) {
	for _, name := range []string{"room", "query", "login", "import"} {
		if scenarios[name] == nil {
			t.Errorf("scenario %s is not registered", name)
		}
	}
}

// Gateway receivers acknowledge as the JS SDK does: one ack per
// conversation with the range of timestamps received, at most once a
// second.
func TestAckBuffer(t *testing.T) {
	var b ackBuffer
	t0 := time.Unix(1000, 0)
	b.add("c1", 5)
	if got := b.due(t0); len(got) != 1 || got[0].AckMessage.GetCid() != "c1" ||
		got[0].AckMessage.GetFromts() != 5 || got[0].AckMessage.GetTots() != 5 || got[0].I != nil {
		t.Fatalf("first ack: %v", got)
	}
	b.add("c1", 9)
	b.add("c1", 7)
	b.add("c2", 3)
	if got := b.due(t0.Add(999 * time.Millisecond)); got != nil {
		t.Fatalf("acks within the second: %v", got)
	}
	got := b.due(t0.Add(time.Second))
	if len(got) != 2 {
		t.Fatalf("acks after the second: %v", got)
	}
	for _, a := range got {
		m := a.AckMessage
		want := map[string][2]int64{"c1": {7, 9}, "c2": {3, 3}}[m.GetCid()]
		if m.GetFromts() != want[0] || m.GetTots() != want[1] {
			t.Errorf("ack %v, want fromts %d tots %d", m, want[0], want[1])
		}
	}
	if got := b.due(t0.Add(5 * time.Second)); got != nil {
		t.Fatalf("acks with nothing received: %v", got)
	}
}
