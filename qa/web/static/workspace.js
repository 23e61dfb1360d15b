/* callqa workspace: #t=SECONDS deep links and keyboard shortcuts on the call page. Plain JS, no libraries. */
(function () {
  "use strict";
  var player = document.getElementById("player");
  var rows = Array.prototype.slice.call(document.querySelectorAll(".utt[data-t]"));

  function rowAt(t) {
    var found = null;
    for (var i = 0; i < rows.length; i++) {
      if (parseFloat(rows[i].dataset.t) <= t + 0.01) { found = rows[i]; } else { break; }
    }
    return found;
  }

  function mark(row) {
    rows.forEach(function (r) { r.classList.toggle("now", r === row); });
    if (row) { row.scrollIntoView({block: "center"}); }
  }

  function seek(t, play) {
    if (!isFinite(t) || t < 0) { return; }
    mark(rowAt(t));
    if (!player) { return; }
    var go = function () {
      player.currentTime = t;
      if (play) { var p = player.play(); if (p && p.catch) { p.catch(function () {}); } }
    };
    if (player.readyState >= 1) { go(); } else { player.addEventListener("loadedmetadata", go, {once: true}); player.load(); }
  }

  function fromHash() {
    var m = /^#t=(\d+(?:\.\d+)?)$/.exec(window.location.hash);
    if (m) { seek(parseFloat(m[1]), false); }
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();

  function findingTimes() {
    var seen = {}, out = [];
    document.querySelectorAll(".utt[data-t]").forEach(function (row) {
      if (row.querySelector("mark")) {
        var t = parseFloat(row.dataset.t);
        if (!seen[t]) { seen[t] = true; out.push(t); }
      }
    });
    return out.sort(function (a, b) { return a - b; });
  }

  document.addEventListener("keydown", function (event) {
    if (!player || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || tag === "button" || event.target.isContentEditable) { return; }
    var key = event.key;
    if (key === " " || key === "k") {
      if (player.paused) { var p = player.play(); if (p && p.catch) { p.catch(function () {}); } } else { player.pause(); }
    } else if (key === "j" || key === "ArrowLeft") {
      player.currentTime = Math.max(0, player.currentTime - 5);
    } else if (key === "l" || key === "ArrowRight") {
      player.currentTime = Math.min(player.duration || Infinity, player.currentTime + 5);
    } else if (key === "n") {
      var now = player.currentTime, next = findingTimes().filter(function (t) { return t > now + 0.5; })[0];
      if (next === undefined) { return; }
      seek(next, !player.paused);
    } else { return; }
    event.preventDefault();
  });

  /* Confirm nothing: forms post and the server redirects back. Keep the page where it was after a post. */
  document.documentElement.dataset.wsReady = "1";
})();
