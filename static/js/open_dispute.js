// The dispute questionnaire (templates/disputes/open.html).
// Progressive help; the page works without it (the server decides the same).
// - "never arrived" means "not received" and a refund: there is nothing to keep or to send
//   back, so the choice "what would you like?" is hidden and disabled, and a note says why.
// - a file already sent and ticked "Remove" is shown faded: it will not be sent.
(function () {
  "use strict";
  var form = document.getElementById("open-dispute");
  if (!form) return;

  function outcomeChoices() {
    return form.querySelectorAll("#field-requested_outcome label[data-outcome]");
  }

  function sync(event) {
    var received = form.querySelector("input[name=received]:checked");
    var notReceived = !!received && received.value === "no";
    var changedReceived = event && event.target && event.target.name === "received";
    var reason = form.querySelector("select[name=reason]");
    if (changedReceived && notReceived) {
      reason.value = "not_received";
      form.querySelector("input[name=amount_choice][value=full]").checked = true;
    }
    var anyChecked = false;
    outcomeChoices().forEach(function (label) {
      var input = label.querySelector("input");
      label.hidden = notReceived;
      input.disabled = notReceived;
      anyChecked = anyChecked || input.checked;
    });
    if (!notReceived && !anyChecked) {
      var refund = form.querySelector("input[name=requested_outcome][value=refund_only]");
      if (refund) refund.checked = true;
    }
    document.getElementById("refund-note").hidden = !notReceived;
    document.getElementById("outcome-hint").hidden = true; // said as the buyer answers
    var full = form.querySelector("input[name=amount_choice][value=full]").checked;
    document.getElementById("field-requested_amount").hidden = full;
    var wantsReturn = form.querySelector("input[name=requested_outcome][value=return_and_refund]");
    document.getElementById("return-note").hidden = notReceived || !(wantsReturn && wantsReturn.checked);
    form.querySelectorAll(".held-file").forEach(function (figure) {
      var remove = figure.querySelector("input[name=remove_held]");
      figure.classList.toggle("hidden-item", !!(remove && remove.checked));
    });
  }

  form.addEventListener("change", sync);
  sync();
})();
