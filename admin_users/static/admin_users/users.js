'use strict';
// Admin > Users: relative times, status counts, infinite scroll and search in place.
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

    function load() {
      if (loading || !cursor) return;
      const asked = generation;
      loading = true;
      error.hidden = true;
      fetchBatch(page.dataset.batchUrl, cursor)
        .then(function (batch) {
          if (asked !== generation) return;
          cursor = batch.cursor;
          const seen = new Set(Array.from(body.rows, function (row) { return row.dataset.userId; }));
          parseRows(batch.html, 'tr.user-row').forEach(function (row) {
            if (seen.has(row.dataset.userId)) return; // moved during the scroll: once is enough
            body.appendChild(document.adoptNode(row));
          });
          showTimes(body);
          show();
          page.dispatchEvent(new CustomEvent('users:loaded'));
        })
        .catch(function () { if (asked === generation) error.hidden = false; })
        .finally(function () {
          if (asked !== generation) return;
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
    return function reset(next) {
      generation += 1;
      loading = false;
      cursor = next;
      error.hidden = true;
      show();
      // The observer reports only changes: ask for the next batch if already in view.
      if (cursor && more.getBoundingClientRect().top < window.innerHeight + 600) load();
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
      fetchBatch(batchUrl, null)
        .then(function (batch) {
          if (asked !== latest) return;
          const rows = parseRows(batch.html, 'tr.user-row');
          if (!rows.length && !term) {
            window.location.assign(withTerm(window.location.href, term)); // the server says why
            return;
          }
          body.replaceChildren.apply(body, rows.map(function (row) { return document.adoptNode(row); }));
          showTimes(body);
          page.dataset.batchUrl = batchUrl;
          page.dataset.countsUrl = withTerm(page.dataset.countsUrl, term);
          page.querySelectorAll('.sort-link, .status-filter a, #load-more').forEach(function (link) {
            link.href = withTerm(link.href, term);
          });
          page.querySelectorAll('.users-continued').forEach(function (node) { node.hidden = true; });
          if (!rows.length) {
            const message = document.getElementById('users-no-match').content.cloneNode(true);
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

  // POST a form's fields with a fresh CSRF token; resolves to [response, json].
  function post(page, url, form, extra) {
    return fetch(page.dataset.csrfUrl, { credentials: 'same-origin' })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        const body = new URLSearchParams(new FormData(form));
        (extra || []).forEach(function (pair) { body.append(pair[0], pair[1]); });
        return fetch(url, {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'X-CSRFToken': data.token, Accept: 'application/json' },
          body: body,
        });
      })
      .then(function (response) {
        return response.json()
          .catch(function () { return { error: 'The server answered ' + response.status + '.' }; })
          .then(function (json) { return [response, json]; });
      });
  }

  // Replace a user's row in the list with a freshly rendered one.
  function replaceRow(page, html) {
    parseRows(html, 'tr.user-row').forEach(function (fresh) {
      const old = page.querySelector('tr.user-row[data-user-id="' + fresh.dataset.userId + '"]');
      if (!old) return;
      const checked = old.querySelector('.action-checkbox').checked;
      const row = document.adoptNode(fresh);
      old.replaceWith(row);
      row.querySelector('.action-checkbox').checked = checked;
      showTimes(row);
    });
  }

  // The dialog's Deactivate / Reactivate / Erase buttons, each behind a confirmation step.
  function dialogActions(page, content, reload) {
    const actions = content.querySelector('.dialog-actions');
    if (!actions) return;
    const exportForm = content.querySelector('.export-form');
    if (exportForm) {
      // A plain form POST: the browser saves the streamed file. Then show the request closed.
      exportForm.addEventListener('submit', function () {
        window.setTimeout(function () { reload('Export downloaded.'); }, 1500);
      });
    }
    content.querySelectorAll('[data-step]').forEach(function (button) {
      button.addEventListener('click', function () {
        const form = content.querySelector('[data-step-form="' + button.dataset.step + '"]');
        actions.hidden = true;
        form.hidden = false;
        const first = form.querySelector('select, textarea');
        if (first) first.focus();
      });
    });
    content.querySelectorAll('form[data-step-form]').forEach(function (form) {
      const error = form.querySelector('.form-error');
      form.addEventListener('input', function () { error.classList.remove('d-block'); });
      form.querySelector('[data-cancel]').addEventListener('click', function () {
        form.hidden = true;
        actions.hidden = false;
      });
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        const submit = form.querySelector('[type=submit]');
        submit.disabled = true;
        post(page, form.action, form)
          .then(function (result) {
            const response = result[0];
            const data = result[1];
            if (!response.ok) {
              error.textContent = data.error || 'Could not do this (' + response.status + ').';
              error.classList.add('d-block');
              return;
            }
            replaceRow(page, data.row);
            reload(data.message);
          })
          .catch(function () {
            error.textContent = 'Could not reach the server. Try again.';
            error.classList.add('d-block');
          })
          .finally(function () { submit.disabled = false; });
      });
    });
  }

  // Checkboxes on the rows (scroll-loaded ones too) and "Deactivate selected".
  function bulkDeactivate(page) {
    const $ = window.jQuery;
    const button = document.getElementById('bulk-deactivate');
    const rows = document.getElementById('user-rows');
    const all = document.getElementById('select-all');
    const modal = document.getElementById('bulk-dialog');
    const form = document.getElementById('bulk-form');
    const feedback = page.querySelector('.bulk-feedback');
    if (!button || !rows || !form) return;
    const error = form.querySelector('.form-error');
    form.addEventListener('input', function () { error.classList.remove('d-block'); });

    function selected() {
      return Array.from(rows.querySelectorAll('.action-checkbox:checked'), function (box) {
        return box.value;
      });
    }
    function update() {
      const count = selected().length;
      button.disabled = count === 0;
      page.querySelector('.selected-count').textContent = count;
      form.querySelectorAll('.bulk-count').forEach(function (node) { node.textContent = count; });
    }
    rows.addEventListener('change', update);
    page.addEventListener('users:replaced', function () {
      all.checked = false;
      update();
    });
    page.addEventListener('users:loaded', function () {
      if (all.checked) rows.querySelectorAll('.action-checkbox').forEach(function (box) { box.checked = true; });
      update();
    });
    all.addEventListener('change', function () {
      rows.querySelectorAll('.action-checkbox').forEach(function (box) { box.checked = all.checked; });
      update();
    });
    button.addEventListener('click', function () {
      error.classList.remove('d-block');
      form.reset();
      update();
      $(modal).modal('show');
    });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      const ids = selected();
      const submit = form.querySelector('[type=submit]');
      submit.disabled = true;
      const extra = [['action', 'deactivate']].concat(ids.map(function (id) { return ['rowid', id]; }));
      post(page, button.dataset.actionUrl, form, extra)
        .then(function (result) {
          const data = result[1];
          if (!result[0].ok) {
            error.textContent = data.error || 'Could not do this.';
            error.classList.add('d-block');
            return;
          }
          Object.values(data.rows).forEach(function (html) { replaceRow(page, html); });
          rows.querySelectorAll('.action-checkbox').forEach(function (box) { box.checked = false; });
          all.checked = false;
          update();
          feedback.textContent = data.message;
          $(modal).modal('hide');
        })
        .catch(function () {
          error.textContent = 'Could not reach the server. Try again.';
          error.classList.add('d-block');
        })
        .finally(function () { submit.disabled = false; });
    });
    update();
  }

  // GET the rows after `cursor` (none: the first ones): {html, cursor after them or null}.
  function fetchBatch(baseUrl, cursor) {
    const url = new URL(baseUrl, window.location.href);
    if (cursor) url.searchParams.set('cursor', cursor);
    return fetch(url, { credentials: 'same-origin' }).then(function (response) {
      if (!response.ok) throw new Error('HTTP ' + response.status);
      return response.text().then(function (html) {
        return { html: html, cursor: response.headers.get('X-Next-Cursor') || null };
      });
    });
  }

  // Rows of a server-rendered <table><tbody> document, ready to append.
  function parseRows(html, selector) {
    return Array.from(new DOMParser().parseFromString(html, 'text/html').querySelectorAll(selector));
  }

  // A tab of the detail dialog: loads its first batch when it first comes into view
  // (so a tab never shown is never fetched), then the next batch as it is scrolled.
  function scrollingTab(pane, observers) {
    const body = pane.querySelector('.tab-rows');
    const more = pane.querySelector('.tab-more');
    const error = pane.querySelector('.tab-error');
    let cursor = null;
    let started = false;
    let loading = false;

    function load() {
      if (loading || (started && !cursor)) return;
      loading = true;
      error.hidden = true;
      fetchBatch(pane.dataset.url, cursor)
        .then(function (batch) {
          cursor = batch.cursor;
          parseRows(batch.html, 'tr').forEach(function (row) { body.appendChild(document.adoptNode(row)); });
          showTimes(body);
          started = true;
          pane.querySelector('.tab-empty').hidden = body.rows.length > 0;
          more.hidden = !cursor;
          pane.dispatchEvent(new CustomEvent('tab:loaded'));
        })
        .catch(function () { error.hidden = false; })
        .finally(function () { loading = false; });
    }

    const observer = new IntersectionObserver(function (entries) {
      if (entries.some(function (entry) { return entry.isIntersecting; })) load();
    }, { root: pane.closest('.modal-body'), rootMargin: '300px 0px' });
    observer.observe(more);
    observers.push(observer);
    pane.querySelector('.tab-retry').addEventListener('click', function (event) {
      event.preventDefault();
      load();
    });
  }

  // The detail dialog: opens on a row's click or Enter, has a URL of its own (?user=ID),
  // closes with Escape, its close button or the browser's back button.
  //
  // Its state is two variables. `state` is where Bootstrap's modal is: 'closed', 'opening',
  // 'open' or 'closing', moved by the modal's own events (show, shown, hide, hidden).
  // `currentId` is the user the dialog is for, null once it is to close: navigation and
  // Escape set it, and so does the start of any hide. Bootstrap ignores a show or a hide
  // asked for during a transition, so settle() acts only at rest, and the end of each
  // transition settles again: Escape during the fade-in closes once shown, and Forward
  // during the fade-out opens again once hidden.
  function userDialog(page) {
    const $ = window.jQuery;
    const modal = document.getElementById('user-dialog');
    const content = document.getElementById('user-dialog-content');
    let observers = [];
    let state = 'closed';
    let currentId = null;
    let returnTo = null;
    // Marks the history entries this document pushed (a reload's entries are not).
    const thisPage = performance.timeOrigin;
    // Opening and closing the dialog moves through history; the list must not jump.
    window.history.scrollRestoration = 'manual';

    function urlFor(id) {
      const url = new URL(window.location.href);
      if (id === null) url.searchParams.delete('user');
      else url.searchParams.set('user', id);
      return url;
    }

    function rowFor(id) {
      return page.querySelector('tr.user-row[data-user-id="' + CSS.escape(String(id)) + '"]');
    }

    function replaceContent(nodes) {
      observers.forEach(function (observer) { observer.disconnect(); });
      observers = [];
      content.replaceChildren.apply(content, nodes);
    }

    function showMessage(title, text) {
      const template = document.getElementById('user-dialog-message');
      replaceContent([template.content.cloneNode(true)]);
      content.querySelector('.modal-title').textContent = title;
      content.querySelector('.dialog-message').textContent = text;
    }

    function load(id, message) {
      if (!message) showMessage('Loading…', '');
      fetch(page.dataset.usersUrl + encodeURIComponent(id), { credentials: 'same-origin' })
        .then(function (response) {
          if (response.status === 404) throw new Error('There is no such user.');
          if (!response.ok) throw new Error('Could not load this user (HTTP ' + response.status + ').');
          return response.text();
        })
        .then(function (html) {
          if (currentId !== id) return;
          const doc = new DOMParser().parseFromString(html, 'text/html');
          replaceContent(Array.from(doc.body.childNodes, function (node) { return document.adoptNode(node); }));
          showTimes(content);
          content.querySelectorAll('.user-tab').forEach(function (pane) { scrollingTab(pane, observers); });
          dialogActions(page, content, function (text) { load(id, text); });
          if (message) content.querySelector('.dialog-feedback').textContent = message;
          modal.dispatchEvent(new CustomEvent('user:loaded'));
        })
        .catch(function (error) {
          if (currentId === id) showMessage('User ' + id, error.message);
        });
    }

    // Bring the modal, if at rest, to what `currentId` asks for.
    function settle() {
      if (state === 'closed' && currentId !== null) $(modal).modal('show');
      else if (state === 'open' && currentId === null) $(modal).modal('hide');
    }

    // Ask for the dialog on user `id`, or (null) for no dialog.
    function want(id) {
      id = id === null ? null : String(id);
      if (id === currentId) return;
      currentId = id;
      if (id !== null) {
        returnTo = rowFor(id) || returnTo;
        if (state === 'opening' || state === 'open') load(id); // else once it shows
      }
      settle();
    }

    $(modal).on('show.bs.modal', function () {
      state = 'opening';
      load(currentId);
    });
    $(modal).on('shown.bs.modal', function () {
      state = 'open';
      settle();
    });
    $(modal).on('hide.bs.modal', function () {
      state = 'closing';
      currentId = null;
    });
    $(modal).on('hidden.bs.modal', function () {
      state = 'closed';
      replaceContent([]);
      if (currentId !== null) {
        settle(); // a user was named (Forward) while it faded out: the URL is already theirs
        return;
      }
      // Closed by Escape or its button: the address follows. Back from an entry this page
      // pushed (Forward still opens it again), otherwise the address loses ?user=.
      const named = new URL(window.location.href).searchParams.get('user');
      if (named !== null) {
        const entry = window.history.state;
        if (entry && entry.user === named && entry.page === thisPage) window.history.back();
        else window.history.replaceState(null, '', urlFor(null));
      }
      if (returnTo && document.body.contains(returnTo)) returnTo.focus({ preventScroll: true });
    });

    document.addEventListener('keydown', function (event) {
      if (event.key === 'Escape') want(null);
    });

    window.addEventListener('popstate', function () {
      want(new URL(window.location.href).searchParams.get('user'));
    });

    function openFromList(row) {
      const id = row.dataset.userId;
      window.history.pushState({ user: id, page: thisPage }, '', urlFor(id));
      want(id);
    }

    const rows = document.getElementById('user-rows');
    if (rows) {
      rows.addEventListener('click', function (event) {
        const row = event.target.closest('tr.user-row');
        if (!row || event.target.closest('a, button, input, label')) return;
        openFromList(row);
      });
      rows.addEventListener('keydown', function (event) {
        const row = event.target.closest('tr.user-row');
        if (event.key !== 'Enter' || !row || event.target !== row) return;
        event.preventDefault();
        openFromList(row);
      });
    }
    if (page.dataset.openUser !== undefined) want(page.dataset.openUser);
  }

  window.adminUsers = Object.assign(window.adminUsers || {}, { showTimes: showTimes });
  document.addEventListener('DOMContentLoaded', function () {
    showTimes(document);
    const page = document.querySelector('.users-page');
    if (!page) return;
    loadCounts(page);
    liveSearch(page, infiniteScroll(page));
    userDialog(page);
    bulkDeactivate(page);
  });
}());
