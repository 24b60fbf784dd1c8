'use strict';
// The user dialog's Export button, and its Deactivate / Reactivate / Erase buttons
// ([data-step]), each behind a confirmation step (form[data-step-form]) sent in place;
// a step opens on its [data-autofocus] field or button, Cancel goes back to the button.
(function () {
  const adminUsers = window.adminUsers;

  // `reload(message)` shows the user afresh, with `message` as the dialog's feedback.
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
        form.querySelector('[data-autofocus]').focus(); // what the step asks first
      });
    });
    content.querySelectorAll('form[data-step-form]').forEach(function (form) {
      form.querySelector('[data-cancel]').addEventListener('click', function () {
        form.hidden = true;
        actions.hidden = false;
        content.querySelector('[data-step="' + form.dataset.stepForm + '"]').focus();
      });
      adminUsers.submitInPlace(form, {
        url: form.action,
        refused: function (response) { return 'Could not do this (' + response.status + ').'; },
        done: function (data) {
          adminUsers.replaceRow(page, data.row);
          reload(data.message);
        },
      });
    });
  }

  adminUsers.dialogActions = dialogActions;
}());
