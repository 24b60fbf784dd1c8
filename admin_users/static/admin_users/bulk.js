'use strict';
// Checkboxes on the rows (scroll-loaded ones too) and "Deactivate selected": the button
// names its confirmation dialog (data-dialog), the action (data-action) and where it is
// sent (data-action-url); the dialog's form gives the reason.
(function () {
  const adminUsers = window.adminUsers;

  function bulkDeactivate(page) {
    const $ = window.jQuery;
    const button = document.getElementById('bulk-deactivate');
    const rows = document.getElementById('user-rows');
    const feedback = page.querySelector('.bulk-feedback');
    if (!button || !rows) return;
    const modal = document.getElementById(button.dataset.dialog);
    const form = modal && modal.querySelector('form');
    if (!form) return;
    const error = form.querySelector('.form-error');

    function selected() {
      return Array.from(rows.querySelectorAll('.action-checkbox:checked'), function (box) {
        return box.value;
      });
    }
    const matchingButton = page.querySelector('.select-matching');
    const matchingField = form.querySelector('.bulk-matching');
    let matching = false; // "all N matching": every user of the list, loaded or not

    // The selection says what it holds: rows loaded later are not selected by "select all";
    // with every loaded row ticked, "Select all N matching" offers the whole list where N
    // is exact, more than the rows loaded and at most the limit.
    function update() {
      const count = selected().length;
      const loaded = rows.rows.length;
      const listed = Number(page.dataset.matching || NaN);
      const box = all();
      if (count < loaded) matching = false;
      const n = matching ? listed : count;
      button.disabled = count === 0;
      page.querySelector('.selected-count').textContent = n.toLocaleString();
      page.querySelector('.selection-scope').textContent = matching
        ? 'All ' + n.toLocaleString() + ' matching users selected'
        : count ? count + ' of ' + loaded + ' loaded users selected' : '';
      matchingButton.querySelector('.matching-count').textContent = listed.toLocaleString();
      matchingButton.hidden = matching || count === 0 || count < loaded || !(listed > loaded) ||
        listed > Number(matchingButton.dataset.limit);
      box.checked = count > 0 && count === loaded;
      box.indeterminate = count > 0 && count < loaded;
      matchingField.hidden = !matching;
      matchingField.querySelector('input').disabled = !matching;
      form.querySelectorAll('.bulk-count').forEach(function (node) { node.textContent = n.toLocaleString(); });
    }
    function checkAll(checked) {
      rows.querySelectorAll('.action-checkbox').forEach(function (box) { box.checked = checked; });
    }
    // The header's box is replaced with the column headers by a sort or a search.
    function all() {
      return document.getElementById('select-all');
    }

    rows.addEventListener('change', update);
    page.addEventListener('users:counted', update);
    page.addEventListener('users:replaced', function () {
      matching = false;
      update();
    });
    matchingButton.addEventListener('click', function () {
      matching = true;
      update();
      button.focus();
    });
    page.addEventListener('users:loaded', update);
    page.addEventListener('change', function (event) {
      if (event.target !== all()) return;
      checkAll(event.target.checked);
      update();
    });
    button.addEventListener('click', function () {
      adminUsers.hideError(error);
      form.reset();
      update();
      $(modal).modal('show');
    });
    $(modal).on('shown.bs.modal', function () {
      form.querySelector(matching ? '#bulk-count' : '[data-autofocus]').focus();
    });
    $(modal).on('hidden.bs.modal', function () { (button.disabled ? feedback : button).focus(); });
    adminUsers.submitInPlace(form, {
      url: button.dataset.actionUrl,
      extra: function () {
        if (matching) { // the list's own address: the server finds its users again
          const args = Array.from(new URL(window.location.href).searchParams);
          return [['action', button.dataset.action], ['matching', '1']].concat(args);
        }
        const ids = selected().map(function (id) { return ['rowid', id]; });
        return [['action', button.dataset.action]].concat(ids);
      },
      refused: function () { return 'Could not do this.'; },
      done: function (data) {
        Object.values(data.rows).forEach(function (html) { adminUsers.replaceRow(page, html); });
        checkAll(false);
        matching = false;
        update();
        feedback.textContent = data.message;
        $(modal).modal('hide');
      },
    });
    update();
  }

  adminUsers.bulkDeactivate = bulkDeactivate;
}());
