package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/queue"
)

// ServiceConfig wires a Service.
type ServiceConfig struct {
	// Store is the catalog (required).
	Store catalog.Store
	// QueueURL is the work queue; default queue.DefaultURL (in-process).
	QueueURL     string
	QueueOptions queue.Options
	// Deps of the stages; Deps.Store is set to Store.
	Deps Deps
	// Engine tunes the job engine; IsRetryable and ErrorType default to
	// the pipeline's.
	Engine engine.Options
	// Submit configures submits (RefsURL, OutURL, AllowedSchemes);
	// its Store and Queue are set by NewService.
	Submit Submitter
}

// Service is the pipeline in one process: a catalog, a queue, the job
// engine with the virtualize job type, and Contract 1's Submitter. Run
// Work in as many processes as needed; Submit from any of them.
type Service struct {
	Store     catalog.Store
	Queue     *queue.Queue
	Engine    *engine.Engine
	Submitter *Submitter
	Deps      *Deps
}

// NewService opens the queue and builds the engine.
func NewService(ctx context.Context, cfg ServiceConfig) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("pipeline: a catalog store is required")
	}
	if cfg.QueueURL == "" {
		cfg.QueueURL = queue.DefaultURL
	}
	if cfg.QueueOptions.Logger == nil {
		cfg.QueueOptions.Logger = cfg.Deps.Logger
	}
	q, err := queue.Open(ctx, cfg.QueueURL, cfg.QueueOptions)
	if err != nil {
		return nil, err
	}
	deps := cfg.Deps
	deps.Store = cfg.Store
	eo := cfg.Engine
	if eo.IsRetryable == nil {
		eo.IsRetryable = IsRetryable
	}
	if eo.ErrorType == nil {
		eo.ErrorType = ErrorType
	}
	if eo.Logger == nil {
		eo.Logger = deps.Logger
	}
	eng, err := engine.New(cfg.Store, q, eo, NewDefinition(&deps))
	if err != nil {
		_ = q.Close(ctx)
		return nil, err
	}
	sub := cfg.Submit
	sub.Store, sub.Queue = cfg.Store, eng
	if sub.Ready == nil {
		sub.Ready = q.Ready
	}
	if sub.Logger == nil {
		sub.Logger = deps.Logger
	}
	return &Service{Store: cfg.Store, Queue: q, Engine: eng, Submitter: &sub, Deps: &deps}, nil
}

// Submit runs Contract 1 (see Submitter.Submit).
func (s *Service) Submit(ctx context.Context, req SubmitRequest) (*SubmitResponse, error) {
	return s.Submitter.Submit(ctx, req)
}

// Work runs the engine's workers on the queue until ctx ends.
func (s *Service) Work(ctx context.Context) error { return s.Engine.Work(ctx, s.Queue) }

// Wait polls a job until it is COMPLETED or FAILED, or ctx ends.
func (s *Service) Wait(ctx context.Context, jobID string, every time.Duration) (*catalog.Job, error) {
	if every <= 0 {
		every = 50 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		j, err := s.Store.GetJob(ctx, jobID)
		if err != nil {
			return nil, err
		}
		if j.Status.Terminal() {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-t.C:
		}
	}
}

// Close closes the queue (not the store, which the caller opened).
func (s *Service) Close(ctx context.Context) error { return s.Queue.Close(ctx) }
