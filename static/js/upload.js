// Uploads with a pre-check and a progress bar. Forms marked data-upload still work as plain
// forms without JavaScript; with it, files are checked for type and size before sending,
// and sent with XMLHttpRequest so the <progress> bar can follow large videos.
(function () {
  "use strict";
  var PHOTO = ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"];
  var VIDEO = ["video/mp4", "video/quicktime", "video/webm"];
  var EXT = { jpg: "photo", jpeg: "photo", png: "photo", webp: "photo", heic: "photo", heif: "photo", mp4: "video", mov: "video", webm: "video", m4v: "video" };
  var LIMIT = { photo: 15 * 1024 * 1024, video: 200 * 1024 * 1024 };

  function kindOf(file) {
    if (PHOTO.indexOf(file.type) >= 0) return "photo";
    if (VIDEO.indexOf(file.type) >= 0) return "video";
    var ext = (file.name.split(".").pop() || "").toLowerCase();
    return EXT[ext] || null;
  }

  function precheck(form) {
    var problems = [];
    form.querySelectorAll("input[type=file]").forEach(function (input) {
      Array.prototype.forEach.call(input.files || [], function (file) {
        var kind = kindOf(file);
        if (!kind) problems.push(file.name + ": not a photo (JPEG, PNG, WebP, HEIC) or video (MP4, MOV, WebM).");
        else if (file.size === 0) problems.push(file.name + ": the file is empty.");
        else if (file.size > LIMIT[kind]) problems.push(file.name + ": " + (file.size / 1048576).toFixed(1) + " MB is more than the " + LIMIT[kind] / 1048576 + " MB allowed for a " + kind + ".");
      });
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
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    xhr.upload.addEventListener("progress", function (e) {
      if (bar && e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
    });
    xhr.addEventListener("load", function () {
      // Show the page the server answered with (it carries the messages: what was added,
      // what was refused and why), at the address it was served from.
      var html = xhr.responseText;
      if (xhr.responseURL && window.history && window.history.replaceState) {
        window.history.replaceState(null, "", xhr.responseURL);
      }
      document.open(); document.write(html); document.close();
    });
    xhr.addEventListener("error", function () {
      if (button) button.removeAttribute("aria-busy");
      if (list) { var li = document.createElement("li"); li.textContent = "The upload was interrupted. Nothing was lost: try again."; list.appendChild(li); }
    });
    xhr.send(new FormData(form));
  });
})();
