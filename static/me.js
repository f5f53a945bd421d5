// My results: the "Undo" countdown after a delete, and on /me/key the key taken from the
// link's fragment (which never reaches the server) into the form, then out of the address
// bar and the history.
(() => {
  const undo = document.getElementById("undo-form");
  if (undo) {
    const until = Date.parse(undo.dataset.until);
    const left = document.getElementById("undo-left");
    const tick = () => {
      const s = Math.ceil((until - Date.now()) / 1000);
      if (s <= 0) { undo.hidden = true; return; }
      left.textContent = `${s} s left`;
      setTimeout(tick, 1000);
    };
    tick();
  }

  const key = document.getElementById("key");
  if (key && location.hash.length > 1) {
    key.value = decodeURIComponent(location.hash.slice(1));
    document.getElementById("key-field").hidden = true;
    document.getElementById("key-from-link").hidden = false;
    history.replaceState(null, "", location.pathname);
    document.getElementById("open-here").focus();
  }
})();
