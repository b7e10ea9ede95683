// Errors shown beside the fields they are about: a 422's `details` ({field: [messages]}), or a refusal that names
// one field (e.g. an invite code that is used up). Each message sits under its input, which gets aria-invalid and
// the message in its aria-describedby; editing the field clears it. What belongs to no shown field goes to the
// form's alert line, which otherwise says how many fields to correct.

import { ApiError, describeError } from './api.js';
import { el } from './dom.js';

export class FieldErrors {
  /**
   * @param {Object<string, HTMLInputElement>} inputs the form's inputs by API field name (e.g. `display_name`)
   * @param {HTMLElement} alert the form's role=alert line
   * @param {Object<string, string>} codeFields error codes that concern one field -> that field's name
   */
  constructor(inputs, alert, codeFields = {}) {
    this.inputs = inputs;
    this.alert = alert;
    this.codeFields = codeFields;
    this.shown = new Map(); // input -> its error element
    this.summary = false; // the alert only counts the fields marked
    for (const input of Object.values(inputs)) input.addEventListener('input', () => this.clear(input));
  }

  /** Show `failure`: beside its fields where it names shown ones, else in the alert line. Focuses the first field. */
  show(failure) {
    this.clearAll();
    const byField = new Map();
    const rest = [];
    if (failure instanceof ApiError && failure.status === 422 && failure.details) {
      for (const [name, messages] of Object.entries(failure.details)) {
        const texts = [messages].flat(Infinity).filter((m) => typeof m === 'string');
        const input = this.shownInput(name);
        if (input && texts.length) byField.set(input, texts);
        else rest.push(...texts.map((text) => (name === '_schema' ? text : `${name}: ${text}`)));
      }
      if (!byField.size && !rest.length) rest.push(failure.message);
    } else {
      const input = failure instanceof ApiError ? this.shownInput(this.codeFields[failure.code]) : null;
      if (input) byField.set(input, [failure.message]);
      else rest.push(describeError(failure));
    }
    for (const [input, texts] of byField) this.mark(input, texts.join(' '));
    if (rest.length) {
      this.alert.textContent = rest.join(' ');
    } else {
      this.summary = true;
      const count = byField.size;
      this.alert.textContent =
        count === 1 ? 'Please correct the field above.' : `Please correct the ${count} fields above.`;
    }
    byField.keys().next().value?.focus();
  }

  /** The input for an API field name, if the form shows it now. */
  shownInput(name) {
    const input = name ? this.inputs[name] : null;
    return input && !input.closest('[hidden]') ? input : null;
  }

  mark(input, text) {
    const message = el('p', { class: 'field-error', id: `${input.id}-error` }, text);
    input.after(message);
    input.dataset.describedBy = input.getAttribute('aria-describedby') || '';
    input.setAttribute('aria-describedby', `${message.id} ${input.dataset.describedBy}`.trim());
    input.setAttribute('aria-invalid', 'true');
    this.shown.set(input, message);
  }

  /** The user edits a field: its error no longer applies (nor a count that included it). */
  clear(input) {
    const message = this.shown.get(input);
    if (!message) return;
    message.remove();
    this.shown.delete(input);
    input.removeAttribute('aria-invalid');
    if (input.dataset.describedBy) input.setAttribute('aria-describedby', input.dataset.describedBy);
    else input.removeAttribute('aria-describedby');
    delete input.dataset.describedBy;
    if (this.summary && !this.shown.size) {
      this.alert.textContent = '';
      this.summary = false;
    }
  }

  /** Clear every field's error and the alert line (a new attempt). */
  clearAll() {
    for (const input of [...this.shown.keys()]) this.clear(input);
    this.alert.textContent = '';
    this.summary = false;
  }
}
