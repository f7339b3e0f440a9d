package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/greensight/vzarr/catalog"
)

// The in-memory Store (the same contract as the PostgreSQL one): jobs move
// through the status machine, moves are checked, and a stale revision is
// refused.
func ExampleNewMemory() {
	ctx := context.Background()
	s := catalog.NewMemory()
	defer s.Close()
	j, err := s.CreateJob(ctx, catalog.NewJob{ID: "job-1", Type: "virtualize", Params: json.RawMessage(`{"n":3}`)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(j.ID, j.Status, j.Revision)

	j, err = s.TransitionJob(ctx, j.ID, catalog.Transition{To: catalog.StatusProcessing, Stage: "scan", IfRevision: j.Revision})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(j.Status, j.Stage, j.Revision)

	// A move from an old revision loses.
	_, err = s.TransitionJob(ctx, j.ID, catalog.Transition{To: catalog.StatusFailed, IfRevision: 1})
	fmt.Println(errors.Is(err, catalog.ErrConflict))

	// COMPLETED is final.
	_, err = s.TransitionJob(ctx, j.ID, catalog.Transition{To: catalog.StatusCompleted, Result: json.RawMessage(`{"sum":14}`)})
	if err != nil {
		log.Fatal(err)
	}
	_, err = s.TransitionJob(ctx, j.ID, catalog.Transition{To: catalog.StatusProcessing})
	var te *catalog.TransitionError
	fmt.Println(errors.As(err, &te), te.From, te.To)

	got, err := s.GetJob(ctx, j.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.Status, string(got.Result))
	// Output:
	// job-1 PENDING 1
	// PROCESSING scan 2
	// true
	// true COMPLETED PROCESSING
	// COMPLETED {"sum":14}
}
