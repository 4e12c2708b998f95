// The monitor forms, helped: the kind chosen shows its form at once, with what was typed
// in the keys it also has; JSON fields say when they do not parse yet, and a form is sent
// once. Without this script the forms work the same (plain posts; the server checks every
// value), but a kind chosen shows its form empty.

const choice = document.getElementById("kind-choice");
const switcher = document.getElementById("kind-switch");
if (choice) {
  document.getElementById("kind-go").classList.add("hidden");
  const select = choice.querySelector("select");
  select.addEventListener("change", () => {
    if (!switcher) { choice.requestSubmit(); return; }
    // Posted (not in the address: a URL's password stays out of history and logs), to
    // the page of the new kind, which shows its form holding the values it can keep.
    switcher.value = select.value;
    switcher.formAction = `/monitors/new?kind=${encodeURIComponent(select.value)}`;
    switcher.form.requestSubmit(switcher);
  });
}

for (const area of document.querySelectorAll("textarea[data-json]")) {
  const hint = document.createElement("p");
  hint.className = "hint";
  hint.setAttribute("aria-live", "polite");
  area.after(hint);
  const check = () => {
    const text = area.value.trim();
    let message = "";
    if (text && (area.dataset.json === "strict" || /^[[{"]/.test(text))) {
      try { JSON.parse(text); } catch (error) { message = `Not valid JSON yet: ${error.message}`; }
    }
    hint.textContent = message;
  };
  area.addEventListener("input", check);
}

const form = document.getElementById("monitor-form");
if (form) {
  form.addEventListener("submit", (event) => {
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    document.getElementById("save").disabled = true;
  });
  // Back from the cache with the button disabled: usable again.
  window.addEventListener("pageshow", () => {
    delete form.dataset.sent;
    document.getElementById("save").disabled = false;
  });
}

const summary = document.getElementById("form-errors");
if (summary && !document.querySelector("[autofocus]")) summary.focus();
