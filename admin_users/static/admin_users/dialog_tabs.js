'use strict';
// A tab of the user dialog (.user-tab, its rows' address in data-url): loads its first
// batch when it first comes into view (so a tab never shown is never fetched), then the
// next batch as it is scrolled.
(function () {
  const adminUsers = window.adminUsers;

  // `observers` collects the tab's IntersectionObserver, for the dialog to disconnect.
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
      adminUsers.hideError(error);
      adminUsers.fetchBatch(pane.dataset.url, cursor)
        .then(function (batch) {
          cursor = batch.cursor;
          adminUsers.parseRows(batch.html, 'tr').forEach(function (row) {
            body.appendChild(document.adoptNode(row));
          });
          adminUsers.showTimes(body);
          started = true;
          pane.querySelector('.tab-empty').hidden = body.rows.length > 0;
          more.hidden = !cursor;
          pane.dispatchEvent(new CustomEvent('tab:loaded'));
        })
        .catch(function () { adminUsers.showError(error); })
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

  adminUsers.scrollingTab = scrollingTab;
}());
