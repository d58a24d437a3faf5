// Package console serves quell's web console: a page for the people on
// call to see incidents (their alerts, the reasons they were grouped, the
// timeline, the graph around them, their tickets) and to acknowledge,
// merge, move and resolve them. It is plain HTML, CSS and JavaScript
// embedded in the binary, with no build step, reading the same API as
// every other client (and its tokens).
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed assets
var assets embed.FS

// Register mounts the console at / (the page) and /console/ (its assets).
func Register(mux *http.ServeMux) {
	files, _ := fs.Sub(assets, "assets") // the folder is embedded: it exists
	static := http.StripPrefix("/console/", http.FileServerFS(files))
	mux.Handle("GET /console/", headers(static))
	mux.Handle("GET /{$}", headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, files, "index.html")
	})))
}

// headers keep the page to its own scripts and styles and out of frames.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}
