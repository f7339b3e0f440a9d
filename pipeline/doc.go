// Package pipeline holds the stage handlers of the virtualization
// pipeline. Each stage takes contract-shaped parameters and returns an
// Envelope, the JSON every stage answers with:
//
//	{"success": true, "result": {...}}
//	{"success": false, "error": "...", "error_type": "..."}
//
// The register stage (Contract 6), RegisterZarrSTAC, builds the STAC item
// of a combined kerchunk reference file, caches it on the Release and
// completes the Release, in one catalog transaction. Stages log with slog:
// their inputs, the outcome and the duration.
package pipeline
