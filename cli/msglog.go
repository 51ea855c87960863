package cli

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/ipc"
)

// defaultMessageLogRate is how many of a worker's messages herd logs a
// second, by default (--log-messages).
const defaultMessageLogRate = 100

// msgReportEvery is how long after the first message it did not log herd
// says how many it did not log, naming the worker.
const msgReportEvery = time.Second

// msgForget is how long after a worker's exit herd keeps its bucket, for
// the messages still on their way.
const msgForget = 5 * time.Second

// msgLog logs the messages workers send herd, at most rate a second per
// worker with bursts of 2×rate (a token bucket each), and counts the
// others in a "messages not logged" line. It only limits the log: every
// message has already reached the cluster, and its handle is closed.
type msgLog struct {
	log     *slog.Logger
	rate    float64  // messages a second per worker; < 0: no limit; 0: none
	workers sync.Map // worker id → *msgBucket
}

// msgBucket is one worker's token bucket. tokens and last are used only
// by the goroutine that delivers that worker's messages (OnMessage runs on
// one per worker); dropped is also read by the report timer.
type msgBucket struct {
	tokens  float64
	last    time.Time
	dropped atomic.Int64
}

func newMsgLog(log *slog.Logger, rate int) *msgLog {
	return &msgLog{log: log, rate: float64(rate)}
}

// message logs m, unless w is past its rate.
func (l *msgLog) message(w cluster.WorkerInfo, m *ipc.Message) {
	if l.rate < 0 {
		logMessage(l.log, w, m)
		return
	}
	b := l.bucket(w.ID)
	if b.take(time.Now(), l.rate) {
		logMessage(l.log, w, m)
		return
	}
	m.CloseHandle()
	if b.dropped.Add(1) == 1 {
		time.AfterFunc(msgReportEvery, func() { l.report(w, b) })
	}
}

// bucket returns worker id's bucket, made full on its first message.
func (l *msgLog) bucket(id int) *msgBucket {
	if b, ok := l.workers.Load(id); ok {
		return b.(*msgBucket)
	}
	b, _ := l.workers.LoadOrStore(id, &msgBucket{tokens: 2 * l.rate, last: time.Now()})
	return b.(*msgBucket)
}

// take refills the bucket for the time since the last message and takes
// a token, if there is one.
func (b *msgBucket) take(now time.Time, rate float64) bool {
	b.tokens = min(2*rate, b.tokens+rate*now.Sub(b.last).Seconds())
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// report logs how many of w's messages were not logged since the last
// report.
func (l *msgLog) report(w cluster.WorkerInfo, b *msgBucket) {
	if n := b.dropped.Swap(0); n > 0 {
		l.log.LogAttrs(context.Background(), slog.LevelWarn, "messages not logged",
			slog.Int("worker", w.ID), slog.Int("pid", w.Pid), slog.Int64("count", n), slog.Float64("limit_per_second", l.rate))
	}
}

// exited forgets worker id's bucket, a while after its exit.
func (l *msgLog) exited(id int) {
	time.AfterFunc(msgForget, func() { l.workers.Delete(id) })
}
