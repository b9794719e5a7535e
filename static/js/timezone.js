// The browser's time zone, reported once (the "tz" cookie) so that dates are shown in it
// until the person chooses one on the Settings page (from the next page on: the first is
// drawn before the server knows it).
(function () {
  "use strict";
  if (document.cookie.split("; ").some(function (c) { return c.indexOf("tz=") === 0; })) return;
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone) return;
  document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; SameSite=Lax";
})();
