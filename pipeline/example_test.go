package pipeline_test

import (
	"context"
	"fmt"
	"io/fs"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/greensight/vzarr/blobio"
	"github.com/greensight/vzarr/catalog"
	"github.com/greensight/vzarr/engine"
	"github.com/greensight/vzarr/pipeline"
)

// The whole pipeline in one process: an in-memory catalog and queue, a
// worker, and a submit (Contract 1) of a folder of yearly NetCDF files,
// which the job scans, validates, translates one by one, combines along
// time and registers with its STAC Item.
func ExampleNewService() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, err := os.MkdirTemp("", "vzarr-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(out)
	src, err := filepath.Abs("../testdata/sample")
	if err != nil {
		log.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	svc, err := pipeline.NewService(ctx, pipeline.ServiceConfig{
		Store:    catalog.NewMemory(),
		QueueURL: "mem://example-pipeline",
		Deps:     pipeline.Deps{Opener: &blobio.Opener{}, Logger: quiet},
		Engine:   engine.Options{Logger: quiet},
		Submit:   pipeline.Submitter{OutURL: out, AllowedSchemes: []string{"file"}, Logger: quiet},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close(context.Background())
	worked := make(chan error, 1)
	go func() { worked <- svc.Work(ctx) }()

	resp, err := svc.Submit(ctx, pipeline.SubmitRequest{
		DatasetID: "sample-tas", ResourceID: "monthly", SourceURL: src, DataType: "zarr",
		ProcessingOptions: pipeline.ProcessingOptions{ConcatDim: "time"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("submitted:", resp.Status)
	job, err := svc.Wait(ctx, resp.JobID, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("job:", job.Status, job.Stage)
	err = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(out, p)
			fmt.Println("wrote", rel)
		}
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	cancel()
	if err := <-worked; err != nil {
		log.Fatal(err)
	}
	// Output:
	// submitted: queued
	// job: COMPLETED register
	// wrote combined.json
	// wrote tas_2015.json
	// wrote tas_2016.json
	// wrote tas_2017.json
	// wrote tas_2018.json
	// wrote tas_2019.json
	// wrote tas_2020.json
}
