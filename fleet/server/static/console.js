// Keeps the console current without reloading: every N seconds (data-live on <main>)
// fetch this page again and swap in each element marked class="live" (by id). Forms are
// never swapped, so what an operator is typing stays put.
(function () {
  "use strict";
  const main = document.getElementById("main");
  const every = main && parseFloat(main.dataset.live || "0");
  if (every > 0) {
    setInterval(async function () {
      try {
        const response = await fetch(location.href, { credentials: "same-origin", headers: { "X-Live": "1" } });
        if (response.redirected || !response.ok) return;
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
        fresh.querySelectorAll(".live[id]").forEach(function (part) {
          const old = document.getElementById(part.id);
          if (old && old.outerHTML !== part.outerHTML) old.replaceWith(document.importNode(part, true));
        });
      } catch (err) { /* offline for a moment: try again next time */ }
    }, every * 1000);
  }
  // Command form: put an example of the chosen command's arguments in the arguments box.
  const name = document.getElementById("command-name");
  const args = document.getElementById("command-args");
  if (name && args) {
    name.addEventListener("change", function () {
      const option = name.options[name.selectedIndex];
      args.value = option.dataset.example || "{}";
    });
  }
})();
