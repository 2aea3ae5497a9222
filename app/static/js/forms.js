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

// Forms expire (their CSRF token is valid for WTF_CSRF_TIME_LIMIT seconds). Warn a few
// minutes before, offering a fresh token; and when a form was refused as expired, put what
// was typed back into it when its page opens again.
(function () {
  var LAST = "kaikaku:last-post";
  var RESTORE = "kaikaku:restore";
  var SKIP = { csrf_token: true, expected_version: true };

  function storage() {
    try {
      return window.sessionStorage;
    } catch (e) {
      return null;
    }
  }

  function fieldsOf(form) {
    var fields = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      var type = (el.type || "").toLowerCase();
      if (!el.name || SKIP[el.name] || /^(password|hidden|file|submit|button)$/.test(type)) {
        return;
      }
      if (type === "checkbox" || type === "radio") {
        fields.push({ name: el.name, value: el.value, checked: el.checked });
      } else {
        fields.push({ name: el.name, value: el.value });
      }
    });
    return fields;
  }

  function fill(form, fields) {
    fields.forEach(function (f) {
      var els = form.querySelectorAll("[name='" + f.name.replace(/'/g, "\\'") + "']");
      Array.prototype.forEach.call(els, function (el) {
        var type = (el.type || "").toLowerCase();
        if (type === "checkbox" || type === "radio") {
          if (el.value === f.value) {
            el.checked = f.checked;
          }
        } else if (!SKIP[el.name] && type !== "hidden") {
          el.value = f.value;
        }
      });
    });
  }

  function userForms() {
    return Array.prototype.filter.call(
      document.querySelectorAll("main form"),
      function (form) {
        return (form.getAttribute("method") || "").toLowerCase() === "post";
      }
    );
  }

  document.addEventListener("DOMContentLoaded", function () {
    var store = storage();
    var here = location.pathname + location.search;
    var forms = userForms();

    if (store) {
      forms.forEach(function (form) {
        form.addEventListener("submit", function () {
          store.setItem(LAST, JSON.stringify({
            page: here,
            action: form.getAttribute("action") || "",
            fields: fieldsOf(form),
          }));
        });
      });
      // The refusal page of an expired form: keep the last post for its page.
      if (document.getElementById("csrf-expired") && store.getItem(LAST)) {
        var last = JSON.parse(store.getItem(LAST));
        store.setItem(RESTORE, JSON.stringify(last));
        var back = document.getElementById("csrf-back");
        if (back) {
          back.setAttribute("href", last.page);
        }
      }
      var saved = store.getItem(RESTORE);
      if (saved) {
        var post = JSON.parse(saved);
        if (post.page === here) {
          var target = forms.filter(function (form) {
            return (form.getAttribute("action") || "") === post.action;
          })[0] || forms[0];
          if (target) {
            fill(target, post.fields);
            document.getElementById("form-restored").hidden = false;
          }
          store.removeItem(RESTORE);
        }
      }
    }

    var limit = parseInt(document.body.getAttribute("data-form-expires") || "0", 10);
    var tokenUrl = document.body.getAttribute("data-token-url");
    var banner = document.getElementById("form-expiry");
    if (!limit || !tokenUrl || !banner || !forms.length) {
      return;
    }
    var margin = Math.min(300, limit / 4);
    var timer = null;
    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        banner.hidden = false;
      }, (limit - margin) * 1000);
    }
    document.getElementById("form-expiry-extend").addEventListener("click", function () {
      fetch(tokenUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.ok ? response.json() : Promise.reject(response.status);
        })
        .then(function (data) {
          document.querySelectorAll("input[name=csrf_token]").forEach(function (input) {
            input.value = data.token;
          });
          banner.hidden = true;
          schedule();
        })
        .catch(function () {
          // Logged out meanwhile: reloading shows the login page.
          location.reload();
        });
    });
    schedule();
  });
})();
