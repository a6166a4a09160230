// The image page: copy buttons, and Delete for the browser that holds the image's
// delete token (kept by upload.js, or handed to this page once after a form upload).
(function () {
  "use strict";
  const page = document.querySelector(".image-page");
  if (!page) return;
  const name = page.dataset.name;
  const tokens = window.kittehDeleteTokens;

  if (page.dataset.deleteToken) {
    tokens.set(name, page.dataset.deleteToken);
    delete page.dataset.deleteToken;
  }

  // Copy buttons -------------------------------------------------------------

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    const field = document.getElementById(button.dataset.copy);
    if (!field) return;
    button.hidden = false;
    const label = button.textContent;
    let timer = null;
    button.addEventListener("click", async function () {
      const copied = await copy(field);
      button.textContent = copied ? "Copied" : "Press Ctrl+C";
      button.classList.toggle("done", copied);
      clearTimeout(timer);
      timer = setTimeout(function () {
        button.textContent = label;
        button.classList.remove("done");
      }, 2000);
    });
    field.addEventListener("focus", function () { field.select(); });
  });

  async function copy(field) {
    try {
      await navigator.clipboard.writeText(field.value);
      return true;
    } catch (error) {
      // No Clipboard API (an http:// page other than localhost) or no permission:
      // the old way, from the selected field, and the selection is left for Ctrl+C.
      field.focus();
      field.select();
      try {
        return document.execCommand("copy");
      } catch (ignored) {
        return false;
      }
    }
  }

  // Delete -------------------------------------------------------------------

  const start = page.querySelector(".delete-start");
  const confirmation = page.querySelector(".delete-confirm");
  const yes = page.querySelector(".delete-yes");
  const no = page.querySelector(".delete-no");
  const status = page.querySelector(".delete-status");
  if (!start || !tokens.get(name)) return;
  start.hidden = false;

  start.addEventListener("click", function () {
    confirmation.hidden = false;
    start.hidden = true;
    no.focus();
  });
  no.addEventListener("click", function () {
    confirmation.hidden = true;
    start.hidden = false;
    start.focus();
  });
  yes.addEventListener("click", async function () {
    yes.disabled = true;
    no.disabled = true;
    tell("Deleting…", "");
    let response;
    try {
      response = await fetch(page.dataset.deleteUrl, {
        method: "DELETE",
        headers: { Authorization: "Bearer " + tokens.get(name), Accept: "application/json" },
      });
    } catch (error) {
      failed("The picture could not be deleted: check your connection and try again.");
      return;
    }
    // 404: deleted already (by this browser in another tab, say): the same outcome.
    if (response.status === 204 || response.status === 404) {
      tokens.forget(name);
      gone();
    } else if (response.status === 403) {
      tokens.forget(name); // a token the server does not know will never work
      confirmation.hidden = true;
      tell("This browser's delete token is not the one for this picture, so it cannot delete it.", "error");
    } else {
      failed("The picture could not be deleted (HTTP " + response.status + "). Try again in a moment.");
    }
  });

  function tell(text, kind) {
    status.textContent = text;
    status.className = "notice delete-status" + (kind ? " " + kind : "");
    status.hidden = !text;
  }

  function failed(text) {
    yes.disabled = false;
    no.disabled = false;
    tell(text, "error");
  }

  // The page stays, emptied, so that the browser's Back button leads somewhere sane.
  function gone() {
    page.dataset.status = "deleted";
    page.querySelectorAll(".sizes, .share, .actions, .delete-confirm, .processing, .failed")
      .forEach(function (section) { section.remove(); });
    const done = document.createElement("p");
    const home = document.createElement("a");
    home.href = page.dataset.uploadUrl;
    home.className = "button";
    home.textContent = "Upload another picture";
    done.append(home);
    tell(name + " is deleted: the original, every size and its page are gone.", "success");
    status.after(done);
  }
})();
