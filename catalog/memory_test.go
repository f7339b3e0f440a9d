package catalog_test

import (
	"testing"

	"github.com/greensight/vzarr/catalog"
)

func TestMemoryStore(t *testing.T) {
	runSuite(t, func(t *testing.T) catalog.Store { return catalog.NewMemory() })
}
