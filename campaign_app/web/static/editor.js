// The timeline editor: a step's due date resolved as it is typed (by the draft's calendar, on the server).
// The page works without this file: the resolved dates are also rendered after each save.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var editor = document.getElementById("editor");
  if (!editor) { return; }
  var draft = editor.dataset.draft;
  var lang = document.documentElement.lang === "en" ? "en" : "zh";

  function value(box, part) {
    var el = box.querySelector("[name$='.due:" + part + "']" + (part === "mode" ? ":checked" : ""));
    return el ? el.value : "";
  }

  function resolve(box) {
    var phase = editor.querySelector("#phase-" + box.dataset.phase);
    var out = box.querySelector("output.resolved");
    if (!phase || !out || box.querySelector("[name$='.due:raw']")) { return; }
    var params = new URLSearchParams({
      start: phase.querySelector("input.phase-start").value, end: phase.querySelector("input.phase-end").value,
      mode: value(box, "mode"), date: value(box, "date"), time: value(box, "time"), base: value(box, "base"),
      sign: value(box, "sign"), count: value(box, "count"), unit: value(box, "unit"), lang: lang
    });
    box.classList.add("resolving");
    fetch("/drafts/" + draft + "/resolve?" + params.toString(), {credentials: "same-origin"})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
      .then(function (answer) {
        box.classList.remove("resolving");
        out.textContent = "";
        if (!answer.ok) {
          out.classList.add("unresolved");
          out.textContent = answer.body.error || "?";
          return;
        }
        out.classList.remove("unresolved");
        var d = answer.body;
        var date = document.createElement("span");
        date.className = "resolved-date";
        date.textContent = d.date;
        var day = document.createElement("span");
        day.className = "resolved-weekday";
        day.textContent = d.weekday;
        out.append(lang === "en" ? "= " : "＝", date, " ", day, " " + d.time);
      })
      .catch(function () { box.classList.remove("resolving"); });
  }

  editor.querySelectorAll("fieldset.due").forEach(function (box) {
    box.addEventListener("input", function () { resolve(box); });
    box.addEventListener("change", function () { resolve(box); });
  });
  // a phase's window moves its relative due dates
  editor.querySelectorAll("input.phase-start, input.phase-end").forEach(function (input) {
    input.addEventListener("change", function () {
      var phase = input.closest("fieldset.phase");
      phase.querySelectorAll("fieldset.due").forEach(resolve);
    });
  });
});
