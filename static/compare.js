// Before/after slider: the range input (keyboard and pointer) moves the split.
(() => {
  const compare = document.getElementById("compare");
  if (!compare) return;
  const range = document.getElementById("compare-range");
  const update = () => compare.style.setProperty("--pos", range.value + "%");
  range.addEventListener("input", update);
  update();
})();
