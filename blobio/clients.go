package blobio

import "sync"

// MaxCachedClients bounds the clients an Opener caches for its drivers
// (Opener.CachedClient): one per container (and credential) the process
// reaches, far fewer than this in practice.
const MaxCachedClients = 64

// clientCache holds the clients of an Opener's drivers.
type clientCache struct {
	mu sync.Mutex
	m  map[string]any
}

// CachedClient returns the client an earlier call cached under key, else
// makes one with create and caches it. Drivers use it so that opening a
// blob does not build a new client each time (the Azure SDK's client from a
// connection string parses it and builds its request pipeline: about a
// tenth of the CPU of reading many small blobs). key must name everything
// the client depends on (the container, the connection string or the URL
// and credential, the driver); the decision whether the container may be
// reached at all (AzureContainer) is made on every open, before this is
// called. At most MaxCachedClients are kept; beyond them, create's client
// is returned uncached. An error is never cached. Cached clients hold no
// resources of their own (connections belong to the shared HTTP
// transport), so they need no closing. Safe for concurrent use.
func (o *Opener) CachedClient(key string, create func() (any, error)) (any, error) {
	c := &o.clients
	c.mu.Lock()
	if v, ok := c.m[key]; ok {
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()
	v, err := create()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok {
		return old, nil // another open made it first
	}
	if len(c.m) < MaxCachedClients {
		if c.m == nil {
			c.m = map[string]any{}
		}
		c.m[key] = v
	}
	return v, nil
}
