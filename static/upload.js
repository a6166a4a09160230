// Files larger than API Gateway and Lambda take (10 MB / 6 MB) go straight from
// the browser to S3: ask the API for a presigned POST, send the file there with
// progress, then open the image's page. Smaller files use the plain form post.
(function () {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = form.querySelector("input[type=file]");
  const progress = form.querySelector("progress");
  const status = form.querySelector(".upload-status");
  const threshold = Number(form.dataset.directThreshold);

  form.addEventListener("submit", async function (event) {
    const file = input.files[0];
    if (!file || file.size <= threshold) return; // the form post does it
    event.preventDefault();
    try {
      await uploadDirect(file);
    } catch (error) {
      status.textContent = error.message;
      progress.hidden = true;
    }
  });

  async function uploadDirect(file) {
    status.textContent = "Preparing upload…";
    const response = await fetch(form.dataset.directUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ filename: file.name, content_type: file.type, size: file.size }),
    });
    const grant = await response.json();
    if (!response.ok) throw new Error(grant.error || "The upload was refused.");
    const body = new FormData();
    for (const [name, value] of Object.entries(grant.fields)) body.append(name, value);
    body.append("file", file); // S3 ignores every field after the file
    await postWithProgress(grant.url, body);
    window.location.assign(grant.page_url);
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
