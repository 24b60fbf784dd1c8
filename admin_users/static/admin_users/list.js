'use strict';
// The list of Admin > Users: status counts, infinite scroll and search in place.
// Settings come from data-* attributes of .users-page; rows arrive as server-rendered
// (escaped) HTML and are moved into the table as nodes.
(function () {
  const adminUsers = window.adminUsers;

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
            badge.textContent = count.count.toLocaleString() + (count.more ? '+' : '');
          }
        });
      })
      .catch(function () { /* counts are a nicety; the list works without them */ });
  }

  // Loads the next batch as the end of the list comes into view. Returns reset(cursor),
  // for a list whose rows were replaced (a search made in place).
  function infiniteScroll(page) {
    const more = document.getElementById('load-more');
    const body = document.getElementById('user-rows');
    if (!more || !body) return function () {};
    const end = document.getElementById('list-end');
    const error = document.getElementById('load-error');
    let cursor = more.dataset.cursor || null;
    let loading = false;
    let generation = 0; // a batch asked for before a reset is dropped

    function show() {
      more.hidden = !cursor;
      end.hidden = !!cursor;
      if (cursor) {
        const url = new URL(more.href);
        url.searchParams.set('cursor', cursor);
        more.href = url.href;
      }
    }

    // Still in view after a short batch or a reset: the observer reports only changes.
    function loadIfInView() {
      if (cursor && more.getBoundingClientRect().top < window.innerHeight + 600) load();
    }

    function load() {
      if (loading || !cursor) return;
      const asked = generation;
      loading = true;
      adminUsers.hideError(error);
      adminUsers.fetchBatch(page.dataset.batchUrl, cursor)
        .then(function (batch) {
          if (asked !== generation) return;
          cursor = batch.cursor;
          const seen = new Set(Array.from(body.rows, function (row) { return row.dataset.userId; }));
          adminUsers.parseRows(batch.html, 'tr.user-row').forEach(function (row) {
            if (seen.has(row.dataset.userId)) return; // moved during the scroll: once is enough
            body.appendChild(document.adoptNode(row));
          });
          adminUsers.showTimes(body);
          show();
          page.dispatchEvent(new CustomEvent('users:loaded'));
        })
        .catch(function () { if (asked === generation) adminUsers.showError(error); })
        .finally(function () {
          if (asked !== generation) return;
          loading = false;
          loadIfInView();
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
    return function reset(next) {
      generation += 1;
      loading = false;
      cursor = next;
      adminUsers.hideError(error);
      show();
      loadIfInView();
    };
  }

  // The search box answers in place: the first batch of the search replaces the rows,
  // the address, the links and the counts follow, and the page is not reloaded. (A search
  // opened from an address, or made without script, is the server's full page.)
  function liveSearch(page, resetScroll) {
    const form = page.querySelector('form[role=search]');
    const body = document.getElementById('user-rows');
    if (!form || !body) return;
    const input = form.querySelector('input[name=q]');
    const empty = page.querySelector('.users-empty');
    const more = page.querySelector('.users-more');
    let shown = new URL(window.location.href).searchParams.get('q') || '';
    let latest = 0;

    function withTerm(href, term) {
      const url = new URL(href, window.location.href);
      if (term) url.searchParams.set('q', term);
      else url.searchParams.delete('q');
      url.searchParams.delete('cursor');
      url.searchParams.delete('user');
      return url.href;
    }

    form.addEventListener('submit', function (event) {
      const term = input.value.trim();
      event.preventDefault();
      const asked = ++latest;
      const batchUrl = withTerm(page.dataset.batchUrl, term);
      adminUsers.fetchBatch(batchUrl, null)
        .then(function (batch) {
          if (asked !== latest) return;
          const rows = adminUsers.parseRows(batch.html, 'tr.user-row');
          if (!rows.length && !term) {
            window.location.assign(withTerm(window.location.href, term)); // the server says why
            return;
          }
          body.replaceChildren.apply(body, rows.map(function (row) { return document.adoptNode(row); }));
          adminUsers.showTimes(body);
          page.dataset.batchUrl = batchUrl;
          page.dataset.countsUrl = withTerm(page.dataset.countsUrl, term);
          page.querySelectorAll('.sort-link, .status-filter a, #load-more').forEach(function (link) {
            link.href = withTerm(link.href, term);
          });
          page.querySelectorAll('.users-continued').forEach(function (node) { node.hidden = true; });
          if (!rows.length) {
            const message = document.getElementById(empty.dataset.noMatch).content.cloneNode(true);
            message.querySelector('.search-term').textContent = term;
            empty.replaceChildren(message);
          }
          empty.hidden = rows.length > 0;
          more.hidden = rows.length === 0;
          window.history.pushState(null, '', withTerm(window.location.href, term));
          shown = term;
          resetScroll(batch.cursor);
          page.querySelectorAll('.status-count').forEach(function (badge) { badge.textContent = ''; });
          loadCounts(page);
          page.dispatchEvent(new CustomEvent('users:replaced'));
        })
        .catch(function () { if (asked === latest) form.submit(); }); // the full page, then
    });

    // Back and forward across searches: the server renders the list of that address.
    window.addEventListener('popstate', function () {
      if ((new URL(window.location.href).searchParams.get('q') || '') !== shown) {
        window.location.reload();
      }
    });
  }

  // Replace a user's row in the list with a freshly rendered one, its checkbox as it was.
  function replaceRow(page, html) {
    adminUsers.parseRows(html, 'tr.user-row').forEach(function (fresh) {
      const old = page.querySelector('tr.user-row[data-user-id="' + fresh.dataset.userId + '"]');
      if (!old) return;
      const checked = old.querySelector('.action-checkbox').checked;
      const row = document.adoptNode(fresh);
      old.replaceWith(row);
      row.querySelector('.action-checkbox').checked = checked;
      adminUsers.showTimes(row);
    });
  }

  function usersList(page) {
    loadCounts(page);
    liveSearch(page, infiniteScroll(page));
  }

  Object.assign(adminUsers, { usersList: usersList, replaceRow: replaceRow });
}());
