'use strict';
// Admin > Users: starts each feature of the page, in this order, once the page is parsed.
// Its scripts: common.js, times.js, list.js, navigate.js, keys.js, dialog_tabs.js,
// dialog_actions.js, dialog.js, bulk.js, then this one (the template's scripts block
// lists them).
(function () {
  const adminUsers = window.adminUsers;

  document.addEventListener('DOMContentLoaded', function () {
    adminUsers.showTimes(document);
    const page = document.querySelector('.users-page');
    if (!page) return;
    adminUsers.usersList(page);
    adminUsers.listKeys(page);
    adminUsers.userDialog(page);
    adminUsers.bulkDeactivate(page);
  });
}());
