// Beseda — what every page does with scripts (none of it is needed to use the site):
// times shown in the viewer's own locale and time zone, and username suggestions on the
// admin's add-member field. No inline scripts anywhere: the Content-Security-Policy
// allows only files served from /static/.
(function () {
  "use strict";

  const lang = document.documentElement.lang || "ru";
  const timeFmt = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
  const dayFmt = new Intl.DateTimeFormat(lang, { day: "numeric", month: "short" });
  const dateFmt = new Intl.DateTimeFormat(lang, { day: "numeric", month: "short", year: "numeric" });
  const longFmt = new Intl.DateTimeFormat(lang, { dateStyle: "long", timeStyle: "short" });

  function sameDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }

  // Rewrites a <time datetime data-format> for the viewer: "time" (a message: the time of
  // day, with the date when it is not today), "relative" (a list: the time today, else the
  // date), "date".
  function formatTime(el) {
    const when = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) return;
    const now = new Date();
    const thisYear = when.getFullYear() === now.getFullYear();
    const day = thisYear ? dayFmt.format(when) : dateFmt.format(when);
    switch (el.dataset.format) {
      case "time":
        el.textContent = sameDay(when, now) ? timeFmt.format(when) : day + ", " + timeFmt.format(when);
        break;
      case "relative":
        el.textContent = sameDay(when, now) ? timeFmt.format(when) : day;
        break;
      case "date":
        el.textContent = dateFmt.format(when);
        break;
      default:
        return;
    }
    el.title = longFmt.format(when);
  }

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // Every script request carries the session's CSRF token, like every form.
  function api(path) {
    return fetch(path, {
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() },
    });
  }

  // The admin's add-member field: suggestions from /api/users/?q= as they type, on top
  // of the ones the page came with.
  function suggest(input) {
    const list = document.getElementById(input.getAttribute("list"));
    if (!list) return;
    let timer = 0;
    let asked = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      const q = input.value.trim().replace(/^@/, "");
      if (q.length < 1 || q === asked) return;
      timer = setTimeout(function () {
        asked = q;
        api("/api/users/?limit=8&q=" + encodeURIComponent(q))
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (users) {
            if (!Array.isArray(users) || asked !== q) return;
            const options = users
              .filter(function (u) { return u.is_active; })
              .map(function (u) {
                const option = document.createElement("option");
                option.value = u.username;
                const name = ((u.first_name || "") + " " + (u.last_name || "")).trim();
                option.textContent = name || u.username;
                return option;
              });
            if (options.length) list.replaceChildren.apply(list, options);
          })
          .catch(function () { /* keep the page's own suggestions */ });
      }, 180);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("time[data-format]").forEach(formatTime);
    document.querySelectorAll('input[data-suggest="users"]').forEach(suggest);
  });

  window.beseda = { formatTime: formatTime, csrfToken: csrfToken, api: api };
})();
