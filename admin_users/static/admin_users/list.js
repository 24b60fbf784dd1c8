'use strict';
// The list of Admin > Users: status counts, infinite scroll, and a row replaced after an
// action. Settings come from data-* attributes of .users-page; rows arrive as
// server-rendered (escaped) HTML and are moved into the table as nodes.
(function () {
  const adminUsers = window.adminUsers;

  function loadCounts(page) {
    const url = page.dataset.countsUrl;
    if (!url) return;
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        function show(badge, count) {
          if (badge && count !== undefined) {
            badge.textContent = count.count.toLocaleString() + (count.more ? '+' : '');
          }
        }
        page.querySelectorAll('.status-filter [data-status]').forEach(function (link) {
          show(link.querySelector('.status-count'), data.counts[link.dataset.status]);
        });
        show(page.querySelector('.status-count[data-total]'), data.total);
        // How many users the list holds, where exact: what "all N matching" may select.
        page.dataset.matching = data.listed.more ? '' : data.listed.count;
        page.dispatchEvent(new CustomEvent('users:counted'));
      })
      .catch(function () { /* counts are a nicety; the list works without them */ });
  }

  // Loads the next batch as the end of the list comes into view, "Loading users…" shown
  // meanwhile. A batch that fails is tried 3 times at most, then "Could not load" stays
  // with its Retry button until pressed. Returns reset(cursor), for a list whose rows
  // were replaced (a search, sort or filter in place).
  function infiniteScroll(page) {
    const more = document.getElementById('load-more');
    const body = document.getElementById('user-rows');
    if (!more || !body) return function () {};
    const end = document.getElementById('list-end');
    const loading = document.getElementById('list-loading');
    const error = document.getElementById('load-error');
    let cursor = more.dataset.cursor || null;
    let busy = false;
    let failed = false;
    let generation = 0; // a batch asked for before a reset is dropped

    function show() {
      more.hidden = !cursor || busy || failed;
      loading.hidden = !busy;
      end.hidden = !!cursor;
      if (cursor) {
        const url = new URL(more.href);
        url.searchParams.set('cursor', cursor);
        more.href = url.href;
      }
    }

    // Still in view after a short batch or a reset: the observer reports only changes.
    function loadIfInView() {
      if (cursor && more.parentNode.getBoundingClientRect().top < window.innerHeight + 600) load();
    }

    function load() {
      if (busy || failed || !cursor) return;
      const asked = generation;
      const url = page.dataset.batchUrl;
      const after = cursor;
      busy = true;
      show();
      adminUsers.retried(function () { return adminUsers.fetchBatch(url, after); })
        .then(function (batch) {
          if (asked !== generation) return;
          cursor = batch.cursor;
          const seen = new Set(Array.from(body.rows, function (row) { return row.dataset.userId; }));
          adminUsers.parseRows(batch.html, 'tr.user-row').forEach(function (row) {
            if (seen.has(row.dataset.userId)) return; // moved during the scroll: once is enough
            body.appendChild(document.adoptNode(row));
          });
          adminUsers.showTimes(body);
          page.dispatchEvent(new CustomEvent('users:loaded'));
        })
        .catch(function () {
          if (asked !== generation) return;
          failed = true;
          adminUsers.showError(error);
        })
        .finally(function () {
          if (asked !== generation) return;
          busy = false;
          show();
          loadIfInView();
        });
    }

    const observer = new IntersectionObserver(function (entries) {
      if (entries.some(function (entry) { return entry.isIntersecting; })) load();
    }, { rootMargin: '600px 0px' });
    observer.observe(more.parentNode);
    more.addEventListener('click', function (event) { event.preventDefault(); load(); });
    document.getElementById('load-retry').addEventListener('click', function () {
      failed = false;
      adminUsers.hideError(error);
      load();
    });
    return function reset(next) {
      generation += 1;
      busy = false;
      failed = false;
      cursor = next;
      adminUsers.hideError(error);
      show();
      loadIfInView();
    };
  }

  // Replace a user's row in the list with a freshly rendered one, its checkbox as it was.
  function replaceRow(page, html) {
    adminUsers.parseRows(html, 'tr.user-row').forEach(function (fresh) {
      const old = page.querySelector('tr.user-row[data-user-id="' + fresh.dataset.userId + '"]');
      if (!old) return;
      const checked = old.querySelector('.action-checkbox').checked;
      const hadFocus = document.activeElement === old;
      const row = document.adoptNode(fresh);
      old.replaceWith(row);
      row.querySelector('.action-checkbox').checked = checked;
      adminUsers.showTimes(row);
      if (hadFocus) row.focus({ preventScroll: true });
    });
  }

  function usersList(page) {
    loadCounts(page);
    adminUsers.listInPlace(page, infiniteScroll(page));
  }

  Object.assign(adminUsers, { usersList: usersList, replaceRow: replaceRow, loadCounts: loadCounts });
}());
