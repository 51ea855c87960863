package cli

import (
	"context"
	"log/slog"
	"strings"

	"github.com/herdhq/herd/cluster"
	"github.com/herdhq/herd/ipc"
)

// logEvent logs one of the cluster's events with herd's logger.
func logEvent(log *slog.Logger, e cluster.Event) {
	level, attrs := slog.LevelInfo, eventAttrs(e)
	switch e.Type {
	case cluster.EventOnline, cluster.EventDisconnect:
		level = slog.LevelDebug
	case cluster.EventExit:
		if !e.Expected {
			level = slog.LevelWarn
		}
	case cluster.EventRestart, cluster.EventReplace, cluster.EventSuspect, cluster.EventNotice:
		level = slog.LevelWarn
	case cluster.EventReload:
		if e.Err != nil {
			level = slog.LevelWarn
		}
	case cluster.EventGiveUp, cluster.EventError:
		level = slog.LevelError
	}
	log.LogAttrs(context.Background(), level, string(e.Type), attrs...)
}

func eventAttrs(e cluster.Event) []slog.Attr {
	var a []slog.Attr
	if e.WorkerID != 0 {
		a = append(a, slog.Int("worker", e.WorkerID), slog.Int("pid", e.Pid))
	}
	switch e.Type {
	case cluster.EventExit:
		if e.Signal != 0 {
			a = append(a, slog.String("signal", e.Signal.String()))
		} else {
			a = append(a, slog.Int("code", e.Code))
		}
		a = append(a, slog.Bool("expected", e.Expected))
	case cluster.EventListening, cluster.EventError:
		if e.Addr != "" {
			a = append(a, slog.String("addr", e.Addr))
		}
	case cluster.EventRestart:
		a = append(a, slog.Duration("delay", e.Delay))
	}
	if e.Detail != "" {
		a = append(a, slog.String("detail", e.Detail))
	}
	if e.Err != nil {
		a = append(a, slog.String("err", e.Err.Error()))
	}
	return a
}

// maxLoggedMessage bounds the part of a worker's message herd logs.
const maxLoggedMessage = 4096

// logMessage logs a message a worker sent its primary (Node's
// process.send, the Go library's Channel().Send), and closes the handle
// that came with it: the CLI has no use for one.
func logMessage(log *slog.Logger, w cluster.WorkerInfo, m *ipc.Message) {
	a := []slog.Attr{slog.Int("worker", w.ID), slog.Int("pid", w.Pid)}
	if data := string(m.Data); len(data) > maxLoggedMessage {
		a = append(a, slog.String("data", strings.ToValidUTF8(data[:maxLoggedMessage], "")+"…"), slog.Int("bytes", len(data)))
	} else {
		a = append(a, slog.String("data", data))
	}
	if m.Handle != nil {
		a = append(a, slog.String("handle", m.HandleType+" (closed)"))
		m.CloseHandle()
	}
	log.LogAttrs(context.Background(), slog.LevelInfo, "message", a...)
}
