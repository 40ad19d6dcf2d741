package web

import (
	"net/url"
	"strings"
)

// safeNext keeps a post-sign-in redirect on this server. It judges next the
// way a browser will read it in a Location header, not as Go reads it: the
// WHATWG URL parser strips leading and trailing C0 controls and spaces,
// removes every ASCII tab, LF and CR, and reads "\" as "/" in http(s) URLs,
// so "/\t/evil.example" and "/\\evil.example" both mean "//evil.example",
// another origin. After that normalisation next must be a path on this
// host (no scheme, no host, not "//…"), with no control characters left and
// no encoded "/" or "\" that decodes to "//"; anything else becomes "/".
// What is returned is the normalised form, so what was checked is exactly
// what the browser is sent.
func safeNext(next string) string {
	s := browserNormalise(next)
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || hasControl(s) {
		return "/"
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	// A proxy or server on the way may decode %2f or %5c (or an encoded
	// tab); a path that would then begin with "//" is refused too.
	if p := browserNormalise(u.Path); strings.HasPrefix(p, "//") || hasControl(u.Path) {
		return "/"
	}
	return s
}

// browserNormalise applies what a browser does to a URL before parsing it
// (WHATWG URL Standard, basic URL parser): trim leading and trailing C0
// controls and spaces, remove ASCII tab and newline anywhere, and read
// backslashes as slashes (true of every http(s) URL).
func browserNormalise(s string) string {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= 0x20 })
	s = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(s)
	return strings.ReplaceAll(s, `\`, "/")
}

// hasControl reports whether s holds a C0 control or DEL: a genuine path
// never does, and a header must not.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
