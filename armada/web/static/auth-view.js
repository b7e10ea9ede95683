// The login / register screen: one form, so each field label ("Email", "Password", "Display name") exists
// exactly once on the page; "Log in" ignores the display name, "Register" needs it. The server's registration
// mode shapes it: "invite" adds an "Invite code" field, "closed" leaves login only. The server's objections show
// beside the fields they concern (field-errors.js).

import { authenticate, registrationMode } from './api.js';
import { el } from './dom.js';
import { FieldErrors } from './field-errors.js';

// Refusals about one field: they show beside it (when it is on the form) rather than in the alert line.
const CODE_FIELDS = { invalid_invite: 'invite_code', email_taken: 'email', email_domain_not_allowed: 'email' };

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
  const inviteCode = el('input', {
    id: 'auth-invite-code',
    name: 'invite_code',
    type: 'text',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': 'auth-invite-code-hint',
  });
  const inviteField = field('Invite code', inviteCode, 'Registering on this server needs an invite code.');
  inviteField.hidden = true;
  const displayNameField = field('Display name', displayName, 'Only needed to register.');
  const tagline = el('p', { class: 'tagline' }, 'Log in, or register a new account.');
  const closedNote = el(
    'p',
    { class: 'notice', id: 'auth-registration-closed', hidden: true },
    'Registration is closed on this server: ask an administrator for an account.',
  );
  const error = el('p', { class: 'error', role: 'alert', id: 'auth-error' });
  const loginButton = el('button', { type: 'submit', value: 'login', class: 'primary' }, 'Log in');
  const registerButton = el('button', { type: 'submit', value: 'register' }, 'Register');

  const form = el(
    'form',
    { class: 'auth-form', novalidate: true, 'aria-labelledby': 'auth-title' },
    el('h1', { id: 'auth-title' }, 'Armada'),
    tagline,
    notice && el('p', { class: 'notice', role: 'status' }, notice),
    field('Email', email),
    field('Password', password, 'At least 8 characters to register.'),
    displayNameField,
    inviteField,
    closedNote,
    error,
    el('div', { class: 'actions' }, loginButton, registerButton),
  );
  password.setAttribute('aria-describedby', 'auth-password-hint');
  const inputs = { email, password, display_name: displayName, invite_code: inviteCode };
  const fieldErrors = new FieldErrors(inputs, error, CODE_FIELDS);

  registrationMode().then((mode) => {
    inviteField.hidden = mode !== 'invite';
    const closed = mode === 'closed';
    displayNameField.hidden = closed;
    registerButton.hidden = closed;
    closedNote.hidden = !closed;
    tagline.textContent = closed ? 'Log in to your account.' : 'Log in, or register a new account.';
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    // Enter in a field submits with the first button, "Log in".
    const kind = event.submitter?.value === 'register' ? 'register' : 'login';
    const fields = { email: email.value.trim(), password: password.value };
    if (kind === 'register') {
      fields.display_name = displayName.value.trim();
      if (!inviteField.hidden) fields.invite_code = inviteCode.value.trim();
    }
    fieldErrors.clearAll();
    for (const button of [loginButton, registerButton]) button.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const user = await authenticate(kind, fields);
      onLoggedIn(user);
    } catch (failure) {
      fieldErrors.show(failure);
      for (const button of [loginButton, registerButton]) button.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });

  root.replaceChildren(el('main', { class: 'auth-screen' }, form));
  email.focus();
}
