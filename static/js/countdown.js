// Live countdowns: every <time data-countdown="ISO"> shows the time left, updated each second.
// The server renders the same text, so the page reads correctly without JavaScript.
(function () {
  "use strict";
  // Timers are not live regions (role="timer", aria-live="off"): a screen reader is not
  // told every second; the absolute date beside each countdown says the same once.
  var lang = document.documentElement.lang || "en";
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }
  function unit(n, name, display) {
    // Other languages name the units as the browser's Intl does ("2 дня 3 ч 4 мин 5 с").
    return new Intl.NumberFormat(lang, { style: "unit", unit: name, unitDisplay: display }).format(n);
  }
  function format(ms) {
    var s = Math.floor(ms / 1000);
    var d = Math.floor(s / 86400); s -= d * 86400;
    var h = Math.floor(s / 3600); s -= h * 3600;
    var m = Math.floor(s / 60); s -= m * 60;
    if (lang.indexOf("en") !== 0 && window.Intl && Intl.NumberFormat) {
      var rest = unit(m, "minute", "short") + " " + unit(s, "second", "short");
      if (d > 0 || h > 0) rest = unit(h, "hour", "short") + " " + rest;
      return d > 0 ? unit(d, "day", "long") + " " + rest : rest;
    }
    var clock = h + " h " + m + " min " + s + " s";
    if (d > 0) return plural(d, "day", "days") + " " + clock;
    if (h > 0) return clock;
    return m + " min " + s + " s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = Date.parse(el.getAttribute("data-countdown")) - now;
      if (left <= 0) {
        el.textContent = el.getAttribute("data-ended");
        el.closest(".clock") && el.closest(".clock").classList.add("clock-past");
      } else {
        el.textContent = format(left);
        el.classList.toggle("urgent", left < 86400000);
      }
    });
  }
  tick();
  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSwap", tick);
})();
