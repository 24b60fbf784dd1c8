'use strict';
// Admin > Users: relative times, status counts and infinite scroll.
// Settings come from data-* attributes of .users-page; rows arrive as server-rendered
// (escaped) HTML and are moved into the table as nodes.
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

  // <time datetime="ISO UTC"> shows as "3 days ago", exact in the admin's zone on hover.
  function showTimes(root) {
    root.querySelectorAll('time[datetime]:not([data-shown])').forEach(function (node) {
      const date = new Date(node.getAttribute('datetime'));
      if (Number.isNaN(date.getTime())) return;
      node.textContent = describe(date);
      node.title = exact.format(date);
      node.dataset.shown = '1';
    });
  }

  function loadCounts(page) {
    const url = page.dataset.countsUrl;
    if (!url) return;
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        page.querySelectorAll('.status-filter [data-status]').forEach(function (link) {
          const count = data.counts[link.dataset.status];
          const badge = link.querySelector('.status-count');
          if (badge && count !== undefined) {
            badge.textContent = count > data.cap
              ? data.cap.toLocaleString() + '+' : count.toLocaleString();
          }
        });
      })
      .catch(function () { /* counts are a nicety; the list works without them */ });
  }

  function infiniteScroll(page) {
    const more = document.getElementById('load-more');
    const body = document.getElementById('user-rows');
    if (!more || !body) return;
    const end = document.getElementById('list-end');
    const error = document.getElementById('load-error');
    let cursor = more.dataset.cursor;
    let loading = false;

    function load() {
      if (loading || !cursor) return;
      loading = true;
      error.hidden = true;
      const url = new URL(page.dataset.batchUrl, window.location.href);
      url.searchParams.set('cursor', cursor);
      fetch(url, { credentials: 'same-origin' })
        .then(function (response) {
          if (!response.ok) throw new Error('HTTP ' + response.status);
          cursor = response.headers.get('X-Next-Cursor') || null;
          return response.text();
        })
        .then(function (html) {
          const doc = new DOMParser().parseFromString(html, 'text/html');
          const seen = new Set(Array.from(body.rows, function (row) { return row.dataset.userId; }));
          doc.querySelectorAll('tr.user-row').forEach(function (row) {
            if (seen.has(row.dataset.userId)) return; // moved during the scroll: once is enough
            body.appendChild(document.adoptNode(row));
          });
          showTimes(body);
          if (cursor) {
            more.href = more.href.replace(/cursor=[^&]*/, 'cursor=' + encodeURIComponent(cursor));
          } else {
            more.hidden = true;
            end.hidden = false;
            observer.disconnect();
          }
          page.dispatchEvent(new CustomEvent('users:loaded'));
        })
        .catch(function () { error.hidden = false; })
        .finally(function () {
          loading = false;
          // Still in view after a short batch: keep going.
          if (cursor && more.getBoundingClientRect().top < window.innerHeight + 600) load();
        });
    }

    const observer = new IntersectionObserver(function (entries) {
      if (entries.some(function (entry) { return entry.isIntersecting; })) load();
    }, { rootMargin: '600px 0px' });
    observer.observe(more);
    more.addEventListener('click', function (event) { event.preventDefault(); load(); });
    document.getElementById('load-retry').addEventListener('click', function (event) {
      event.preventDefault();
      load();
    });
  }

  window.adminUsers = Object.assign(window.adminUsers || {}, { showTimes: showTimes });
  document.addEventListener('DOMContentLoaded', function () {
    showTimes(document);
    const page = document.querySelector('.users-page');
    if (!page) return;
    loadCounts(page);
    infiniteScroll(page);
  });
}());
