package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"

	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/queue"
)

// A job type of two stages: "square" runs one task per number, "sum"
// adds the squares that the first stage's tasks returned. The engine
// keeps every job, task and result in the catalog and moves the work
// through the queue, so any number of workers can run it.
func ExampleDefinition() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ended := make(chan struct{}, 1) // the job completed or failed
	end := func() {
		select {
		case ended <- struct{}{}:
		default: // a hook may run more than once
		}
	}
	def := &engine.Definition{
		Type:       "sum-of-squares",
		OnComplete: func(context.Context, *catalog.Job) error { end(); return nil },
		OnFailure:  func(context.Context, *catalog.Job, *engine.Failure) error { end(); return nil },
		Stages: []engine.Stage{
			{
				Name: "square",
				Plan: func(_ context.Context, job *catalog.Job, _ map[string][]*catalog.Task) ([]json.RawMessage, error) {
					var p struct{ Numbers []int }
					if err := json.Unmarshal(job.Params, &p); err != nil {
						return nil, err
					}
					var tasks []json.RawMessage
					for _, n := range p.Numbers {
						tasks = append(tasks, json.RawMessage(fmt.Sprint(n)))
					}
					return tasks, nil
				},
				Run: func(_ context.Context, _ *catalog.Job, task *catalog.Task) (json.RawMessage, error) {
					var n int
					if err := json.Unmarshal(task.Params, &n); err != nil {
						return nil, err
					}
					return json.RawMessage(fmt.Sprint(n * n)), nil
				},
			},
			{
				Name: "sum",
				Plan: func(_ context.Context, _ *catalog.Job, done map[string][]*catalog.Task) ([]json.RawMessage, error) {
					sum := 0
					for _, t := range done["square"] {
						var sq int
						if err := json.Unmarshal(engine.Result(t), &sq); err != nil {
							return nil, err
						}
						sum += sq
					}
					return []json.RawMessage{json.RawMessage(fmt.Sprint(sum))}, nil // one task
				},
				Run: func(_ context.Context, _ *catalog.Job, task *catalog.Task) (json.RawMessage, error) {
					return task.Params, nil
				},
			},
		},
	}

	store := catalog.NewMemory()
	q, err := queue.Open(ctx, "mem://example-sum-of-squares", queue.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close(context.Background())
	e, err := engine.New(store, q, engine.Options{Logger: slog.New(slog.DiscardHandler)}, def)
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = e.Work(ctx, q) }() // a worker

	job, err := store.CreateJob(ctx, catalog.NewJob{ID: "sum-1", Type: "sum-of-squares", Params: json.RawMessage(`{"numbers":[1,2,3,4]}`)})
	if err != nil {
		log.Fatal(err)
	}
	if err := e.Enqueue(ctx, job.ID); err != nil {
		log.Fatal(err)
	}
	<-ended
	if job, err = store.GetJob(ctx, job.ID); err != nil {
		log.Fatal(err)
	}
	st, err := e.Status(ctx, job.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(job.Status)
	for _, s := range st.Stages {
		fmt.Println(s.Name, s.Status, s.Tasks)
	}
	tasks, err := store.ListTasks(ctx, job.ID)
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range tasks {
		if t.Stage == "sum" && t.Type == "sum" {
			fmt.Println("sum:", string(engine.Result(t)))
		}
	}
	// Output:
	// COMPLETED
	// square COMPLETED 4
	// sum COMPLETED 1
	// sum: 30
}
