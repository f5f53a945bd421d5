// Fills the one-time link's token from the URL's fragment (never sent to the server) into
// its field: /account/reset#<token> and /signup#invite=<token>. The page works without it
// (paste the link).
(function () {
  var hash = decodeURIComponent(location.hash.slice(1));
  if (!hash) return;
  var reset = document.getElementById("token");
  var invite = document.getElementById("invite");
  if (reset && hash.indexOf("=") < 0) reset.value = hash;
  if (invite && hash.indexOf("invite=") === 0) invite.value = hash.slice(7);
  history.replaceState(null, "", location.pathname + location.search);
})();
