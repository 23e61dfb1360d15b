(function () {
  "use strict";
  var player = document.getElementById("player");
  var rows = Array.prototype.slice.call(document.querySelectorAll(".utt[data-t]"));
  var current = null;

  function highlight(row) {
    if (row === current) { return; }
    if (current) { current.classList.remove("now"); }
    current = row;
    if (row) { row.classList.add("now"); }
  }

  function rowAt(t) {
    var found = null;
    for (var i = 0; i < rows.length; i++) {
      if (parseFloat(rows[i].dataset.t) <= t + 0.01) { found = rows[i]; } else { break; }
    }
    return found;
  }

  function seek(t) {
    if (!player) { return false; }
    try { player.currentTime = t; } catch (err) { return false; }
    var played = player.play();
    if (played && played.catch) { played.catch(function () {}); }
    return true;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-t]");
    if (link) {
      var t = parseFloat(link.dataset.t);
      if (seek(t)) {
        event.preventDefault();
        highlight(rowAt(t));
      }
      return;
    }
    var pick = event.target.closest("button[data-status]");
    if (pick) {
      var box = pick.closest(".dispute");
      box.querySelector("code").textContent = pick.dataset.cmd;
      box.querySelectorAll("button[data-status]").forEach(function (b) {
        b.classList.toggle("on", b === pick);
      });
      return;
    }
    var copy = event.target.closest("button.copy");
    if (copy) {
      var text = copy.closest(".dispute").querySelector("code").textContent;
      var done = function () { copy.textContent = "Copied"; setTimeout(function () { copy.textContent = "Copy"; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () {});
      } else {
        var area = document.createElement("textarea");
        area.value = text;
        document.body.appendChild(area);
        area.select();
        try { document.execCommand("copy"); done(); } catch (err) { /* the reviewer can still select it */ }
        area.remove();
      }
      return;
    }
    var filter = event.target.closest("button[data-filter]");
    if (filter) {
      var only = filter.dataset.filter === "attention";
      document.querySelectorAll("tr.item").forEach(function (tr) {
        tr.hidden = only && !tr.classList.contains("attention");
      });
      document.querySelectorAll("button[data-filter]").forEach(function (b) {
        b.classList.toggle("on", b === filter);
      });
    }
  });

  if (player) {
    player.addEventListener("timeupdate", function () { highlight(rowAt(player.currentTime)); });
    var clockOut = document.getElementById("player-time");
    if (clockOut) {
      player.addEventListener("timeupdate", function () {
        var s = Math.floor(player.currentTime), m = Math.floor(s / 60);
        clockOut.textContent = (m < 10 ? "0" : "") + m + ":" + (s % 60 < 10 ? "0" : "") + (s % 60);
      });
    }
  }
  // A link ending in #t=SECONDS (the coaching report's "listen at") opens the page at that moment:
  // the utterance said then is highlighted and scrolled to, and the audio is set to start there.
  function openAt() {
    var m = /^#t=(\d+(?:\.\d+)?)$/.exec(window.location.hash);
    if (!m) { return; }
    var t = parseFloat(m[1]);
    var row = rowAt(t) || rows[0] || null;
    highlight(row);
    if (row) { row.scrollIntoView({block: "center"}); }
    document.body.dataset.openedAt = String(t);
    if (player) {
      var cue = function () { try { player.currentTime = t; } catch (err) { /* not seekable yet */ } };
      if (player.readyState >= 1) { cue(); } else { player.addEventListener("loadedmetadata", cue, {once: true}); }
    }
  }
  window.addEventListener("hashchange", openAt);
  openAt();
  document.body.dataset.ready = "1";
})();
