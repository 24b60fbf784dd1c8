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
    const all = document.getElementById('select-all');
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
    function update() {
      const count = selected().length;
      button.disabled = count === 0;
      page.querySelector('.selected-count').textContent = count;
      form.querySelectorAll('.bulk-count').forEach(function (node) { node.textContent = count; });
    }
    function checkAll(checked) {
      rows.querySelectorAll('.action-checkbox').forEach(function (box) { box.checked = checked; });
    }

    rows.addEventListener('change', update);
    page.addEventListener('users:replaced', function () {
      all.checked = false;
      update();
    });
    page.addEventListener('users:loaded', function () {
      if (all.checked) checkAll(true);
      update();
    });
    all.addEventListener('change', function () {
      checkAll(all.checked);
      update();
    });
    button.addEventListener('click', function () {
      adminUsers.hideError(error);
      form.reset();
      update();
      $(modal).modal('show');
    });
    adminUsers.submitInPlace(form, {
      url: button.dataset.actionUrl,
      extra: function () {
        const ids = selected().map(function (id) { return ['rowid', id]; });
        return [['action', button.dataset.action]].concat(ids);
      },
      refused: function () { return 'Could not do this.'; },
      done: function (data) {
        Object.values(data.rows).forEach(function (html) { adminUsers.replaceRow(page, html); });
        checkAll(false);
        all.checked = false;
        update();
        feedback.textContent = data.message;
        $(modal).modal('hide');
      },
    });
    update();
  }

  adminUsers.bulkDeactivate = bulkDeactivate;
}());
