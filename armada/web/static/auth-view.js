// The login / register screen: one form, so each field label ("Email", "Password", "Display name") exists
// exactly once on the page; "Log in" ignores the display name, "Register" needs it.

import { authenticate, describeError } from './api.js';
import { el } from './dom.js';

/**
 * Render the screen into `root`; `onLoggedIn(user)` runs after a successful login or registration.
 * `notice` (e.g. "Your session has ended") is shown above the form.
 */
export function renderAuth(root, onLoggedIn, notice = null) {
  const field = (label, input, hint = null) =>
    el(
      'div',
      { class: 'field' },
      el('label', { for: input.id }, label),
      input,
      hint && el('p', { class: 'hint', id: `${input.id}-hint` }, hint),
    );

  const email = el('input', {
    id: 'auth-email',
    name: 'email',
    type: 'email',
    autocomplete: 'username',
    required: true,
  });
  const password = el('input', {
    id: 'auth-password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const displayName = el('input', {
    id: 'auth-display-name',
    name: 'display_name',
    type: 'text',
    autocomplete: 'nickname',
    'aria-describedby': 'auth-display-name-hint',
  });
  const error = el('p', { class: 'error', role: 'alert', id: 'auth-error' });
  const loginButton = el('button', { type: 'submit', value: 'login', class: 'primary' }, 'Log in');
  const registerButton = el('button', { type: 'submit', value: 'register' }, 'Register');

  const form = el(
    'form',
    { class: 'auth-form', novalidate: true, 'aria-labelledby': 'auth-title' },
    el('h1', { id: 'auth-title' }, 'Armada'),
    el('p', { class: 'tagline' }, 'Log in, or register a new account.'),
    notice && el('p', { class: 'notice', role: 'status' }, notice),
    field('Email', email),
    field('Password', password, 'At least 8 characters to register.'),
    field('Display name', displayName, 'Only needed to register.'),
    error,
    el('div', { class: 'actions' }, loginButton, registerButton),
  );
  password.setAttribute('aria-describedby', 'auth-password-hint');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    // Enter in a field submits with the first button, "Log in".
    const kind = event.submitter?.value === 'register' ? 'register' : 'login';
    const fields = { email: email.value.trim(), password: password.value };
    if (kind === 'register') fields.display_name = displayName.value.trim();
    error.textContent = '';
    for (const button of [loginButton, registerButton]) button.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const user = await authenticate(kind, fields);
      onLoggedIn(user);
    } catch (failure) {
      error.textContent = describeError(failure);
      for (const button of [loginButton, registerButton]) button.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });

  root.replaceChildren(el('main', { class: 'auth-screen' }, form));
  email.focus();
}
