package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRunDispatch(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, 2, run(nil, &out, &errb))
	assert.Contains(t, errb.String(), "Usage:")

	out.Reset()
	errb.Reset()
	assert.Equal(t, 0, run([]string{"version"}, &out, &errb))
	assert.JSONEq(t, `{"success": true, "result": {"version": "dev"}}`, out.String())

	errb.Reset()
	assert.Equal(t, 2, run([]string{"no-such-command"}, &out, &errb))
	assert.Contains(t, errb.String(), `unknown command "no-such-command"`)
}
