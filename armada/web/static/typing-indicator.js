// The typing indicator under the message log: "Bob is typing…", from the user_typing events of the open room.

import { el } from './dom.js';
import { nameOf, state } from './store.js';

const TYPING_TIMEOUT_MS = 6000; // forget a typist whose "stopped" never arrived (e.g. they went offline)

export class TypingIndicator {
  constructor() {
    this.typists = new Map(); // user id -> timeout that forgets them
    this.element = el('p', { class: 'typing-indicator', 'aria-live': 'polite' });
  }

  /** Someone started or stopped typing (our own events are not shown to us). */
  set(userId, isTyping) {
    if (userId === state.me.id) return;
    if (!isTyping) {
      this.clear(userId);
      return;
    }
    clearTimeout(this.typists.get(userId));
    this.typists.set(userId, setTimeout(() => this.clear(userId), TYPING_TIMEOUT_MS));
    this.render();
  }

  clear(userId) {
    if (!this.typists.has(userId)) return;
    clearTimeout(this.typists.get(userId));
    this.typists.delete(userId);
    this.render();
  }

  render() {
    const names = [...this.typists.keys()].map(nameOf);
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    this.element.textContent = text;
  }

  /** The pane is going away: stop the timers. */
  destroy() {
    for (const timer of this.typists.values()) clearTimeout(timer);
  }
}
