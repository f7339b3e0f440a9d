package deps

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/greensight/vzarr/"

// azureSDK are the Azure SDK's packages (storage, identity, Service Bus).
var azureSDK = []string{"github.com/Azure/", "github.com/AzureAD/"}

// brokerClients are the message brokers' clients.
var brokerClients = []string{
	"github.com/rabbitmq/amqp091-go",
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus",
	"gocloud.dev/pubsub/rabbitpubsub",
	"gocloud.dev/pubsub/azuresb",
}

// join concatenates lists of forbidden packages.
func join(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// TestDependenciesPointInward: `go list -deps` of each package (its
// non-test imports, transitively) holds none of the forbidden packages.
func TestDependenciesPointInward(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{"stac", azureSDK},
		{"refread", azureSDK},
		{"combine", azureSDK},
		{"kerchunk", azureSDK},
		{"validate", azureSDK},
		{"hdf5meta", azureSDK},
		{"blobio", azureSDK},
		{"engine", join(brokerClients, azureSDK, []string{module + "queue"})},
		{"queue", join(brokerClients, azureSDK)},
		{"queue/mem", join(brokerClients, azureSDK)},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			out, err := exec.Command(goCmd, "list", "-deps", module+tc.pkg).CombinedOutput()
			require.NoError(t, err, string(out))
			deps := strings.Fields(string(out))
			require.Contains(t, deps, module+tc.pkg, "go list names the package itself")
			for _, d := range deps {
				for _, f := range tc.forbidden {
					assert.False(t, under(d, f), "%s links %s", tc.pkg, d)
				}
			}
		})
	}
}

// under reports whether package path is prefix or below it.
func under(path, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func TestUnder(t *testing.T) {
	assert.True(t, under("github.com/Azure/azure-sdk-for-go/sdk/azcore", "github.com/Azure/"))
	assert.True(t, under(module+"queue", module+"queue"))
	assert.True(t, under(module+"queue/rabbit", module+"queue"))
	assert.False(t, under(module+"queuelike", module+"queue"))
	assert.False(t, under("github.com/AzureX/y", "github.com/Azure/"))
}
