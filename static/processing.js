// While an image is processing, ask the API for its status and reload the page
// once it is ready or failed.
(function () {
  const page = document.querySelector(".image-page[data-status='pending']");
  if (!page) return;
  let delay = 500;
  async function poll() {
    try {
      const response = await fetch(page.dataset.apiUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const image = await response.json();
        if (image.status !== "pending") { window.location.reload(); return; }
      }
    } catch (error) { /* a network blip: try again */ }
    delay = Math.min(delay * 1.5, 5000);
    setTimeout(poll, delay);
  }
  setTimeout(poll, delay);
})();
