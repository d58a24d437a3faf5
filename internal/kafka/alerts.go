package kafka

import (
	"context"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/internal/bus"
)

var (
	_ bus.Publisher  = (*Producer[quell.Alert])(nil)
	_ bus.Subscriber = (*AlertSubscriber)(nil)
)

// NewAlertPublisher returns split mode's bus.Publisher: alerts as JSON to
// cfg.Topic (default TopicAlerts), keyed by scope(alert). The scope is the
// correlation scope, so all alerts that may join one incident reach the same
// correlator instance, in order. An alert whose record is over
// maxAlertRecord is refused with a *bus.TooLarge.
func NewAlertPublisher(cfg ProducerConfig, scope func(*quell.Alert) []byte) (*Producer[quell.Alert], error) {
	if cfg.Topic == "" {
		cfg.Topic = TopicAlerts
	}
	cfg.MaxRecord = maxAlertRecord
	return NewProducer(cfg, scope)
}

// maxAlertRecord leaves room under maxRecord for what the correlator
// writes about an alert: its decision and its state record carry the alert
// with an incident id, a reason and times. An alert ingest took must fit
// them, or it could never be delivered.
const maxAlertRecord = maxRecord - 64<<10

// AlertSubscriber is split mode's bus.Subscriber: alerts from cfg.Topic
// (default TopicAlerts) through a consumer group.
type AlertSubscriber struct {
	c *Consumer[quell.Alert]
}

func NewAlertSubscriber(cfg ConsumerConfig) (*AlertSubscriber, error) {
	if cfg.Topic == "" {
		cfg.Topic = TopicAlerts
	}
	c, err := NewConsumer[quell.Alert](cfg)
	if err != nil {
		return nil, err
	}
	return &AlertSubscriber{c: c}, nil
}

func (s *AlertSubscriber) Subscribe(ctx context.Context, h bus.Handler) error {
	return s.c.Subscribe(ctx, h)
}

// IncidentKey keys quell.incidents: an incident's changes stay in order.
func IncidentKey(c *quell.IncidentChange) []byte { return []byte(c.Incident.ID) }

// DecisionKey keys quell.decisions by incident, so an incident's decisions
// stay in order beside its changes.
func DecisionKey(d *quell.Decision) []byte { return []byte(d.Incident) }
