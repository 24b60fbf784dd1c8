'use strict';
// Shared by the Users page's scripts: requests to the extension, and how an error shows.
// The CSRF token comes from the page (data-csrf-token), a fresh one from data-csrf-url.
(function () {
  // GET the rows after `cursor` (none: the first ones, or a whole page of the list):
  // {html, cursor after them or null}; a refusal or failure keeps its status (retried()).
  function fetchBatch(baseUrl, cursor) {
    const url = new URL(baseUrl, window.location.href);
    if (cursor) url.searchParams.set('cursor', cursor);
    return fetch(url, { credentials: 'same-origin' }).then(function (response) {
      if (!response.ok) throw Object.assign(new Error('HTTP ' + response.status), { status: response.status });
      return response.text().then(function (html) {
        return { html: html, cursor: response.headers.get('X-Next-Cursor') || null };
      });
    });
  }

  // `request()` (a function returning a promise) tried at most 3 times, 0.3 s and then
  // 0.9 s apart, while it fails by the network or a 5xx: a failure costs at most 3
  // requests, and then the caller shows a steady message with a Retry button.
  function retried(request, tries) {
    const left = tries === undefined ? 3 : tries;
    return request().catch(function (error) {
      if (left <= 1 || error.status < 500) throw error;
      const pause = 300 * Math.pow(3, 3 - left);
      return new Promise(function (resolve) { window.setTimeout(resolve, pause); })
        .then(function () { return retried(request, left - 1); });
    });
  }

  // Rows of a server-rendered <table><tbody> document, ready to append.
  function parseRows(html, selector) {
    return Array.from(new DOMParser().parseFromString(html, 'text/html').querySelectorAll(selector));
  }

  // The CSRF token for the next POST: the page's own (data-csrf-token, made with the
  // page) or the last one asked for at data-csrf-url, while younger than TOKEN_AGE_MS;
  // else (or `fresh`) a new one is asked for first. A page may stay open for hours.
  const TOKEN_AGE_MS = 10 * 60 * 1000;
  let token = null; // { value, at: performance.now() when it was made }

  function csrfToken(fresh) {
    const holder = document.querySelector('[data-csrf-url]');
    if (!token && holder.dataset.csrfToken) token = { value: holder.dataset.csrfToken, at: 0 };
    if (!fresh && token && performance.now() - token.at < TOKEN_AGE_MS) return Promise.resolve(token.value);
    const asked = performance.now();
    return fetch(holder.dataset.csrfUrl, { credentials: 'same-origin' })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        token = { value: data.token, at: asked };
        return data.token;
      });
  }

  // POST a form's fields (and the button that sent it) with the CSRF token; resolves to
  // [response, json]. Refused for its token (a 400 naming CSRF: it expired, or the
  // admin signed in anew elsewhere), it is sent once more with a fresh token.
  function post(url, form, extra, submitter) {
    const body = new URLSearchParams(new FormData(form));
    if (submitter && submitter.name) body.append(submitter.name, submitter.value);
    (extra || []).forEach(function (pair) { body.append(pair[0], pair[1]); });
    function send(fresh) {
      return csrfToken(fresh)
        .then(function (value) {
          return fetch(url, {
            method: 'POST',
            credentials: 'same-origin',
            headers: { 'X-CSRFToken': value, Accept: 'application/json' },
            body: body,
          });
        })
        .then(function (response) {
          return response.text().then(function (text) {
            if (response.status === 400 && !fresh && /CSRF/i.test(text)) return send(true);
            let json;
            try {
              json = JSON.parse(text);
            } catch (error) {
              json = { error: 'The server answered ' + response.status + '.' };
            }
            return [response, json];
          });
        });
    }
    return send(false);
  }

  // The one way an error shows: `text`, if given, replaces the node's own message (a
  // .form-error has none; a "Could not load… Try again" line keeps its link).
  function showError(node, text) {
    if (text !== undefined) node.textContent = text;
    node.hidden = false;
    node.classList.add('d-block'); // Bootstrap shows an .invalid-feedback only so
  }

  function hideError(node) {
    node.hidden = true;
    node.classList.remove('d-block');
  }

  // `form` sends itself in place: on submit its fields, with the [name, value] pairs of
  // options.extra(), go to options.url by POST, its submit buttons disabled meanwhile.
  // Success calls options.done(json); a refusal shows the server's reason (or, if it gave
  // none, options.refused(response)) in the form's .form-error, until the next input.
  function submitInPlace(form, options) {
    const error = form.querySelector('.form-error');
    form.addEventListener('input', function () { hideError(error); });
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      const buttons = form.querySelectorAll('[type=submit]');
      buttons.forEach(function (button) { button.disabled = true; });
      post(options.url, form, options.extra ? options.extra() : [], event.submitter)
        .then(function (result) {
          const response = result[0];
          const data = result[1];
          if (!response.ok) {
            showError(error, data.error || options.refused(response));
            const field = form.querySelector('textarea, input:not([type=hidden])');
            if (field) field.focus(); // where the admin mends it
            return;
          }
          options.done(data);
        })
        .catch(function () { showError(error, 'Could not reach the server. Try again.'); })
        .finally(function () { buttons.forEach(function (button) { button.disabled = false; }); });
    });
  }

  window.adminUsers = Object.assign(window.adminUsers || {}, {
    fetchBatch: fetchBatch,
    retried: retried,
    parseRows: parseRows,
    showError: showError,
    hideError: hideError,
    submitInPlace: submitInPlace,
  });
}());
