'use strict';
// A tab of the user dialog (.user-tab, its rows' address in data-url): its first batch
// comes with the dialog (a template.tab-first in the pane, for the tab shown first) or is
// asked for as the tab is chosen (show.bs.tab, before its pane is shown) or comes into
// view (so a tab never shown is never fetched); then the next batch as it is scrolled;
// and the tabs' keys.
(function () {
  const adminUsers = window.adminUsers;

  // `observers` collects the tab's IntersectionObserver, for the dialog to disconnect.
  function scrollingTab(pane, observers) {
    const $ = window.jQuery;
    const body = pane.querySelector('.tab-rows');
    const more = pane.querySelector('.tab-more');
    const error = pane.querySelector('.tab-error');
    let cursor = null;
    let started = false;
    let loading = false;
    let failed = false; // until Retry: a failed batch is tried 3 times at most

    function show(rows, next) {
      rows.forEach(function (row) { body.appendChild(document.adoptNode(row)); });
      adminUsers.showTimes(body);
      cursor = next;
      started = true;
      pane.querySelector('.tab-empty').hidden = body.rows.length > 0;
      more.hidden = !cursor;
      pane.dispatchEvent(new CustomEvent('tab:loaded'));
    }

    function load() {
      if (loading || failed || (started && !cursor)) return;
      loading = true;
      adminUsers.hideError(error);
      const after = cursor;
      adminUsers.retried(function () { return adminUsers.fetchBatch(pane.dataset.url, after); })
        .then(function (batch) {
          show(adminUsers.parseRows(batch.html, 'tr'), batch.cursor);
        })
        .catch(function () {
          failed = true;
          more.hidden = true;
          adminUsers.showError(error);
        })
        .finally(function () { loading = false; });
    }

    const first = pane.querySelector('template.tab-first');
    if (first) {
      first.remove();
      show(Array.from(first.content.querySelectorAll('tr')), first.dataset.cursor || null);
    }
    const scope = pane.closest('.modal-content') || document;
    const tab = pane.id && scope.querySelector('[role=tab][aria-controls="' + CSS.escape(pane.id) + '"]');
    if (tab) $(tab).on('show.bs.tab', function () { if (!started) load(); });
    const observer = new IntersectionObserver(function (entries) {
      if (entries.some(function (entry) { return entry.isIntersecting; })) load();
    }, { root: pane.closest('.modal-body'), rootMargin: '300px 0px' });
    observer.observe(more);
    observers.push(observer);
    pane.querySelector('.tab-retry').addEventListener('click', function () {
      failed = false;
      load();
    });
  }

  // The WAI-ARIA tabs pattern on the dialog's [role=tablist]: ArrowLeft and ArrowRight
  // (Home, End) move to a tab and show it; only the shown tab is in the Tab order.
  function tabKeys(list) {
    const $ = window.jQuery;
    const tabs = Array.from(list.querySelectorAll('[role=tab]'));
    list.addEventListener('keydown', function (event) {
      const at = tabs.indexOf(event.target);
      const to = {
        ArrowRight: (at + 1) % tabs.length,
        ArrowLeft: (at + tabs.length - 1) % tabs.length,
        Home: 0,
        End: tabs.length - 1,
      }[event.key];
      if (at < 0 || to === undefined) return;
      event.preventDefault();
      $(tabs[to]).tab('show');
      tabs[to].focus();
    });
    $(tabs).on('shown.bs.tab', function () {
      tabs.forEach(function (tab) { tab.tabIndex = tab.classList.contains('active') ? 0 : -1; });
    });
  }

  adminUsers.scrollingTab = scrollingTab;
  adminUsers.tabKeys = tabKeys;
}());
