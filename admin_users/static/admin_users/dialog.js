'use strict';
// The user dialog: opens on a row's click or Enter, has a URL of its own (?user=ID),
// closes with Escape, its close button or the browser's back button. Its content is the
// user's detail page (data-users-url of .users-page, then the id), its tabs and actions.
(function () {
  const adminUsers = window.adminUsers;

  // The dialog's state is one small machine, changed only by dispatch():
  //   phase  where Bootstrap's modal is: 'closed', 'opening', 'open' or 'closing', moved
  //          by the modal's own events (show, shown, hide, hidden);
  //   user   the user the dialog is for, null once it is to close: navigation and Escape
  //          set it ('want'), and so does the start of any hide;
  //   returnTo  the id of the row that takes the focus back once the dialog has closed
  //          (looked up then: an action replaces the row);
  //   focus  what takes the focus once the content is there and the modal shown: the
  //          main action when it opens, Close after an action.
  // Bootstrap ignores a show or a hide asked for during a transition, so settle() acts only
  // at rest, and the end of each transition settles again: Escape during the fade-in closes
  // once shown, and Forward during the fade-out opens again once hidden.
  const PHASE_AFTER = { show: 'opening', shown: 'open', hide: 'closing', hidden: 'closed' };

  function userDialog(page) {
    const $ = window.jQuery;
    const modal = document.getElementById('user-dialog');
    const content = modal.querySelector('.modal-content');
    const messageTemplate = document.getElementById(modal.dataset.messageTemplate);
    const observers = []; // the tabs' observers, disconnected with the content they watch
    const state = { phase: 'closed', user: null, returnTo: null, focus: null };
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
      observers.splice(0).forEach(function (observer) { observer.disconnect(); });
      content.replaceChildren.apply(content, nodes);
    }

    function showMessage(title, text) {
      replaceContent([messageTemplate.content.cloneNode(true)]);
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
          if (state.user !== id) return;
          const doc = new DOMParser().parseFromString(html, 'text/html');
          replaceContent(Array.from(doc.body.childNodes, function (node) { return document.adoptNode(node); }));
          adminUsers.showTimes(content);
          content.querySelectorAll('.user-tab').forEach(function (pane) { adminUsers.scrollingTab(pane, observers); });
          content.querySelectorAll('[role=tablist]').forEach(adminUsers.tabKeys);
          adminUsers.dialogActions(page, content, function (text) { load(id, text); });
          if (message) content.querySelector('.dialog-feedback').textContent = message;
          const next = message ? '' : '[data-step="deactivate"], [data-step="reactivate"], ';
          state.focus = content.querySelector(next + '.dialog-close');
          focusNow();
          modal.dispatchEvent(new CustomEvent('user:loaded'));
        })
        .catch(function (error) {
          if (state.user === id) showMessage('User ' + id, error.message);
        });
    }

    // Closed by Escape or its button: the address follows. Back from an entry this page
    // pushed (Forward still opens it again), otherwise the address loses ?user=.
    function closed() {
      const named = new URL(window.location.href).searchParams.get('user');
      if (named !== null) {
        const entry = window.history.state;
        if (entry && entry.user === named && entry.page === thisPage) window.history.back();
        else window.history.replaceState(null, '', urlFor(null));
      }
      const row = state.returnTo === null ? null : rowFor(state.returnTo);
      if (row) row.focus({ preventScroll: true });
    }

    // Bootstrap focuses the modal itself once shown: the content's choice comes after,
    // unless the admin has already moved into the content.
    function focusNow() {
      if (state.phase !== 'open' || !state.focus) return;
      if (!content.contains(document.activeElement)) state.focus.focus();
      state.focus = null;
    }

    // Bring the modal, if at rest, to what `state.user` asks for.
    function settle() {
      if (state.phase === 'closed' && state.user !== null) $(modal).modal('show');
      else if (state.phase === 'open' && state.user === null) $(modal).modal('hide');
    }

    // The one place the state changes. `event` is 'want' (the dialog on user `id`, or null
    // for no dialog) or one of the modal's: 'show', 'shown', 'hide', 'hidden'.
    function dispatch(event, id) {
      if (event === 'want') {
        if (id === state.user) return;
        state.user = id;
        if (id !== null) {
          if (rowFor(id)) state.returnTo = id;
          if (state.phase === 'opening' || state.phase === 'open') load(id); // else once it shows
        }
      } else {
        state.phase = PHASE_AFTER[event];
        if (event === 'show') load(state.user);
        else if (event === 'shown') focusNow();
        else if (event === 'hide') state.user = null;
        else if (event === 'hidden') {
          replaceContent([]);
          // A user named (Forward) while it faded out: settle() opens it, the URL is theirs.
          if (state.user === null) closed();
        }
      }
      settle();
    }

    function want(id) {
      dispatch('want', id === null ? null : String(id));
    }

    Object.keys(PHASE_AFTER).forEach(function (event) {
      $(modal).on(event + '.bs.modal', function () { dispatch(event); });
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

  adminUsers.userDialog = userDialog;
}());
