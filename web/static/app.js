// voicehook admin: small progressive enhancements; every page works without them.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Ask before a form marked data-confirm is sent (replay all).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) ev.preventDefault();
    });
  });
  // Filter at once when a status is picked.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });
  // Show each UTC time in the reader's own time zone on hover.
  document.querySelectorAll("time[datetime]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) t.title = d.toLocaleString();
  });
  // Voiceover QA: a highlighted word or a difference (data-at, in seconds)
  // plays the page's voiceover from that moment. Without this script the
  // same link opens the audio at its #t= media fragment.
  var voiceover = document.getElementById("voiceover");
  if (voiceover) {
    var marked = null;
    document.addEventListener("click", function (ev) {
      if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return; // a new tab stays a new tab
      var el = ev.target.closest("[data-at]");
      if (!el) return;
      var at = parseFloat(el.getAttribute("data-at"));
      if (!isFinite(at) || at < 0) return;
      ev.preventDefault();
      var seek = function () {
        voiceover.currentTime = at;
        var played = voiceover.play();
        if (played && played.catch) played.catch(function () {}); // autoplay refused: the position is set
      };
      // Before its metadata is loaded the audio cannot seek yet.
      if (voiceover.readyState >= 1) seek(); else { voiceover.addEventListener("loadedmetadata", seek, { once: true }); voiceover.load(); }
      if (marked) marked.classList.remove("qa-playing");
      marked = el.closest("tr") || el;
      marked.classList.add("qa-playing");
    });
  }
  // Auto-refresh (overview, events, dead). A link of the control opens the
  // page with ?refresh=N, which the server answers with a meta refresh; the
  // choice is remembered here and applied to the pages opened without it.
  var control = document.querySelector("[data-refresh]");
  if (control) {
    var KEY = "voicehook.refresh";
    var remember = function (secs) {
      try {
        if (secs > 0) localStorage.setItem(KEY, String(secs)); else localStorage.removeItem(KEY);
      } catch (e) { /* storage off: the links still work */ }
    };
    var params = new URLSearchParams(location.search);
    if (params.has("refresh")) {
      remember(parseInt(params.get("refresh"), 10) || 0);
    } else {
      var secs = 0;
      try { secs = parseInt(localStorage.getItem(KEY), 10) || 0; } catch (e) { secs = 0; }
      var link = control.querySelector('a[data-seconds="' + secs + '"]');
      if (secs > 0 && link) {
        control.querySelectorAll("a[data-seconds]").forEach(function (a) { a.removeAttribute("aria-current"); });
        link.setAttribute("aria-current", "true");
        var reload = function () {
          // Not while the reader types in a field or the tab is hidden.
          var el = document.activeElement;
          if (document.hidden || (el && /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName))) {
            setTimeout(reload, 2000);
            return;
          }
          // A one-time message (after a replay) is not shown again.
          var u = new URL(location.href);
          ["msg", "n", "skipped"].forEach(function (k) { u.searchParams.delete(k); });
          location.replace(u.toString());
        };
        setTimeout(reload, secs * 1000);
      }
    }
  }
  // "/" goes to the search box, as on many sites.
  var search = document.getElementById("search");
  if (search) {
    document.addEventListener("keydown", function (ev) {
      var el = document.activeElement;
      if (ev.key !== "/" || ev.metaKey || ev.ctrlKey || ev.altKey || (el && /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName))) return;
      ev.preventDefault();
      search.focus();
    });
  }
  // A button that sends a form is disabled while the form is sent.
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (ev.defaultPrevented) return;
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    });
  });
});
