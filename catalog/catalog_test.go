package catalog_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/greensight/vzarr/catalog"
)

func TestValidSchemaName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"app", true},
		{"_private", true},
		{"app_2", true},
		{"", false},
		{"App", false},
		{"2app", false},
		{"app-x", false},
		{`app"; DROP TABLE x; --`, false},
		{"pg_catalog", false},
		{"a23456789012345678901234567890123456789012345678901234567890123", true},
		{"a234567890123456789012345678901234567890123456789012345678901234", false},
	} {
		assert.Equal(t, tc.ok, catalog.ValidSchemaName(tc.name), tc.name)
	}
	_, err := catalog.NewPostgres(nil, catalog.PostgresOptions{Schema: "Bad Name"})
	assert.ErrorIs(t, err, catalog.ErrInvalid)
	s, err := catalog.NewPostgres(nil, catalog.PostgresOptions{})
	assert.NoError(t, err)
	assert.Equal(t, "app", s.Schema())
}

func TestCanTransition(t *testing.T) {
	P, R, C, F := catalog.StatusPending, catalog.StatusProcessing, catalog.StatusCompleted, catalog.StatusFailed
	legal := map[[2]catalog.Status]bool{{P, R}: true, {P, F}: true, {R, C}: true, {R, F}: true, {F, P}: true, {F, R}: true}
	for _, from := range []catalog.Status{P, R, C, F} {
		for _, to := range []catalog.Status{P, R, C, F} {
			assert.Equal(t, legal[[2]catalog.Status{from, to}], catalog.CanTransition(from, to), "%s → %s", from, to)
		}
	}
}

func TestMigrationsEmbedded(t *testing.T) {
	migs, err := catalog.Migrations()
	assert.NoError(t, err)
	if assert.NotEmpty(t, migs) {
		assert.Equal(t, 1, migs[0].Version)
		assert.Equal(t, "init", migs[0].Name)
		assert.Contains(t, migs[0].SQL, "CREATE TABLE releases")
	}
}
