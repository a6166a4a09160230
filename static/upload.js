// Files larger than API Gateway and Lambda take (10 MB / 6 MB) go straight from
// the browser to S3: ask the API for a presigned POST, send the file there with
// progress, then open the image's page. Smaller files use the plain form post.
(function () {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = form.querySelector("input[type=file]");
  const button = form.querySelector("button[type=submit]");
  const progress = form.querySelector("progress");
  const status = form.querySelector(".upload-status");
  const threshold = Number(form.dataset.directThreshold);

  function reset() {
    button.disabled = false;
    progress.hidden = true;
    progress.value = 0;
    status.textContent = "";
  }
  // Coming back with the Back button restores the page as it was left, mid-upload.
  window.addEventListener("pageshow", reset);

  form.addEventListener("submit", async function (event) {
    const file = input.files[0];
    if (!file || file.size <= threshold) return; // the form post does it
    event.preventDefault();
    button.disabled = true; // a second click would make a second image
    try {
      await uploadDirect(file);
    } catch (error) {
      reset();
      status.textContent = error.message;
    }
  });

  async function uploadDirect(file) {
    status.textContent = "Preparing upload…";
    const response = await fetch(form.dataset.directUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ filename: file.name, content_type: file.type, size: file.size }),
    });
    const grant = await readJson(response);
    if (!response.ok) {
      throw new Error((grant && grant.error) || "The upload was refused (HTTP " + response.status + ").");
    }
    const body = new FormData();
    for (const [name, value] of Object.entries(grant.fields)) body.append(name, value);
    body.append("file", file); // S3 ignores every field after the file
    await postWithProgress(grant.url, body);
    window.location.assign(grant.page_url);
  }

  // A gateway in front of the app may answer an error with HTML, not JSON.
  async function readJson(response) {
    try {
      return await response.json();
    } catch (error) {
      return null;
    }
  }

  function postWithProgress(url, body) {
    return new Promise(function (resolve, reject) {
      const request = new XMLHttpRequest();
      request.open("POST", url);
      progress.hidden = false;
      status.textContent = "Uploading…";
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) progress.value = (100 * event.loaded) / event.total;
      });
      request.addEventListener("load", function () {
        if (request.status >= 200 && request.status < 300) resolve();
        else reject(new Error("Storage refused the upload (HTTP " + request.status + ")."));
      });
      request.addEventListener("error", function () { reject(new Error("The upload failed.")); });
      request.send(body);
    });
  }
})();
