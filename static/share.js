// Copy-link buttons ([data-copy]): the Clipboard API where the page is a secure context,
// else a hidden textarea and execCommand("copy"); if both fail, the link is selected so a
// person can copy it by hand. Without JavaScript the buttons stay hidden and the link shows.
(() => {
  function copyByHand(text) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.append(area);
    area.select();
    let copied = false;
    try { copied = document.execCommand("copy"); } catch (err) { copied = false; }
    area.remove();
    return copied;
  }

  async function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); return true; } catch (err) { /* below */ }
    }
    return copyByHand(text);
  }

  for (const button of document.querySelectorAll("[data-copy]")) {
    const label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", async () => {
      const copied = await copy(button.dataset.copy);
      const field = button.dataset.select && document.getElementById(button.dataset.select);
      // with nothing to select, pressing Ctrl+C would copy nothing: point at the link instead
      button.textContent = copied ? "Copied" : field ? "Press Ctrl+C to copy"
        : "Could not copy: open the share link and copy its address";
      button.dataset.copied = copied ? "true" : "false";
      if (!copied && field) { field.focus(); field.select(); }
      setTimeout(() => { button.textContent = label; }, 2500);
    });
  }
})();
