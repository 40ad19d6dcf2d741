package disk

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/voicehook/voicehook"
)

// mediaPrefix is where media lives under the public URL.
const mediaPrefix = "/media/"

// Handler serves GET and HEAD /media/<key> from the root directory, with
// Range support. Mount it at "/media/"; it strips the prefix itself. When
// requireSignature is true every request needs a valid, unexpired exp/sig
// pair (see SignedURL) and gets 403 otherwise; when false media is public
// and signature parameters are ignored.
func (s *Storage) Handler(requireSignature bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, requireSignature)
	})
}

func (s *Storage) serve(w http.ResponseWriter, r *http.Request, requireSignature bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "media supports only GET and HEAD")
		return
	}
	key, ok := strings.CutPrefix(r.URL.Path, mediaPrefix)
	// keyProblem refuses "..", empty segments and temp files before the
	// file system is touched; os.Root below also refuses symlinks that leave
	// the root.
	if !ok || keyProblem(key) != nil {
		writeError(w, http.StatusNotFound, "no such media")
		return
	}
	if requireSignature {
		if err := s.checkSignature(key, r.URL.Query()); err != nil {
			writeError(w, http.StatusForbidden, err.Error())
			return
		}
	}

	root, err := os.OpenRoot(s.root)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "media directory is not readable")
		return
	}
	defer root.Close()
	f, err := root.Open(key)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			writeError(w, http.StatusInternalServerError, "media file is not readable by voicehook")
			return
		}
		writeError(w, http.StatusNotFound, "no such media")
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		writeError(w, http.StatusNotFound, "no such media")
		return
	}
	w.Header().Set("Content-Type", voicehook.ContentTypeOf(key))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, path.Base(key), fi.ModTime(), f)
}

// writeError answers in the same {"status":"error","message":…} shape as the
// rest of voicehook's HTTP interface.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"status": "error", "message": msg})
}
