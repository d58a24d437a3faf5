package main

import (
	"context"
	"time"

	"github.com/quellhq/quell"
	"github.com/quellhq/quell/internal/api"
	"github.com/quellhq/quell/internal/kafka"
	"github.com/quellhq/quell/internal/pipeline"
)

// feedbackWait bounds how long a feedback request waits for its outcome;
// past it, the answer is "accepted" and the feedback applies in its turn.
const feedbackWait = 10 * time.Second

// awaitFeedback acts on feedback by sending it (through the journal or
// Kafka) and waiting for the pipeline that applies it to say what became of it.
func awaitFeedback(outcomes *pipeline.Outcomes, send func(context.Context, *quell.Feedback) error) api.Act {
	return func(ctx context.Context, f *quell.Feedback) (string, error) {
		ch, done := outcomes.Await(f.ID)
		defer done()
		if err := send(ctx, f); err != nil {
			return "", err
		}
		select {
		case o := <-ch:
			return o.Incident, o.Err
		case <-time.After(feedbackWait):
		case <-ctx.Done():
		}
		return "", api.ErrPending
	}
}

// splitFeedback acts on feedback in split mode: it goes into the alerts
// partition of the incident it acts on, whose pipeline (in this process)
// applies it in order with that partition's alerts.
func (env *stageEnv) splitFeedback(set *pipeline.Set) (api.Act, func() error) {
	fw := kafka.NewFeedbackWriter(env.cfg.Kafka.Brokers, env.names, env.log)
	return awaitFeedback(&set.Outcomes, func(ctx context.Context, f *quell.Feedback) error {
		p, err := set.Owner(f)
		if err != nil {
			return err
		}
		return fw.Send(ctx, p, f)
	}), fw.Close
}
