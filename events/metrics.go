package events

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	streamsOpen = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "parley_streams_open",
		Help: "Event streams currently attached to sessions.",
	})
	eventsQueued = promauto.NewCounter(prometheus.CounterOpts{
		Name: "parley_events_queued_total",
		Help: "Events appended to session logs (one per recipient session).",
	})
	roomDropped = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_room_events_dropped_total",
		Help: "Chat-room events dropped for congested streams, by priority.",
	}, []string{"priority"})
	streamsRefused = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_streams_refused_total",
		Help: "Event streams refused because the server's (server) or the client's (client) share of open streams was taken.",
	}, []string{"bound"})
	// SlowConsumers counts streams ended because they fell a whole log behind.
	SlowConsumers = promauto.NewCounter(prometheus.CounterOpts{
		Name: "parley_stream_slow_consumer_total",
		Help: "Streams reset and closed because they could not keep up.",
	})
)

func init() {
	// Every series exists from the start, at 0, so that a rate or an alert
	// on it works before the first event. High-priority room events are
	// never dropped.
	streamsRefused.WithLabelValues("server")
	streamsRefused.WithLabelValues("client")
	roomDropped.WithLabelValues(PriorityLow.String())
	roomDropped.WithLabelValues(PriorityNormal.String())
}
