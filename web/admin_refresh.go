package web

import (
	"net/http"
	"net/url"
	"strconv"
)

// Auto-refresh of the overview, events and dead pages: off, every 10 s or
// every 60 s. The control is links to the same page with ?refresh=N; such a
// page carries <meta http-equiv="refresh">, which reloads it without any
// script. app.js remembers the choice (localStorage) and applies it on the
// pages opened later without the parameter. Off by default.

// refreshChoices are the offered intervals, in seconds (0: off).
var refreshChoices = []int{0, 10, 60}

type refreshOption struct {
	Label   string
	Seconds int
	URL     string
	Current bool
}

// refreshControl is the control as a page shows it; Seconds is what the
// page's meta refresh says (0: none).
type refreshControl struct {
	Seconds int
	Options []refreshOption
}

// refreshFor builds the control for r's page: its links keep r's other
// query parameters (filters, the chart window), not a one-time message.
func refreshFor(r *http.Request) *refreshControl {
	q := r.URL.Query()
	c := &refreshControl{}
	if n, err := strconv.Atoi(q.Get("refresh")); err == nil {
		for _, s := range refreshChoices {
			if s == n {
				c.Seconds = n
			}
		}
	}
	for _, s := range refreshChoices {
		v := url.Values{}
		for k, vs := range q {
			if k != "msg" && k != "n" && k != "skipped" {
				v[k] = vs
			}
		}
		v.Set("refresh", strconv.Itoa(s))
		label := "off"
		if s > 0 {
			label = strconv.Itoa(s) + " s"
		}
		c.Options = append(c.Options, refreshOption{Label: label, Seconds: s, URL: r.URL.Path + "?" + v.Encode(), Current: s == c.Seconds})
	}
	return c
}
