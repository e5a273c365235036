/* The page's only script besides htmx. No inline code anywhere, so it runs under a strict CSP.
 *
 * 1. Conditional polls: each polled region carries the ETag of the fragment it shows
 *    (data-etag); every poll sends it as If-None-Match, so an unchanged fragment comes back as a
 *    bodiless 304, which the htmx-config meta tells htmx not to swap.
 * 2. "Connection lost, retrying": shown while the last poll of any region failed, hidden again by
 *    that region's next good answer. The old content stays on screen.
 * 3. Relative ages ("12 s ago") of every <time data-since>, recomputed each second with the same
 *    words as the server (statuspage.status.ago), against the server's clock when ours is off.
 */
(function () {
  "use strict";

  var notice = document.getElementById("connection-lost");
  var failing = {};
  var clockOffsetMs = 0; // server time minus our time, when they disagree by more than 2 s

  function ago(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 120) return seconds + " s ago";
    if (seconds < 7200) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 172800) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " d ago";
  }

  function updateAges() {
    var now = Date.now() + clockOffsetMs;
    var nodes = document.querySelectorAll("[data-since]");
    for (var i = 0; i < nodes.length; i++) {
      var since = Date.parse(nodes[i].getAttribute("data-since"));
      if (!isNaN(since)) {
        var text = ago((now - since) / 1000);
        if (nodes[i].textContent !== text) nodes[i].textContent = text;
      }
    }
  }

  function learnServerClock(xhr) {
    var date = Date.parse(xhr.getResponseHeader("Date") || "");
    if (isNaN(date)) return;
    var offset = date + 500 - Date.now(); // the header has whole seconds
    clockOffsetMs = Math.abs(offset) > 2000 ? offset : 0;
  }

  function showNotice() {
    var anyFailing = Object.keys(failing).length > 0;
    if (notice && notice.hidden === anyFailing) notice.hidden = !anyFailing;
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var etag = event.detail.elt.getAttribute("data-etag");
    if (etag) event.detail.headers["If-None-Match"] = etag;
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    // the polled region, or the region a link inside it (the equity range switch) swapped
    var elt = event.detail.elt.hasAttribute("data-etag") ? event.detail.elt : event.detail.target || event.detail.elt;
    var xhr = event.detail.xhr;
    if (event.detail.successful) {
      delete failing[elt.id];
      var etag = xhr.getResponseHeader("ETag");
      if (xhr.status === 200 && etag && elt.hasAttribute("data-etag")) elt.setAttribute("data-etag", etag);
      learnServerClock(xhr);
    } else {
      failing[elt.id] = true;
    }
    showNotice();
  });

  document.addEventListener("htmx:afterSettle", updateAges);
  window.setInterval(updateAges, 1000);
  updateAges();
})();
