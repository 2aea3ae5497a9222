// Move the focus to the error summary so keyboard and screen-reader users hear it first.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
  // A confirmation before a bulk decision or a revocation.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });
  // "Select all" for the inbox.
  var all = document.getElementById("select-all");
  if (all) {
    document.getElementById("select-all-wrap").hidden = false;
    all.addEventListener("change", function () {
      document.querySelectorAll("input[name=cycle]").forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }
});
