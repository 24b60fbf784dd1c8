'use strict';
// Search, sort and filter answer in place: the list at the new address is fetched, its
// rows and its regions ([data-region]: filters, column headers, empty message) replace
// ours, the address follows, and Back, Forward and a reload restore it. The search box
// answers as the admin types; Escape in it clears the search. Without script the same
// forms and links load the server's page.
(function () {
  const adminUsers = window.adminUsers;
  const LIST_ARGS = ['q', 'status', 'pending', 'sort', 'desc'];
  const TYPING_PAUSE = 250; // ms without a key before the list follows the search box

  // The list an address shows: its list arguments, in order.
  function listOf(href) {
    const url = new URL(href, window.location.href);
    return LIST_ARGS.map(function (name) { return url.searchParams.get(name) || ''; }).join('\n');
  }

  function listInPlace(page, resetScroll) {
    const form = page.querySelector('form[role=search]');
    const input = form.querySelector('input[name=q]');
    const body = document.getElementById('user-rows');
    const more = page.querySelector('.users-more');
    let shown = listOf(window.location.href);
    let latest = 0;
    let typing = null;

    // Show the list at `href`; `how`: 'push' a history entry, 'replace' it, or 'none'
    // (Back and Forward: the address is already there). `focus(page)` after.
    function go(href, how, focus) {
      const url = new URL(href, window.location.href);
      url.searchParams.delete('cursor');
      url.searchParams.delete('user');
      const asked = ++latest;
      page.setAttribute('aria-busy', 'true');
      adminUsers.retried(function () { return adminUsers.fetchBatch(url.href, null); })
        .then(function (answer) {
          if (asked !== latest) return;
          const doc = new DOMParser().parseFromString(answer.html, 'text/html');
          const fresh = doc.querySelector('.users-page');
          if (!fresh) throw new Error('not the list');
          page.querySelectorAll('[data-region]').forEach(function (node) {
            const other = fresh.querySelector('[data-region="' + node.dataset.region + '"]');
            if (other) node.replaceWith(document.adoptNode(other));
            else node.remove();
          });
          // A copy of the rows: adopting each moves it out of the live collection.
          const rows = Array.from(fresh.querySelector('#user-rows').rows);
          body.replaceChildren.apply(body, rows.map(function (row) { return document.adoptNode(row); }));
          more.hidden = fresh.querySelector('.users-more').hidden;
          page.dataset.batchUrl = fresh.dataset.batchUrl;
          page.dataset.countsUrl = fresh.dataset.countsUrl;
          if (how === 'none') input.value = fresh.querySelector('input[name=q]').value;
          else window.history[how === 'push' ? 'pushState' : 'replaceState'](null, '', url);
          shown = listOf(url.href);
          adminUsers.showTimes(page);
          if (page.getBoundingClientRect().top < 0) page.scrollIntoView(); // a new list, at its top
          resetScroll(fresh.querySelector('#load-more').dataset.cursor || null);
          adminUsers.loadCounts(page);
          page.removeAttribute('aria-busy');
          page.dispatchEvent(new CustomEvent('users:replaced'));
          if (focus) focus(page);
        })
        // Not the list (a 400 for a bad address) or no answer: the server's own page.
        .catch(function () { if (asked === latest) window.location.assign(url); });
    }

    function searchUrl() {
      const url = new URL(form.action, window.location.href);
      new FormData(form).forEach(function (value, name) {
        if (name !== 'q' || value.trim()) url.searchParams.append(name, name === 'q' ? value.trim() : value);
      });
      return url.href;
    }

    // A sort button's form, or the search form: the same address the browser would load.
    page.addEventListener('submit', function (event) {
      const target = event.target;
      if (target !== form && !target.classList.contains('sort-form')) return;
      event.preventDefault();
      window.clearTimeout(typing);
      if (target === form) {
        if (listOf(searchUrl()) !== shown) go(searchUrl(), 'push');
        return;
      }
      const sort = target.dataset.sort;
      const url = new URL(target.action, window.location.href);
      new FormData(target).forEach(function (value, name) { url.searchParams.append(name, value); });
      go(url.href, 'push', function () {
        page.querySelector('.sort-form[data-sort="' + sort + '"] button').focus();
      });
    });

    page.addEventListener('click', function (event) {
      const link = event.target.closest('a[data-in-place]');
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      const filter = link.closest('[data-region=filters]') !== null;
      go(link.href, 'push', function () {
        const next = filter ? page.querySelector('.status-filter [aria-current]') : input;
        if (next) next.focus();
      });
    });

    // As the admin types: one request a pause, the address replaced rather than piled up.
    input.addEventListener('input', function () {
      window.clearTimeout(typing);
      typing = window.setTimeout(function () {
        if (listOf(searchUrl()) === shown) return;
        const searching = new URL(window.location.href).searchParams.has('q');
        go(searchUrl(), searching ? 'replace' : 'push');
      }, TYPING_PAUSE);
    });

    input.addEventListener('keydown', function (event) {
      if (event.key !== 'Escape' || !input.value) return;
      event.preventDefault();
      event.stopPropagation(); // the text and its filter go, not a dialog
      input.value = '';
      window.clearTimeout(typing);
      if (listOf(searchUrl()) !== shown) go(searchUrl(), 'push');
    });

    window.addEventListener('popstate', function () {
      if (listOf(window.location.href) !== shown) go(window.location.href, 'none');
    });
  }

  adminUsers.listInPlace = listInPlace;
}());
