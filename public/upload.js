// The secure inbox's upload form (issue 7): a progress bar and drag and drop on top of a plain
// multipart form that works without JavaScript. Served from /assets/ (the CSP forbids inline
// scripts). The server answers a request marked x-upload-fragment with just the results.
(function () {
  'use strict';
  var form = document.querySelector('form[data-upload-form]');
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  var input = form.querySelector('input[type="file"]');
  var zone = form.querySelector('.drop-zone');
  var progress = form.querySelector('.upload-progress');
  var bar = form.querySelector('progress');
  var text = form.querySelector('.upload-progress-text');
  var results = document.getElementById('upload-results');
  var button = form.querySelector('button[type="submit"]');
  var dropHint = form.querySelector('.drop-hint');
  if (dropHint) dropHint.hidden = false;

  if (zone && input) {
    ['dragenter', 'dragover'].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add('dragging');
      });
    });
    ['dragleave', 'drop'].forEach(function (name) {
      zone.addEventListener(name, function () {
        zone.classList.remove('dragging');
      });
    });
    zone.addEventListener('drop', function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length > 0) input.files = event.dataTransfer.files;
    });
  }

  function showResults(html) {
    if (!results) return;
    var parsed = new DOMParser().parseFromString(html, 'text/html');
    results.replaceChildren.apply(results, Array.prototype.slice.call(parsed.body.childNodes));
    var section = results.querySelector('section');
    if (section) section.focus();
  }

  form.addEventListener('submit', function (event) {
    if (!input || input.files.length === 0) return; // let the browser say the field is required
    event.preventDefault();
    var data = new FormData(form); // _csrf is the first field: the server reads it first
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('x-upload-fragment', '1');
    var token = form.querySelector('input[name="_csrf"]');
    if (token) xhr.setRequestHeader('x-csrf-token', token.value);
    if (progress) progress.hidden = false;
    if (button) button.disabled = true;
    xhr.upload.addEventListener('progress', function (e) {
      if (!e.lengthComputable) return;
      var percent = Math.round((e.loaded / e.total) * 100);
      if (bar) bar.value = percent;
      if (text) text.textContent = (form.getAttribute('data-uploading') || '').replace('{percent}', String(percent));
    });
    xhr.addEventListener('load', function () {
      if (button) button.disabled = false;
      if (progress) progress.hidden = true;
      if ((xhr.getResponseHeader('content-type') || '').indexOf('text/html') === 0 && xhr.responseText.indexOf('<section') === 0) {
        showResults(xhr.responseText);
        form.reset();
      } else {
        if (text) text.textContent = form.getAttribute('data-failed') || '';
        if (progress) progress.hidden = false;
      }
    });
    xhr.addEventListener('error', function () {
      if (button) button.disabled = false;
      if (text) text.textContent = form.getAttribute('data-failed') || '';
    });
    xhr.send(data);
  });
})();
