// Dialogue pages only. Progressive enhancement: every form works without this file.
// The print button is revealed here (it needs script); print styles are in app.css.
// Autosave itself is htmx (hx-post with a debounced hx-trigger on each question); this file
// shows "saving ..." while a save is under way and lets htmx swap in a 409 answer, which carries
// the conflict message with both texts (by default htmx swaps nothing on 4xx responses).
(function () {
  document.querySelectorAll('button[data-print]').forEach(function (button) {
    button.hidden = false;
    button.addEventListener('click', function () {
      window.print();
    });
  });
  if (typeof window.htmx === 'undefined') return;
  // The strict CSP forbids inline styles and the app never uses them: htmx must not copy a
  // style attribute (even an empty one, left by a browser tool) onto swapped-in elements.
  window.htmx.config.attributesToSettle = ['class', 'width', 'height'];
  window.htmx.config.responseHandling = [
    { code: '204', swap: false },
    { code: '[23]..', swap: true },
    { code: '409', swap: true, error: false },
    { code: '[45]..', swap: true, error: true },
  ];
  document.addEventListener('htmx:beforeRequest', function (event) {
    var target = event.detail && event.detail.target;
    var form = target && target.closest ? target.closest('form[data-saving]') : null;
    var text = form ? form.getAttribute('data-saving') : null;
    if (target && text && target.classList.contains('save-status') && !target.querySelector('.conflict')) target.textContent = text;
  });
})();
