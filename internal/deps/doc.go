// Package deps holds the test that keeps vzarr's dependencies pointing
// inward: the format packages link no cloud SDK and the engine links no
// message broker, whatever the drivers a program imports.
package deps
