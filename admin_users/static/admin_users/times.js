'use strict';
// <time datetime="ISO UTC"> shows as "3 days ago", exact in the admin's zone on hover.
// Every page that shows times loads it (it starts its own minute timer).
(function () {
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const exact = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'long' });
  const units = [
    ['year', 365 * 24 * 3600], ['month', 30 * 24 * 3600], ['week', 7 * 24 * 3600],
    ['day', 24 * 3600], ['hour', 3600], ['minute', 60], ['second', 1],
  ];

  function describe(date) {
    const seconds = (date.getTime() - Date.now()) / 1000;
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size || unit === 'second') {
        return relative.format(Math.round(seconds / size), unit);
      }
    }
    return '';
  }

  // Every such time under `root` not shown yet (rows arrive in batches).
  function showTimes(root) {
    root.querySelectorAll('time[datetime]:not([data-shown])').forEach(function (node) {
      const date = new Date(node.getAttribute('datetime'));
      if (Number.isNaN(date.getTime())) return;
      node.textContent = describe(date);
      node.title = exact.format(date);
      node.dataset.shown = '1';
    });
  }

  // "3 minutes ago" stays true: every shown time is described again each minute.
  window.setInterval(function () {
    document.querySelectorAll('time[data-shown]').forEach(function (node) {
      node.textContent = describe(new Date(node.getAttribute('datetime')));
    });
  }, 60 * 1000);

  window.adminUsers = Object.assign(window.adminUsers || {}, { showTimes: showTimes });
}());
