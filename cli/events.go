package cli

import (
	"context"
	"log/slog"

	"github.com/herdhq/herd/cluster"
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
	case cluster.EventRestart, cluster.EventReplace, cluster.EventSuspect:
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
	case cluster.EventListening:
		a = append(a, slog.String("addr", e.Addr))
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
