/* gridbridge stewards' console: keyboard shortcuts and small conveniences. No inline scripts (the
   Content-Security-Policy allows scripts from /static only); every shortcut clicks a real button or link, so it
   does exactly what the mouse does (same form, same CSRF token). Shortcuts are ignored while typing. */
(function () {
  "use strict";

  var BUTTONS = { p: "#act-police", g: "#act-grid", f: "#act-visit", s: "#act-same", d: "#act-different", u: "#act-unsure" };
  var rows = Array.prototype.slice.call(document.querySelectorAll("#queue tr.row"));
  var selected = -1;

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function select(i) {
    if (!rows.length) { return; }
    selected = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (row, n) { row.classList.toggle("selected", n === selected); });
    rows[selected].scrollIntoView({ block: "nearest" });
  }

  function press(selector) {
    var el = document.querySelector(selector);
    if (!el || el.disabled) { return false; }
    el.click();
    return true;
  }

  function toggleHelp() {
    var help = document.getElementById("shortcuts");
    if (help) { help.hidden = !help.hidden; }
  }

  rows.forEach(function (row, n) {
    row.addEventListener("click", function (e) {
      if (e.target.closest("a, button, input, select, textarea")) { return; }
      window.location.assign(row.getAttribute("data-href"));
    });
    row.addEventListener("mouseenter", function () { selected = n; });
  });

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (typing(e.target)) {
      if (e.key === "Escape") { e.target.blur(); }
      return;
    }
    var key = e.key;
    var done = true;
    if (key === "?") { toggleHelp(); }
    else if (key === "Escape") { var h = document.getElementById("shortcuts"); if (h) { h.hidden = true; } }
    else if (rows.length && key === "j") { select(selected + 1); }
    else if (rows.length && key === "k") { select(selected < 0 ? 0 : selected - 1); }
    else if (rows.length && key === "Enter" && selected >= 0) { window.location.assign(rows[selected].getAttribute("data-href")); }
    else if (key === "v" && document.getElementById("value")) { document.getElementById("value").focus(); }
    else if (key === "n") { done = press("#skip"); }
    else if (key === "b") { done = press(".crumbs a"); }
    else if (Object.prototype.hasOwnProperty.call(BUTTONS, key)) { done = press(BUTTONS[key]); }
    else { done = false; }
    if (done) { e.preventDefault(); }
  });

  /* one submission per decision form: a second click or key press while the first is on its way does nothing */
  Array.prototype.forEach.call(document.querySelectorAll("form#decide, form#bulk-apply, form.undo"), function (form) {
    form.addEventListener("submit", function (e) {
      if (form.classList.contains("undo") && !window.confirm("撤销这个决定？（会追加一条撤销记录）")) {
        e.preventDefault();
        return;
      }
      if (form.getAttribute("data-sent")) { e.preventDefault(); return; }
      form.setAttribute("data-sent", "1");
    });
  });
}());
