// Passkeys and security keys (WebAuthn) on the pages that offer them. Progressive enhancement:
// the passkey parts of a page are `hidden` until this file reveals them, and only when the
// browser can do WebAuthn; every code form works without it.
//
// A form with data-webauthn="register" | "login" | "reauth" is handled in two rounds: first the
// options come from data-options-url (a POST with the CSRF header), then the browser asks the
// authenticator, the answer goes into the form's [data-webauthn-response] field, and the form is
// submitted normally. The server checks the answer; this file decides nothing.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  if (!lib || !lib.browserSupportsWebAuthn()) return;

  document.querySelectorAll('[data-webauthn-reveal]').forEach(function (el) { el.hidden = false; });
  document.querySelectorAll('[data-webauthn-nojs]').forEach(function (el) { el.hidden = true; });

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute('hx-headers') || '{}')['x-csrf-token'] || '';
    } catch (e) {
      return '';
    }
  }

  // Tells the person what is happening in the form's live region: one of the texts the page put
  // in data-msg-* (already in their language), or a message from the server.
  function say(form, which, serverMessage) {
    var status = form.querySelector('[data-webauthn-status]');
    if (status) status.textContent = serverMessage || status.dataset[which] || '';
  }

  async function fetchOptions(form) {
    var body = new URLSearchParams();
    if (form.dataset.webauthn === 'register') {
      var pw = form.querySelector('input[name="passkeyPassword"]');
      body.set('password', pw ? pw.value : '');
    }
    var res = await fetch(form.dataset.optionsUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'x-csrf-token': csrfToken(), accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body: body,
    });
    var json = {};
    try {
      json = await res.json();
    } catch (e) {
      json = {};
    }
    if (!res.ok) {
      if (json.redirect) window.location.assign(json.redirect);
      var err = new Error(json.message || '');
      err.fromServer = Boolean(json.message);
      throw err;
    }
    return json.options;
  }

  document.addEventListener('submit', async function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.webauthn) return;
    var field = form.querySelector('[data-webauthn-response]');
    if (!field) return;
    event.preventDefault();
    if (!form.reportValidity()) return;
    var button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    say(form, 'msgWorking', '');
    try {
      var options = await fetchOptions(form);
      var answer = form.dataset.webauthn === 'register'
        ? await lib.startRegistration({ optionsJSON: options })
        : await lib.startAuthentication({ optionsJSON: options });
      field.value = JSON.stringify(answer);
      // The password was checked with the options; it need not travel twice.
      var pw = form.querySelector('input[name="passkeyPassword"]');
      if (pw) pw.value = '';
      form.submit();
    } catch (e) {
      say(form, 'msgFailed', e && e.fromServer ? e.message : '');
      if (button) button.disabled = false;
    }
  });
})();
