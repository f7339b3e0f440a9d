package engine

import (
	"context"
	"errors"
	"fmt"
)

// Errors of the engine's work messages. A Receiver's errors wrap ErrClosed
// once it is closed (Work then returns); a body that is not a work message
// gives ErrBadMessage.
var (
	// ErrClosed: the work queue was closed.
	ErrClosed = errors.New("queue: closed")
	// ErrBadMessage: a received message is not a work message.
	ErrBadMessage = errors.New("queue: malformed message")
)

// Message is one unit of work: a job to start or advance, or a task of a
// job to run. Only ids travel; everything else is in the store.
type Message struct {
	JobID  string `json:"job_id"`
	TaskID string `json:"task_id,omitempty"`
}

// Validate checks that m names a job.
func (m Message) Validate() error {
	if m.JobID == "" {
		return fmt.Errorf("%w: no job_id", ErrBadMessage)
	}
	return nil
}

// String is a short form for logs.
func (m Message) String() string {
	if m.TaskID == "" {
		return "job " + m.JobID
	}
	return "task " + m.TaskID
}

// Publisher sends work messages (the queue package's *Queue is one).
type Publisher interface {
	Publish(ctx context.Context, m Message) error
}

// Receiver receives work messages (the queue package's *Queue is one).
type Receiver interface {
	Receive(ctx context.Context) (*Delivery, error)
}

// Delivery is a received message. Exactly one of Ack and Nack must be
// called once the message is handled.
type Delivery struct {
	Message
	err       error
	ack, nack func()
}

// NewDelivery returns the delivery of m, for a Receiver: err is non-nil
// for a body that is not a work message, ack removes the message from the
// queue and nack returns it for another delivery (nil: leave it
// unacknowledged until its ack deadline).
func NewDelivery(m Message, err error, ack, nack func()) *Delivery {
	return &Delivery{Message: m, err: err, ack: ack, nack: nack}
}

// Err is non-nil for a body that is not a work message (Ack it: delivering
// it again cannot help).
func (d *Delivery) Err() error { return d.err }

// Ack removes the message from the queue.
func (d *Delivery) Ack() {
	if d.ack != nil {
		d.ack()
	}
}

// Nack returns the message to the queue for another delivery, now. On a
// queue that cannot nack it is left unacknowledged, and comes back when
// its ack deadline (lock) expires.
func (d *Delivery) Nack() {
	if d.nack != nil {
		d.nack()
	}
}
