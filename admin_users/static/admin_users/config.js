'use strict';
// Admin > App Config: the times of its recent changes show as "3 days ago" (times.js).
(function () {
  document.addEventListener('DOMContentLoaded', function () {
    window.adminUsers.showTimes(document);
  });
}());
