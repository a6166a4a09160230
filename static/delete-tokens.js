// The delete tokens this browser holds, one per image it uploaded, in localStorage.
// A token is handed out once (the upload's answer, or the image page right after a
// form upload) and is the only way to delete the image: losing it loses the Delete
// button, nothing else. Storage can be switched off or full; then nothing is kept.
(function () {
  "use strict";
  const PREFIX = "kitteh:delete-token:";

  function attempt(action, fallback) {
    try {
      return action();
    } catch (error) {
      return fallback;
    }
  }

  window.kittehDeleteTokens = {
    get: function (name) {
      return attempt(function () { return window.localStorage.getItem(PREFIX + name); }, null);
    },
    set: function (name, token) {
      if (!name || !token) return;
      attempt(function () { window.localStorage.setItem(PREFIX + name, token); });
    },
    forget: function (name) {
      attempt(function () { window.localStorage.removeItem(PREFIX + name); });
    },
  };
})();
