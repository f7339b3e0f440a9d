package blobio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"

	"gocloud.dev/gcerrors"
)

// Kinds of error, for errors.Is. Every error that blobio returns for a
// storage operation is an *Error whose Kind is one of these (or nil when
// the cause is unknown); context.Canceled and context.DeadlineExceeded of
// the caller's context stay visible through errors.Is as well.
var (
	// ErrInvalidURL: the URL has no scheme blobio knows or is malformed.
	ErrInvalidURL = errors.New("invalid URL")
	// ErrInvalidArgument: a bad option, such as a malformed glob pattern.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrConfig: the configuration does not allow the operation, such as an
	// abfs://CONTAINER/PATH URL with no storage account configured.
	ErrConfig = errors.New("configuration error")
	// ErrNotFound: the object, container, account or directory does not exist.
	ErrNotFound = errors.New("not found")
	// ErrPermission: authentication or authorization failed.
	ErrPermission = errors.New("permission denied")
	// ErrUnavailable: the storage could not be reached, or kept failing or
	// timing out after the bounded retries.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrChanged: the object was replaced while it was being read.
	ErrChanged = errors.New("object changed while being read")
	// ErrPrecondition: the condition of a conditional write did not hold
	// (the object exists, or changed since it was read); nothing was
	// written.
	ErrPrecondition = errors.New("write condition not met")
	// ErrUnsupported: the storage cannot do what was asked, such as a
	// conditional write to a local file (see Objects).
	ErrUnsupported = errors.New("not supported by this storage")
	// ErrSourceNotAllowed: the URL names a host that is no storage
	// endpoint of a configured account (nor an allowed host), or a location
	// outside an AllowList. Nothing was sent to it.
	ErrSourceNotAllowed = errors.New("source not allowed")
	// ErrRedirect: the storage answered with an HTTP redirect (3xx). vzarr
	// follows none, so no request (and no credential) goes to the host it
	// names; the operation fails instead.
	ErrRedirect = errors.New("storage redirect refused")
)

// Error describes a failed blobio operation on a URL.
type Error struct {
	Op   string // "open", "scan", "read", "write", "stat"
	URL  string // the URL as given
	Kind error  // one of the Err* kinds, or nil
	Err  error  // the underlying error
}

// Error says what failed, on which URL, and why.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("blobio: ")
	b.WriteString(e.Op)
	if e.URL != "" {
		b.WriteString(" ")
		b.WriteString(e.URL)
	}
	if e.Kind != nil && !errors.Is(e.Err, e.Kind) {
		b.WriteString(": ")
		b.WriteString(e.Kind.Error())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is and errors.As see both the kind and the cause.
func (e *Error) Unwrap() []error {
	var out []error
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// wrap turns err from an operation on url into an *Error with its kind.
// ctx is the caller's context: when it has ended, its error is the cause.
func wrap(ctx context.Context, op, url string, err error) error {
	if err == nil {
		return nil
	}
	var be *Error
	if errors.As(err, &be) {
		return err
	}
	if ctx != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return &Error{Op: op, URL: url, Kind: classify(ctx, err), Err: compact(err)}
}

// CompactError returns an error with the one-line message msg whose
// chain holds err (the Azure driver shortens the SDK's errors with it).
func CompactError(msg string, err error) error { return &compactError{msg: msg, err: err} }

// StripQuery returns u without its query and user information (which can
// hold a SAS token or a password), for messages.
func StripQuery(u *url.URL) string { return stripQuery(u) }

// compactError gives a short message to an error that keeps its chain.
type compactError struct {
	msg string
	err error
}

func (e *compactError) Error() string { return e.msg }
func (e *compactError) Unwrap() error { return e.err }

// compact shortens the messages of Azure SDK errors (which span many lines
// with the response body) to one line, and drops the query of request URLs
// (which can hold a SAS token).
func compact(err error) error {
	if d := registeredAzure(); d != nil {
		if c := d.Compact(err); c != nil {
			return c
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		u, perr := url.Parse(ue.URL)
		where := ue.URL
		if perr == nil {
			where = stripQuery(u)
		}
		return &compactError{msg: fmt.Sprintf("%s %s: %v", ue.Op, where, ue.Err), err: err}
	}
	return err
}

func stripQuery(u *url.URL) string {
	c := *u
	c.RawQuery, c.ForceQuery, c.User = "", false, nil
	return c.String()
}

// classify finds the kind of a storage error.
func classify(ctx context.Context, err error) error {
	if ctx != nil && ctx.Err() != nil {
		return nil // the caller's own cancellation or deadline; no storage kind
	}
	for _, k := range []error{ErrSourceNotAllowed, ErrRedirect, ErrInvalidURL, ErrInvalidArgument, ErrConfig, ErrNotFound, ErrPermission, ErrUnavailable, ErrChanged, ErrPrecondition, ErrUnsupported} {
		if errors.Is(err, k) {
			return k
		}
	}
	if d := registeredAzure(); d != nil {
		if kind, ok := d.Classify(err); ok {
			return kind
		}
	}
	if strings.Contains(err.Error(), "DefaultAzureCredential") || strings.Contains(err.Error(), "credential unavailable") {
		return ErrPermission
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return ErrNotFound
	case gcerrors.PermissionDenied:
		return ErrPermission
	case gcerrors.InvalidArgument:
		return ErrInvalidArgument
	case gcerrors.DeadlineExceeded, gcerrors.ResourceExhausted:
		return ErrUnavailable
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return ErrNotFound // e.g. a storage account that does not exist
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, context.DeadlineExceeded) {
		// Transport failures and per-try timeouts, after the retries.
		return ErrUnavailable
	}
	return nil
}
