// The sign-in link the server prints (/admin#token=...) carries the admin token in the
// fragment, which a browser never sends to the server, so it lands in no access log. This
// takes it out of the address bar and the history, then posts it to the sign-in form.
(() => {
  const match = /^#token=(.+)$/.exec(window.location.hash);
  if (!match) return;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  const form = document.querySelector("form.admin-sign-in");
  const field = document.getElementById("admin-token");
  if (!form || !field) return;               // already signed in
  try {
    field.value = decodeURIComponent(match[1]);
  } catch (error) {                          // a mangled link: leave the form to be filled
    return;
  }
  form.submit();
})();
