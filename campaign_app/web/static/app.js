// campaignflow dashboard: small conveniences only; every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // the filing form: choosing another unit reloads the form with that unit's artifacts
  document.querySelectorAll("select[data-reload]").forEach(function (select) {
    select.addEventListener("change", function () {
      var params = new URLSearchParams();
      params.set(select.dataset.reload, select.value);
      window.location.search = params.toString();
    });
  });
  // the filing form: a figures kind's number fields shown only while that artifact is the one chosen
  var artifact = document.getElementById("artifact");
  var figureSets = document.querySelectorAll("fieldset.figures-form[data-artifact]");
  if (artifact && figureSets.length) {
    var showFigures = function () {
      figureSets.forEach(function (set) { set.hidden = set.dataset.artifact !== artifact.value; });
    };
    artifact.addEventListener("change", showFigures);
    showFigures();
  }
  // a link to a ledger item's row (a reminder's "#item-N") that is on no page of this list opens the item's page
  var wanted = /^#item-(\d+)$/.exec(window.location.hash);
  if (wanted && document.getElementById("ledger") && !document.getElementById("item-" + wanted[1])) {
    window.location.replace(window.location.pathname.replace(/\/$/, "") + "/" + wanted[1]);
  }
  // "copy" beside a secret shown once (a one-time password, an API token): select it and copy it
  document.querySelectorAll("button.copy").forEach(function (button) {
    var field = document.getElementById(button.dataset.target);
    if (!field) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      field.select();
      if (navigator.clipboard) { navigator.clipboard.writeText(field.value); } else { document.execCommand("copy"); }
    });
  });
  // the timeline drawn to scale, wider than a phone: scrolled so that today's line is in view
  document.querySelectorAll(".timeline-scroll").forEach(function (box) {
    var today = box.querySelector("g.today");
    if (today && box.scrollWidth > box.clientWidth) {
      box.scrollLeft = Math.max(0, parseFloat(today.getAttribute("data-x")) - box.clientWidth / 2);
    }
  });
  // "select all" for the remind-now checkboxes
  document.querySelectorAll("button.select-all").forEach(function (button) {
    var form = document.getElementById(button.dataset.target);
    if (!form) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var boxes = form.querySelectorAll("input[type=checkbox]");
      var all = Array.prototype.every.call(boxes, function (b) { return b.checked; });
      boxes.forEach(function (b) { b.checked = !all; });
    });
  });
});
