package httpserver

import (
	"log/slog"
	"net/http"
)

// New returns an http.Server for handler with cfg's timeouts and header cap. It does not
// listen: serve it on a listener from Listen. Set TLSConfig for TLS (see package certreload).
func New(handler http.Handler, cfg Config) (*http.Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelDebug),
	}, nil
}
