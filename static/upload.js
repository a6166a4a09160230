// The upload page, with JavaScript: drop, choose or paste any number of pictures.
// Each file gets its own row: checked here first (type from its first bytes, size),
// then a presigned POST from /api/uploads, the file sent straight to S3 with a
// progress bar, then the API polled until the picture is ready (or failed), with a
// link to its page. The server still decides: these checks only answer sooner.
// Without JavaScript the form posts one file to the app.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = form.querySelector("input[type=file]");
  const zone = form.querySelector(".dropzone");
  const list = form.querySelector(".upload-list");
  const message = form.querySelector(".form-message");
  const maxBytes = Number(form.dataset.maxBytes);
  const tooLarge = form.dataset.tooLarge; // "the file is larger than the 25 MB limit"
  const formatWords = form.dataset.formatWords; // "JPEG, PNG, WebP, GIF, HEIC, HEIF or AVIF"
  const formats = JSON.parse(form.dataset.formats); // content type → file name endings
  const tokens = window.kittehDeleteTokens;
  const PARALLEL = 3;
  const queue = [];
  let running = 0;

  // Progressive enhancement: the one-file form becomes the drop zone.
  form.classList.add("enhanced");
  input.multiple = true;
  input.required = false;
  form.querySelectorAll(".js-only").forEach(function (element) { element.hidden = false; });

  input.addEventListener("change", function () {
    addFiles(input.files);
    input.value = ""; // choosing the same file again is a new upload
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (input.files.length) addFiles(input.files);
    else say("Choose a picture to upload.");
  });

  // Dropping files anywhere on the page uploads them; the zone shows where.
  let dragDepth = 0;
  function carriesFiles(event) {
    return event.dataTransfer && Array.from(event.dataTransfer.types || []).indexOf("Files") !== -1;
  }
  document.addEventListener("dragenter", function (event) {
    if (!carriesFiles(event)) return;
    dragDepth += 1;
    zone.classList.add("dragging");
  });
  document.addEventListener("dragleave", function (event) {
    if (!carriesFiles(event)) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) zone.classList.remove("dragging");
  });
  document.addEventListener("dragover", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault(); // else the browser opens the file instead
    event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("drop", function (event) {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dragDepth = 0;
    zone.classList.remove("dragging");
    addFiles(event.dataTransfer.files);
  });

  // Pasting a picture (a screenshot, an image copied in another tab) uploads it.
  document.addEventListener("paste", function (event) {
    const data = event.clipboardData;
    if (!data) return;
    const files = Array.from(data.files || []);
    if (!files.length) return; // text pasted into a field stays text
    event.preventDefault();
    addFiles(files.map(function (file, index) { return named(file, index); }));
  });

  // Clipboard images are all called "image.png"; give each a name worth showing.
  function named(file, index) {
    if (file.name && file.name !== "image.png") return file;
    const stamp = new Date().toISOString().slice(0, 19).replace(/[T:]/g, "-");
    const ending = (file.type.split("/")[1] || "png").replace("jpeg", "jpg");
    const suffix = index ? "-" + (index + 1) : "";
    return new File([file], "pasted-" + stamp + suffix + "." + ending, { type: file.type });
  }

  function say(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  function addFiles(fileList) {
    const files = Array.from(fileList || []);
    say("");
    if (!files.length) return;
    list.hidden = false;
    files.forEach(function (file) {
      const row = makeRow(file);
      list.prepend(row.element);
      check(file).then(function (problem) {
        if (problem.error) {
          row.fail(problem.error);
          return;
        }
        queue.push(function () { return upload(file, problem.contentType, row); });
        pump();
      });
    });
  }

  function pump() {
    while (running < PARALLEL && queue.length) {
      const next = queue.shift();
      running += 1;
      next().finally(function () {
        running -= 1;
        pump();
      });
    }
  }

  // Checks -------------------------------------------------------------------

  // The first bytes say what a file is, whatever its name or declared type.
  const SIGNATURES = [
    { type: "image/jpeg", test: function (b) { return b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff; } },
    { type: "image/png", test: function (b) { return ascii(b, 1, 4) === "PNG" && b[0] === 0x89; } },
    { type: "image/gif", test: function (b) { return ascii(b, 0, 4) === "GIF8"; } },
    { type: "image/webp", test: function (b) { return ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 12) === "WEBP"; } },
    { type: "image/avif", test: function (b) { return ascii(b, 4, 8) === "ftyp" && /^avi[fs]$/.test(ascii(b, 8, 12)); } },
    { type: "image/heic", test: function (b) { return ascii(b, 4, 8) === "ftyp" && /^(heic|heix|heim|heis|hevc|hevx)$/.test(ascii(b, 8, 12)); } },
    { type: "image/heif", test: function (b) { return ascii(b, 4, 8) === "ftyp" && /^(mif1|msf1)$/.test(ascii(b, 8, 12)); } },
  ];
  // Types the signatures above can vouch for: a ".jpg" whose bytes are not a JPEG's is
  // not an image. Other types the server takes are left for the server to judge.
  const RECOGNISED = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);

  function ascii(bytes, start, end) {
    return String.fromCharCode.apply(null, Array.from(bytes.slice(start, end)));
  }

  async function sniff(file) {
    const bytes = new Uint8Array(await file.slice(0, 16).arrayBuffer());
    const found = SIGNATURES.find(function (signature) { return signature.test(bytes); });
    return found ? found.type : null;
  }

  function typeFromName(name) {
    const lower = (name || "").toLowerCase();
    return Object.keys(formats).find(function (type) {
      return formats[type].some(function (ending) { return lower.endsWith(ending); });
    }) || "";
  }

  async function check(file) {
    if (file.size === 0) return { error: "the file is empty" };
    if (file.size > maxBytes) return { error: tooLarge };
    let sniffed = null;
    try {
      sniffed = await sniff(file);
    } catch (error) {
      return { error: "the file could not be read" };
    }
    const declared = (file.type || typeFromName(file.name)).toLowerCase();
    const type = sniffed || declared;
    if (!sniffed && (RECOGNISED.has(declared) || !declared)) {
      return { error: "the file is not an image" };
    }
    if (!(type in formats)) {
      return { error: "this kind of file is not accepted; use " + formatWords };
    }
    return { contentType: type };
  }

  // Uploading ----------------------------------------------------------------

  async function upload(file, contentType, row) {
    let grant;
    try {
      const response = await fetch(form.dataset.grantUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ filename: file.name, content_type: contentType, size: file.size }),
      });
      grant = await readJson(response);
      if (!response.ok) {
        row.fail((grant && grant.error) || "the upload was refused (HTTP " + response.status + ")");
        return;
      }
    } catch (error) {
      row.fail("the upload could not start: check your connection and try again");
      return;
    }
    tokens.set(grant.name, grant.delete_token);
    row.named(grant);

    const body = new FormData();
    Object.keys(grant.fields).forEach(function (field) { body.append(field, grant.fields[field]); });
    body.append("file", file); // S3 ignores every field after the file
    try {
      await postWithProgress(grant.url, body, row);
    } catch (error) {
      row.fail(error.message);
      forgetGrant(grant); // no picture will come: the name it reserved goes too
      return;
    }
    row.processing();
    await waitUntilSettled(grant, row);
  }

  // A gateway in front of the app may answer an error with HTML, not JSON.
  async function readJson(response) {
    try {
      return await response.json();
    } catch (error) {
      return null;
    }
  }

  function postWithProgress(url, body, row) {
    return new Promise(function (resolve, reject) {
      const request = new XMLHttpRequest();
      request.open("POST", url);
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) row.progress(event.loaded / event.total);
      });
      request.addEventListener("load", function () {
        if (request.status >= 200 && request.status < 300) {
          row.progress(1);
          resolve();
        } else {
          reject(new Error(storageRefusal(request)));
        }
      });
      request.addEventListener("error", function () {
        reject(new Error("the upload was cut off: check your connection and try again"));
      });
      request.send(body);
    });
  }

  // S3 answers a refused POST with an XML error; EntityTooLarge is the size limit.
  function storageRefusal(request) {
    const code = ((request.responseText || "").match(/<Code>([^<]+)<\/Code>/) || [])[1];
    if (code === "EntityTooLarge") return tooLarge;
    if (code === "AccessDenied" && /expired/i.test(request.responseText)) {
      return "the upload link expired before the file was sent; try again";
    }
    return "storage refused the upload (HTTP " + request.status + (code ? ", " + code : "") + ")";
  }

  function forgetGrant(grant) {
    fetch(resourceUrl(grant), {
      method: "DELETE",
      headers: { Authorization: "Bearer " + grant.delete_token },
    }).then(function (response) {
      if (response.status === 204 || response.status === 404) tokens.forget(grant.name);
    }).catch(function () { /* the maintenance function settles it later */ });
  }

  function resourceUrl(grant) {
    return form.dataset.apiUrl + "/" + encodeURIComponent(grant.name);
  }

  async function waitUntilSettled(grant, row) {
    const giveUpAt = Date.now() + 120000;
    let delay = 400;
    while (Date.now() < giveUpAt) {
      await new Promise(function (resolve) { setTimeout(resolve, delay); });
      delay = Math.min(delay * 1.5, 4000);
      try {
        const response = await fetch(resourceUrl(grant), { headers: { Accept: "application/json" } });
        if (!response.ok) continue;
        const image = await response.json();
        if (image.status === "ready") { row.ready(image); return; }
        if (image.status === "failed") {
          row.fail(image.error || "the picture could not be processed", true);
          return;
        }
      } catch (error) { /* a network blip: ask again */ }
    }
    row.slow();
  }

  // Rows ---------------------------------------------------------------------

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function sentence(text) {
    const trimmed = String(text || "").trim();
    if (!trimmed) return "";
    const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
    return /[.!?]$/.test(capital) ? capital : capital + ".";
  }

  function formatBytes(count) {
    if (count < 1024) return count + " bytes";
    let size = count / 1024;
    let unit = "KB";
    ["MB", "GB"].forEach(function (larger) {
      if (size >= 1024) { size /= 1024; unit = larger; }
    });
    return size.toFixed(1).replace(/\.0$/, "") + " " + unit;
  }

  function makeRow(file) {
    const li = element("li", "upload-row");
    li.dataset.state = "checking";
    const thumb = element("span", "row-thumb");
    thumb.setAttribute("aria-hidden", "true");
    const main = element("div", "row-main");
    const title = element("p", "row-title");
    title.append(element("span", "row-file", file.name || "pasted picture"), " ",
      element("span", "row-size", formatBytes(file.size)));
    const bar = element("div", "row-progress");
    const progress = element("progress");
    progress.max = 100;
    progress.value = 0;
    progress.setAttribute("aria-label", "Upload of " + (file.name || "the pasted picture"));
    const percent = element("span", "row-percent", "0%");
    bar.append(progress, percent);
    const status = element("p", "row-status", "Checking…");
    status.setAttribute("aria-live", "polite"); // each file's news, not every percent
    const link = element("a", "row-link");
    link.hidden = true;
    main.append(title, bar, status, link);
    li.append(thumb, main);

    function state(name, text) {
      li.dataset.state = name;
      status.textContent = text;
    }

    return {
      element: li,
      named: function (grant) {
        state("uploading", "Uploading…");
        link.href = grant.page_url;
        link.textContent = grant.name;
        link.hidden = false;
      },
      progress: function (fraction) {
        const value = Math.round(100 * fraction);
        progress.value = value;
        percent.textContent = value + "%";
      },
      processing: function () {
        state("processing", "Uploaded. Making the three sizes…");
      },
      ready: function (image) {
        state("ready", "Ready.");
        const tiny = image.variants && image.variants.tiny;
        if (tiny) {
          const picture = element("img");
          picture.src = tiny.url;
          picture.alt = "";
          picture.width = tiny.width;
          picture.height = tiny.height;
          thumb.append(picture);
        }
      },
      // The link stays only when the image's page exists to say what happened.
      fail: function (reason, keepLink) {
        state("failed", sentence(reason));
        bar.hidden = true;
        link.hidden = !keepLink;
      },
      slow: function () {
        state("processing", "Still processing; its page will show it when it is ready.");
      },
    };
  }
})();
