// Uploads with a pre-check and a progress bar. Forms marked data-upload still work as plain
// forms without JavaScript; with it, files are checked for type and size before sending,
// and sent with XMLHttpRequest so the <progress> bar can follow large videos.
// The limits come from the page (data-max-* on the file input, drawn from settings) and
// sizes are stated in decimal units, as everywhere on the portal: 1 MB = 1,000,000 bytes.
(function () {
  "use strict";
  var PHOTO = ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"];
  var VIDEO = ["video/mp4", "video/quicktime", "video/webm"];
  var EXT = { jpg: "photo", jpeg: "photo", png: "photo", webp: "photo", heic: "photo", heif: "photo", mp4: "video", mov: "video", webm: "video", m4v: "video" };
  // Only if a page does not state its limits (it always should).
  var DEFAULT_LIMIT = { photo: 15000000, video: 200000000 };

  function kindOf(file) {
    if (PHOTO.indexOf(file.type) >= 0) return "photo";
    if (VIDEO.indexOf(file.type) >= 0) return "video";
    var ext = (file.name.split(".").pop() || "").toLowerCase();
    return EXT[ext] || null;
  }

  function number(value, places) {
    var text = value.toFixed(places);
    return text.indexOf(".") >= 0 ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
  }

  // "850 bytes", "12.3 kB", "301 MB", "1.2 GB": as evidence/sizes.py says them.
  function sizeLabel(size, places) {
    places = places || 1;
    if (size < 1000) return size + (size === 1 ? " byte" : " bytes");
    if (size < 1e6) return number(size / 1e3, places) + " kB";
    if (size < 1e9) return number(size / 1e6, places) + " MB";
    return number(size / 1e9, places) + " GB";
  }

  // A size above a limit and the limit, with enough decimals to tell them apart.
  function overLimit(size, limit) {
    for (var places = 1; places < 10; places++) {
      var said = sizeLabel(size, places), allowed = sizeLabel(limit, places);
      if (said !== allowed) return [said, allowed];
    }
    return [size + " bytes", limit + " bytes"];
  }

  function limitOf(input, kind) {
    var stated = parseInt(input.getAttribute(kind === "photo" ? "data-max-photo-bytes" : "data-max-video-bytes"), 10);
    return stated > 0 ? stated : DEFAULT_LIMIT[kind];
  }

  // Files already sent with this form and kept (not ticked "Remove").
  function heldCount(form) {
    var count = 0;
    form.querySelectorAll("input[name=held]").forEach(function (held) {
      var box = form.querySelector("input[name=remove_held][value='" + held.value + "']");
      if (!box || !box.checked) count += 1;
    });
    return count;
  }

  function precheck(form) {
    var problems = [];
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      var chosen = input.files || [];
      Array.prototype.forEach.call(chosen, function (file) {
        var kind = kindOf(file);
        if (!kind) problems.push(file.name + ": not a photo (JPEG, PNG, WebP, HEIC) or video (MP4, MOV, WebM).");
        else if (file.size === 0) problems.push(file.name + ": the file is empty.");
        else if (file.size > limitOf(input, kind)) {
          var labels = overLimit(file.size, limitOf(input, kind));
          problems.push(file.name + ": the file is " + labels[0] + "; " + (kind === "photo" ? "a photo" : "a video") + " can be at most " + labels[1] + ".");
        }
      });
      var most = parseInt(input.getAttribute("data-max-files"), 10);
      var held = heldCount(form);
      if (most > 0 && chosen.length + held > most) {
        problems.push(held
          ? "You can send at most " + most + " files here, and " + held + " are already sent: choose at most " + Math.max(most - held, 0) + " more."
          : "You can send at most " + most + " files here: choose fewer.");
      }
    });
    return problems;
  }

  function totalSize(form) {
    var total = 0;
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      Array.prototype.forEach.call(input.files || [], function (f) { total += f.size; });
    });
    return total;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-upload")) return;
    var list = form.querySelector(".upload-errors");
    var problems = precheck(form);
    if (list) list.innerHTML = "";
    if (problems.length) {
      event.preventDefault();
      problems.forEach(function (text) { var li = document.createElement("li"); li.textContent = text; list && list.appendChild(li); });
      return;
    }
    if (!totalSize(form) || !window.FormData) return; // nothing to upload: a plain post
    event.preventDefault();
    var bar = form.querySelector("progress");
    var button = form.querySelector("button[type=submit]");
    if (bar) { bar.hidden = false; bar.value = 0; }
    if (button) button.setAttribute("aria-busy", "true");
    var data = new FormData(form);
    var submitter = event.submitter;
    if (submitter && submitter.name && !data.has(submitter.name)) data.append(submitter.name, submitter.value);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    xhr.upload.addEventListener("progress", function (e) {
      if (bar && e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
    });
    xhr.addEventListener("load", function () {
      // Show the page the server answered with (it carries the messages: what was added,
      // what was refused and why, and the files it keeps), at the address it was served from.
      var html = xhr.responseText;
      if (xhr.responseURL && window.history && window.history.replaceState) {
        window.history.replaceState(null, "", xhr.responseURL);
      }
      document.open(); document.write(html); document.close();
    });
    xhr.addEventListener("error", function () {
      if (button) button.removeAttribute("aria-busy");
      if (bar) bar.hidden = true;
      if (list) { var li = document.createElement("li"); li.textContent = "The upload was interrupted. Nothing was lost: try again."; list.appendChild(li); }
    });
    xhr.send(data);
  });
})();
