// Package azuresb is the queue driver of azuresb://TOPIC?subscription=SUB
// URLs: Azure Service Bus, a topic and one of its subscriptions (both must
// exist; the subscription defaults to "workers"), through gocloud.dev's
// azuresb. The namespace is reached with SERVICEBUS_CONNECTION_STRING (a
// shared access key) when it is set, else with azidentity's
// DefaultAzureCredential against AZURE_SERVICEBUS_HOSTNAME; both can be
// given in queue.Options instead. listener_timeout and max_recv_batch_size
// pass through to gocloud.dev's driver. Import it for its side effect:
//
//	import _ "github.com/greensight/vzarr/queue/azuresb"
package azuresb

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	servicebus "github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/azuresb"

	"github.com/greensight/vzarr/queue"
)

// DefaultSubscription is the subscription of azuresb:// URLs that name
// none.
const DefaultSubscription = "workers"

func init() { queue.Register(queue.SchemeAzureSB, driver{}) }

// driver implements queue.Driver.
type driver struct{}

// serviceBusConfig is what Open resolved from the URL, the options
// and the environment.
type serviceBusConfig struct {
	Topic, Subscription string
	// Exactly one of these authenticates.
	ConnectionString string
	Hostname         string // with DefaultAzureCredential
	// Query parameters passed through to gocloud.dev's driver.
	SubQuery url.Values
}

// serviceBusSettings resolves the Service Bus configuration of a queue URL,
// without connecting.
func serviceBusSettings(name string, query url.Values, opts *queue.Options) (*serviceBusConfig, error) {
	cfg := &serviceBusConfig{Topic: name, Subscription: DefaultSubscription, SubQuery: url.Values{}}
	for k, v := range query {
		switch k {
		case "subscription":
			cfg.Subscription = v[0]
		case "listener_timeout", "max_recv_batch_size":
			cfg.SubQuery[k] = v
		default:
			return nil, fmt.Errorf("%w: azuresb://%s: unknown parameter %q (azuresb:// takes subscription, listener_timeout, max_recv_batch_size)", queue.ErrInvalidURL, name, k)
		}
	}
	if cfg.Subscription == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("%w: azuresb://%s: want azuresb://TOPIC?subscription=NAME", queue.ErrInvalidURL, name)
	}
	cfg.ConnectionString = opts.ServiceBusConnectionString
	if cfg.ConnectionString == "" {
		cfg.ConnectionString = os.Getenv("SERVICEBUS_CONNECTION_STRING")
	}
	if cfg.ConnectionString == "" {
		cfg.Hostname = opts.ServiceBusHostname
		if cfg.Hostname == "" {
			cfg.Hostname = os.Getenv("AZURE_SERVICEBUS_HOSTNAME")
		}
		if cfg.Hostname == "" {
			return nil, fmt.Errorf("%w: azuresb://%s needs SERVICEBUS_CONNECTION_STRING or AZURE_SERVICEBUS_HOSTNAME (NAMESPACE.servicebus.windows.net, with DefaultAzureCredential)", queue.ErrConfig, name)
		}
	}
	return cfg, nil
}

// Open implements queue.Driver: it opens a Service Bus topic and
// subscription through gocloud.dev's azuresb driver. Its clients connect
// lazily: a namespace that cannot be reached shows up at the first Publish
// or Receive.
func (driver) Open(ctx context.Context, name string, query url.Values, opts *queue.Options) (*queue.Conn, error) {
	cfg, err := serviceBusSettings(name, query, opts)
	if err != nil {
		return nil, err
	}
	opener := &azuresb.URLOpener{ConnectionString: cfg.ConnectionString, ServiceBusHostname: cfg.Hostname}
	connect := func(ctx context.Context) (*queue.Session, error) {
		return connectAzureSB(ctx, opener, cfg, opts.NoSubscription)
	}
	first, err := connect(ctx)
	if err != nil {
		return nil, err
	}
	// The clients connect lazily and reconnect on their own; a
	// subscription whose receive failed is replaced by the link. The
	// namespace counts as reachable again once an operation succeeds.
	return &queue.Conn{Session: first, Reconnect: connect}, nil
}

// connectAzureSB opens the topic and, unless noSub, the subscription.
func connectAzureSB(ctx context.Context, opener *azuresb.URLOpener, cfg *serviceBusConfig, noSub bool) (*queue.Session, error) {
	topic, err := opener.OpenTopicURL(ctx, &url.URL{Scheme: queue.SchemeAzureSB, Host: cfg.Topic})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", queue.ErrConfig, err)
	}
	s := &queue.Session{Topic: topic}
	if !noSub {
		sq := url.Values{"subscription": {cfg.Subscription}}
		for k, v := range cfg.SubQuery {
			sq[k] = v
		}
		var sub *pubsub.Subscription
		sub, err = opener.OpenSubscriptionURL(ctx, &url.URL{Scheme: queue.SchemeAzureSB, Host: cfg.Topic, RawQuery: sq.Encode()})
		if err != nil {
			_ = topic.Shutdown(ctx)
			return nil, fmt.Errorf("%w: %v", queue.ErrConfig, err)
		}
		s.Subscription = sub
		var recv *servicebus.Receiver
		if sub.As(&recv) && recv != nil {
			s.Probe = func(ctx context.Context) error {
				_, err := recv.PeekMessages(ctx, 1, nil)
				return err
			}
		}
	}
	return s, nil
}
