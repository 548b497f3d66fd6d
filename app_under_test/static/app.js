// Refresh "tickets left" from the JSON API so a page left open stays honest.
(function () {
  "use strict";
  function refresh() {
    document.querySelectorAll("[data-ticket-type]").forEach(function (cell) {
      fetch("/api/ticket-types/" + cell.dataset.ticketType + "/availability")
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (a) { if (a) { cell.textContent = a.remaining + " / " + a.capacity; } });
    });
  }
  if (document.querySelector("[data-ticket-type]")) { setInterval(refresh, 15000); }
})();
