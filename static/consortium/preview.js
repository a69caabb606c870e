// The review pages' PDF preview (templates/admin/includes/pdf_preview.html): the document loads
// the first time its box is opened, never with the page.
document.addEventListener("toggle", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLDetailsElement) || !box.open || !box.classList.contains("cm-preview-box")) {
    return;
  }
  const frame = box.querySelector("iframe[data-src]");
  if (frame && !frame.getAttribute("src")) {
    frame.setAttribute("src", frame.dataset.src);
  }
}, true);
