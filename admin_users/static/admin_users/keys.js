'use strict';
// The list by keyboard: "/" goes to the search box, the skip link and ArrowDown from the
// search box to the first row, ArrowUp and ArrowDown between rows (Home and End to the
// first and last loaded), Enter opens the row's dialog (dialog.js).
(function () {
  const adminUsers = window.adminUsers;

  function typingIn(node) {
    return node.closest('input, textarea, select, [contenteditable]') !== null;
  }

  function listKeys(page) {
    const input = page.querySelector('input[name=q]');
    const body = document.getElementById('user-rows');
    if (!input || !body) return;

    function focusRow(row) {
      if (!row) return;
      row.focus();
      row.scrollIntoView({ block: 'nearest' });
    }

    function firstRowOrMessage() {
      if (body.rows.length) focusRow(body.rows[0]);
      else page.querySelector('.users-empty').focus();
    }

    document.addEventListener('keydown', function (event) {
      if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey) return;
      if (typingIn(event.target) || document.querySelector('.modal.show')) return;
      event.preventDefault();
      input.focus();
      input.select();
    });

    input.addEventListener('keydown', function (event) {
      if (event.key !== 'ArrowDown') return;
      event.preventDefault();
      firstRowOrMessage();
    });

    body.addEventListener('keydown', function (event) {
      const row = event.target;
      if (!row.matches || !row.matches('tr.user-row')) return;
      const rows = body.rows;
      const moves = {
        ArrowDown: row.nextElementSibling,
        ArrowUp: row.previousElementSibling,
        Home: rows[0],
        End: rows[rows.length - 1],
      };
      if (!(event.key in moves)) return;
      event.preventDefault();
      if (event.key === 'ArrowUp' && !row.previousElementSibling) input.focus();
      else focusRow(moves[event.key]);
    });

    const skip = document.querySelector('.skip-link');
    if (skip) {
      skip.addEventListener('click', function (event) {
        event.preventDefault();
        firstRowOrMessage();
      });
    }
  }

  adminUsers.listKeys = listKeys;
}());
