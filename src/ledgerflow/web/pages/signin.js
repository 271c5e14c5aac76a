// Sign in: POST /api/auth/session sets the HttpOnly session cookie and the lf_csrf cookie.

import { ApiError, api } from "../api.js";
import { h } from "../dom.js";

export function renderSignIn({ onSignedIn }) {
  const email = h("input", {
    id: "signin-email",
    name: "username",
    type: "email",
    autocomplete: "username",
    required: true,
    autofocus: true,
  });
  const password = h("input", {
    id: "signin-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const error = h("p", { class: "error-box", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "btn btn-block" }, "Sign in");
  const form = h(
    "form",
    {
      class: "signin-form",
      onsubmit: async (event) => {
        event.preventDefault();
        error.hidden = true;
        submit.disabled = true;
        submit.textContent = "Signing in…";
        try {
          const body = new URLSearchParams({ username: email.value.trim(), password: password.value });
          await api("/api/auth/session", { method: "POST", body });
          onSignedIn();
        } catch (err) {
          error.textContent =
            err instanceof ApiError && err.status === 401
              ? "Wrong email or password."
              : err.message || "Sign-in failed.";
          error.hidden = false;
          password.select();
        } finally {
          submit.disabled = false;
          submit.textContent = "Sign in";
        }
      },
    },
    h("label", { for: "signin-email" }, "Email"),
    email,
    h("label", { for: "signin-password" }, "Password"),
    password,
    error,
    submit,
  );
  const view = h(
    "div",
    { class: "center-screen signin" },
    h(
      "section",
      { class: "panel narrow", "aria-labelledby": "signin-title" },
      h(
        "div",
        { class: "brand" },
        h("img", { src: "/favicon.svg", alt: "", width: 28, height: 28 }),
        h("span", {}, "ledgerflow"),
      ),
      h("h1", { id: "signin-title" }, "Sign in"),
      h("p", { class: "muted" }, "Your books, categorized in the background."),
      form,
    ),
  );
  queueMicrotask(() => email.focus());
  return view;
}
