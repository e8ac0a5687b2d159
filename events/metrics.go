package events

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parley-im/parley/internal/promreg"
)

// metrics are a hub's collectors, registered with Options.Registerer.
type metrics struct {
	streamsOpen    prometheus.Gauge
	eventsQueued   prometheus.Counter
	roomDropped    *prometheus.CounterVec
	streamsRefused *prometheus.CounterVec
	// slowConsumers counts streams ended because they fell a whole log behind.
	slowConsumers prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		streamsOpen: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_streams_open",
			Help: "Event streams currently attached to sessions.",
		})),
		eventsQueued: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_events_queued_total",
			Help: "Events appended to session logs (one per recipient session).",
		})),
		roomDropped: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_room_events_dropped_total",
			Help: "Chat-room events dropped for congested streams, by priority.",
		}, []string{"priority"})),
		streamsRefused: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_streams_refused_total",
			Help: "Event streams refused because the server's (server) or the client's (client) share of open streams was taken.",
		}, []string{"bound"})),
		slowConsumers: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_stream_slow_consumer_total",
			Help: "Streams reset and closed because they could not keep up.",
		})),
	}
	// Every series exists from the start, at 0, so that a rate or an alert
	// on it works before the first event. High-priority room events are
	// never dropped.
	m.streamsRefused.WithLabelValues("server")
	m.streamsRefused.WithLabelValues("client")
	m.roomDropped.WithLabelValues(PriorityLow.String())
	m.roomDropped.WithLabelValues(PriorityNormal.String())
	return m
}
