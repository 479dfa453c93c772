// The kiosk list: "select the page" box, and show only the fields of the chosen bulk action.
// Everything works without this script (all fields are then visible); it only tidies up.
(function () {
  "use strict";
  const all = document.getElementById("select-page");
  const picks = function () { return document.querySelectorAll("input.pick"); };
  if (all) {
    all.addEventListener("change", function () { picks().forEach(function (box) { box.checked = all.checked; }); });
  }
  const action = document.getElementById("bulk-action");
  function showParts() {
    document.querySelectorAll(".bulk-part").forEach(function (part) {
      part.hidden = part.dataset.for.split(" ").indexOf(action.value) < 0;
    });
  }
  if (action) { action.addEventListener("change", showParts); showParts(); }
  const command = document.getElementById("bulk-command");
  const args = document.getElementById("bulk-args");
  if (command && args) {
    command.addEventListener("change", function () {
      args.value = command.options[command.selectedIndex].dataset.example || "{}";
    });
  }
})();
