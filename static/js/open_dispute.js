// The dispute questionnaire (templates/disputes/open.html).
// Progressive help: "never arrived" means "not received" and a full refund by default.
(function () {
  var form = document.getElementById("open-dispute");
  if (!form) return;
  function sync(event) {
    var received = form.querySelector("input[name=received]:checked");
    var notReceived = received && received.value === "no";
    var reason = form.querySelector("select[name=reason]");
    var returnChoice = form.querySelector("input[name=requested_outcome][value=return_and_refund]");
    if (notReceived && event && event.target.name === "received") {
      reason.value = "not_received";
      form.querySelector("input[name=requested_outcome][value=refund_only]").checked = true;
      form.querySelector("input[name=amount_choice][value=full]").checked = true;
    }
    returnChoice.disabled = notReceived;
    var full = form.querySelector("input[name=amount_choice][value=full]").checked;
    document.getElementById("field-requested_amount").hidden = full;
    document.getElementById("return-note").hidden = !form.querySelector("input[name=requested_outcome][value=return_and_refund]").checked;
  }
  form.addEventListener("change", sync);
  sync();
})();
