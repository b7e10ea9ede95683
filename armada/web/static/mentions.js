// Mentions: the `@` picker of a composer (a listbox named "Mention" offering the room's members), and the
// highlighting of "@Display Name" in a message for the ids in its `mentions`, still text-only (no HTML parsed).

import { el, uniqueId } from './dom.js';
import { nameOf, state } from './store.js';

const MAX_OPTIONS = 8;
// An `@` at the start or after a space, then what has been typed of a name so far (no spaces, no second `@`).
const TYPED_MENTION = /(?:^|\s)@([^\s@]{0,40})$/;

/**
 * `content` as text nodes, with each "@Name" of a mentioned member (and "@room" for mentions_room) in a <mark>;
 * a mention of the viewer is marked more strongly.
 */
export function mentionText(message) {
  const content = message.content || '';
  const tokens = new Map(); // "@Name" -> is it the viewer
  for (const id of message.mentions || []) {
    if (state.names.has(id)) tokens.set(`@${nameOf(id)}`, id === state.me.id || tokens.get(`@${nameOf(id)}`));
  }
  if (message.mentions_room) tokens.set('@room', message.sender_id !== state.me.id);
  if (!tokens.size) return [content];
  const ordered = [...tokens.keys()].sort((a, b) => b.length - a.length); // "@Ann Lee" before "@Ann"
  const parts = [];
  let rest = content;
  for (;;) {
    let best = null;
    for (const token of ordered) {
      const at = rest.indexOf(token);
      if (at >= 0 && (!best || at < best.at)) best = { at, token };
    }
    if (!best) break;
    if (best.at) parts.push(rest.slice(0, best.at));
    const mine = tokens.get(best.token);
    parts.push(el('mark', { class: mine ? 'mention mention-me' : 'mention' }, best.token));
    rest = rest.slice(best.at + best.token.length);
  }
  if (rest) parts.push(rest);
  return parts;
}

/**
 * The `@` picker of one textarea. `members()` lists who may be mentioned ({user_id, display_name}, not us).
 * Arrow keys move, Enter or Tab choose, Escape closes; the chosen member is written as "@Display Name" and
 * remembered, and `idsIn(text)` gives the ids of those still written in the text when it is sent.
 */
export class MentionPicker {
  constructor(textarea, members) {
    this.textarea = textarea;
    this.members = members;
    this.chosen = new Map(); // user id -> display name
    this.options = []; // the members offered now
    this.active = 0;
    this.start = -1; // where the typed `@` is
    const id = uniqueId('mention');
    this.element = el('ul', { class: 'mention-list', role: 'listbox', 'aria-label': 'Mention', id });
    this.element.hidden = true;
    textarea.setAttribute('aria-autocomplete', 'list');
    textarea.setAttribute('aria-controls', this.element.id);
    // Closed a moment after a blur, and only if focus has not come back by then: a click elsewhere that returns
    // focus at once (a message's "Edit") must not close the list opened since, or the next Enter would send.
    textarea.addEventListener('blur', () => {
      clearTimeout(this.blurTimer);
      this.blurTimer = setTimeout(() => {
        if (document.activeElement !== this.textarea) this.close();
      }, 150);
    });
    textarea.addEventListener('click', () => this.update());
  }

  get open() {
    return !this.element.hidden;
  }

  /** Look at what is typed before the caret: an `@` being typed opens (or narrows) the list. */
  update() {
    const before = this.textarea.value.slice(0, this.textarea.selectionStart);
    const match = TYPED_MENTION.exec(before);
    if (!match) {
      this.close();
      return;
    }
    const typed = match[1].toLowerCase();
    this.start = before.length - match[1].length - 1;
    this.options = this.members()
      .filter((m) => m.user_id !== state.me.id)
      .filter((m) => m.display_name.toLowerCase().split(/\s+/).some((word) => word.startsWith(typed)))
      .slice(0, MAX_OPTIONS);
    if (!this.options.length) {
      this.close();
      return;
    }
    this.active = Math.min(this.active, this.options.length - 1);
    this.render();
  }

  render() {
    this.element.replaceChildren(
      ...this.options.map((member, index) => {
        const selected = index === this.active ? 'true' : 'false';
        const option = el(
          'li',
          { role: 'option', id: `${this.element.id}-${index}`, 'aria-selected': selected },
          member.display_name,
        );
        option.addEventListener('mousedown', (event) => event.preventDefault()); // keep focus in the textarea
        option.addEventListener('click', () => this.choose(index));
        return option;
      }),
    );
    this.element.hidden = false;
    this.textarea.setAttribute('aria-activedescendant', `${this.element.id}-${this.active}`);
  }

  close() {
    if (!this.open) return;
    this.element.hidden = true;
    this.element.replaceChildren();
    this.textarea.removeAttribute('aria-activedescendant');
    this.active = 0;
  }

  /** A key pressed in the textarea; true when the picker used it (the composer must then ignore it). */
  handleKey(event) {
    if (!this.open || event.isComposing) return false;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      const step = event.key === 'ArrowDown' ? 1 : -1;
      this.active = (this.active + step + this.options.length) % this.options.length;
      this.render();
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      this.choose(this.active);
    } else if (event.key === 'Escape') {
      this.close();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  /** Write "@Display Name " in place of what was typed after the `@`. */
  choose(index) {
    const member = this.options[index];
    if (!member) return;
    const value = this.textarea.value;
    const caret = this.textarea.selectionStart;
    const inserted = `@${member.display_name} `;
    this.textarea.value = value.slice(0, this.start) + inserted + value.slice(caret);
    const after = this.start + inserted.length;
    this.textarea.setSelectionRange(after, after);
    this.chosen.set(member.user_id, member.display_name);
    this.close();
    this.textarea.focus();
    this.textarea.dispatchEvent(new Event('input', { bubbles: true })); // autosize, typing
  }

  /** The ids of chosen members whose "@Display Name" is still in `text`. */
  idsIn(text) {
    return [...this.chosen].filter(([, name]) => text.includes(`@${name}`)).map(([id]) => id);
  }

  /** Start editing a message: its mentions of current members count as chosen. */
  seed(message) {
    this.chosen.clear();
    const current = new Set(this.members().map((m) => m.user_id));
    for (const id of message.mentions || []) if (current.has(id)) this.chosen.set(id, nameOf(id));
  }

  reset() {
    this.chosen.clear();
    this.close();
  }
}
