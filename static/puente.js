// Live updates for the dashboard, over server-sent events. Everything works
// without this file: the pages are current whenever they are loaded.
//
// An element with data-live="<stream url>" opts in. Status badges inside
// [data-intent="<id>"] follow their intent; an element that also has
// data-refresh="<id>" re-reads its own page when that intent changes and
// swaps itself for the fresh copy (status, timeline, buttons).
(function () {
  'use strict';
  var root = document.querySelector('[data-live]');
  if (!root || !window.EventSource || !window.fetch) return;

  var refreshing = false, again = false;
  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch(window.location.href, { credentials: 'same-origin', headers: { 'Accept': 'text/html' } })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var fresh = doc.getElementById(root.id);
        if (fresh) { root.innerHTML = fresh.innerHTML; }
      })
      .catch(function () {})
      .then(function () {
        refreshing = false;
        if (again) { again = false; refresh(); }
      });
  }

  var source = new EventSource(root.getAttribute('data-live'));
  var opened = false;
  source.addEventListener('open', function () {
    // After a reconnect, catch up on what may have been missed.
    if (opened && root.hasAttribute('data-refresh')) refresh();
    opened = true;
  });
  source.addEventListener('intent', function (event) {
    var change;
    try { change = JSON.parse(event.data); } catch (e) { return; }
    var rows = document.querySelectorAll('[data-intent="' + change.id + '"] [data-status]');
    for (var i = 0; i < rows.length; i++) {
      rows[i].textContent = change.label;
      rows[i].className = 'badge status-' + change.status;
      rows[i].setAttribute('data-status', change.status);
    }
    if (root.getAttribute('data-refresh') === change.id) refresh();
  });
})();
