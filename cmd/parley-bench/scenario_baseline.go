package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

func init() {
	register(&Scenario{
		Name:        "baseline",
		Help:        "the ceiling: the send load against a minimal in-process net/http handler (decode JSON, answer 201)",
		Concurrency: 64,
		NoBaseline:  true,
		Run: func(env *Env) error {
			env.Report.Param("server", "none: a minimal net/http handler in this process")
			cpu := env.CPU()
			res, err := runBaseline(env, env.Duration)
			if err != nil {
				return err
			}
			reportSends(env.Report, res, true)
			env.ReportCPU(cpu)
			return nil
		},
	})
}

// runBaseline runs the send scenario's load — the same number of keep-alive
// senders, the same bodies and headers, flat out — against a handler that
// only decodes the JSON body and answers 201, in this process.
func runBaseline(env *Env, d time.Duration) (*sendResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var seq atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/conversations/{id}/messages", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Type       *int           `json:"type"`
			Text       string         `json:"text"`
			Attributes map[string]any `json:"attributes"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Type == nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		n := seq.Add(1)
		b := make([]byte, 0, 128)
		b = append(b, `{"id":"`...)
		b = strconv.AppendInt(b, n, 32)
		b = append(b, `","conversationId":"`...)
		b = append(b, r.PathValue("id")...)
		b = append(b, `","type":-1,"timestamp":`...)
		b = strconv.AppendInt(b, time.Now().UnixMilli(), 10)
		b = append(b, '}')
		w.Write(b)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	c := newClient("http://"+ln.Addr().String(), "", env.Concurrency)
	defer c.Close()
	senders := make([]senderSpec, env.Concurrency)
	for i := range senders {
		senders[i] = senderSpec{Token: "baseline-token-" + strconv.Itoa(i), Convs: []string{fmt.Sprintf("bench%016d", i)}}
	}
	load := &sendLoad{Base: c.Base, HTTP: c.HTTP, Senders: senders, Window: newWindow(time.Now().Add(min(env.Warmup, d/4)), d)}
	res := load.run(env.Ctx)
	if env.Ctx.Err() != nil {
		return nil, env.Ctx.Err()
	}
	if res.OK == 0 {
		return nil, errors.New("no request succeeded: " + res.FirstErr)
	}
	return res, nil
}
